/** Shared pieces of the web interface's tests. */
import { type RunningProxy, startProxy } from "../../src/proxy/server.ts";
import type { TestOrigin } from "./origin.ts";

/** The Accept header Chromium sends for a page. */
export const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/** A proxy of `origin` on loopback that reads package by package (no whole state), its data in `dataDir`. */
export function sparseProxy(origin: TestOrigin, dataDir: string): Promise<RunningProxy> {
  return startProxy({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    origin: origin.url,
    verifier: origin.key.verifier,
    useMirrorList: false,
  });
}
