/** The web interface: pages about the registry, served by every copy of it. */
export { prefersHtml } from "./accept.ts";
export { WebError, type WebErrorCode } from "./errors.ts";
export { registerWeb, type WebOptions } from "./routes.ts";
export type { ServerRole, VersionFiles, WebFile, WebSource } from "./source.ts";
