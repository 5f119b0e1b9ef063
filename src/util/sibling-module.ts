/**
 * The URL of another module in the same folder as the caller, for APIs that
 * take a file rather than an import specifier (a Worker's script). It keeps
 * the caller's extension: `.ts` when Node runs the sources, `.js` in the
 * built package, where the bundler rewrites imports but not URLs. There the
 * caller is whichever chunk its code went into, so scripts/build.ts puts
 * every chunk and each Worker's script, by its own name, in one folder.
 */
import { extname } from "node:path";

export function siblingModule(callerUrl: string, name: string): URL {
  return new URL(`./${name}${extname(new URL(callerUrl).pathname)}`, callerUrl);
}
