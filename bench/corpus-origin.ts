/**
 * The corpus as the installer benchmarks serve it: taken in with `cairn
 * import`, then served by `cairn serve --no-durable` with the stubs of the
 * other platforms' optional bindings published (as the e2e test does).
 */
import { join } from "node:path";
import { corpusTarballs } from "../test/helpers/corpus.ts";
import { publishOtherPlatformBindings } from "../test/helpers/platform-bindings.ts";
import { type Proc, REPO_DIR, runToEnd, startProcess, waitForOutput } from "./processes.ts";

/** Imports the corpus's tarballs (in `tarballs`) into `<work>/origin`; returns that folder. */
export async function importCorpus(work: string, tarballs: string): Promise<string> {
  const dataDir = join(work, "origin");
  await runToEnd(
    "cairn import",
    process.execPath,
    [join(REPO_DIR, "bin", "cairn.ts"), "import", tarballs, "--user", "bench", "--data", dataDir],
    { logFile: join(work, "import.log") },
  );
  return dataDir;
}

export interface CorpusOrigin {
  readonly proc: Proc;
  readonly url: string;
  /** The origin's verifier key. */
  readonly key: string;
}

/** Imports the corpus and serves it from `work`; the caller stops `proc`. */
export async function startCorpusOrigin(work: string, tarballs?: string): Promise<CorpusOrigin> {
  const dataDir = await importCorpus(work, tarballs ?? (await corpusTarballs()));
  const proc = startProcess(
    "cairn serve",
    process.execPath,
    [join(REPO_DIR, "bin", "cairn.ts"), "serve", "--data", dataDir, "--port", "0", "--no-durable"],
    { logFile: join(work, "origin.log") },
  );
  const url = (await waitForOutput(proc, /listening on (\S+)/))[1];
  const key = (await waitForOutput(proc, /verifier key: (\S+)/))[1];
  await publishOtherPlatformBindings(url);
  return { proc, url, key };
}
