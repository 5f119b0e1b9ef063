/**
 * The corpus holds only this machine's binary of unrs-resolver; its other
 * platforms' are optional dependencies npm locks (and skips) anyway, and
 * without them `npm ci` calls any lockfile out of sync. Published here as
 * stand-ins for no machine's cpu, for the tests and the install benchmark.
 */
import { readFile } from "node:fs/promises";
import { CORPUS_APP_LOCKFILE } from "./corpus.ts";
import { publishBody } from "./publish-body.ts";
import { putJson, signUp } from "./registry-client.ts";
import { packageJson, rawTgz } from "./tar.ts";

export async function publishOtherPlatformBindings(url: string): Promise<void> {
  const lock = JSON.parse(await readFile(CORPUS_APP_LOCKFILE, "utf8")) as {
    packages: Record<string, { optionalDependencies?: Record<string, string> }>;
  };
  const held = new Set(
    Object.keys(lock.packages).map((l) => l.slice(l.lastIndexOf("node_modules/") + 13)),
  );
  const token = await signUp(url, "platforms", "platforms-password");
  for (const entry of Object.values(lock.packages))
    for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
      if (held.has(name)) continue;
      held.add(name);
      const manifest = { name, version, cpu: ["none"] };
      const tgz = rawTgz([packageJson(name, version, { cpu: ["none"] })]);
      const res = await putJson(
        url,
        `/${name.replace("/", "%2f")}`,
        token,
        publishBody(manifest, tgz),
      );
      if (res.status !== 201)
        throw new Error(`publishing ${name}: ${res.status} ${await res.text()}`);
    }
}
