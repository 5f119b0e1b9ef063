/**
 * Text that no compressor shrinks much on its own (words from a seeded
 * generator), so that what a delta saves against it shows.
 */
export function noiseText(seed: number, bytes: number): string {
  let x = seed;
  const words: string[] = [];
  let length = 0;
  while (length < bytes) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const word = `v${x.toString(36)}`;
    words.push(word);
    length += word.length + 1;
  }
  return `${words.join("\n")}\n`;
}
