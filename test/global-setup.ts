/** Run once by `npm test` before any test file: the corpus is fetched once, not per file. */
import { corpusTarballs } from "./helpers/corpus.ts";

export async function globalSetup(): Promise<void> {
  await corpusTarballs();
}
