/** A mirror of a test origin, synced once, closed when disposed; or served over HTTP. */
import { Mirror } from "../../src/mirror/mirror.ts";
import { type RunningMirror, startMirror } from "../../src/mirror/server.ts";
import type { TestOrigin } from "./origin.ts";

/** A mirror of `origin` with data in `dir`, synced once. */
export async function syncedMirror(origin: TestOrigin, dir: string): Promise<Mirror & Disposable> {
  const mirror = await Mirror.open({
    from: origin.url,
    verifier: origin.key.verifier,
    dataDir: dir,
    durable: false,
  });
  await mirror.sync();
  return Object.assign(mirror, { [Symbol.dispose]: () => mirror.close() });
}

/** A mirror server of `origin` with data in `dir`, after its first sync, closed when disposed. */
export async function servedMirror(
  origin: TestOrigin,
  dir: string,
): Promise<RunningMirror & AsyncDisposable> {
  const running = await startMirror({
    from: origin.url,
    verifier: origin.key.verifier,
    dataDir: dir,
    durable: false,
    host: "127.0.0.1",
    port: 0,
    intervalMs: 0,
  });
  await running.firstSync;
  return Object.assign(running, { [Symbol.asyncDispose]: () => running.close() });
}
