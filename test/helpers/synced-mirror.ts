/** A mirror of a test origin, synced once, closed when disposed. */
import { Mirror } from "../../src/mirror/mirror.ts";
import { type RunningMirror, startMirror } from "../../src/mirror/server.ts";
import { tempDir } from "./log.ts";
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

/** A mirror server of `origin` on loopback (no sync timer), its first sync done; removed when disposed. */
export async function servedMirror(origin: TestOrigin): Promise<RunningMirror & AsyncDisposable> {
  const dir = await tempDir("cairn-served-mirror-");
  try {
    const mirror = await startMirror({
      from: origin.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
      host: "127.0.0.1",
      port: 0,
      intervalMs: 0,
    });
    await mirror.firstSync;
    return Object.assign(mirror, {
      [Symbol.asyncDispose]: async () => {
        await mirror.close();
        await dir[Symbol.asyncDispose]();
      },
    });
  } catch (err) {
    await dir[Symbol.asyncDispose]();
    throw err;
  }
}
