/** Stream helpers. */

/**
 * A pipeline stage that passes chunks on unchanged and shows each to `see`
 * first (to hash, count or cap them; `see` may throw to stop the pipeline).
 */
export function tap<T extends Uint8Array>(see: (chunk: T) => void) {
  return async function* (chunks: AsyncIterable<T>): AsyncGenerator<T> {
    for await (const chunk of chunks) {
      see(chunk);
      yield chunk;
    }
  };
}
