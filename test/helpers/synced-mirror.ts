/** A mirror of a test origin, synced once, closed when disposed. */
import { Mirror } from "../../src/mirror/mirror.ts";
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
