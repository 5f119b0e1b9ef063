/** The verified reader the client commands (install, peer) read the registry through. */
import { join } from "node:path";
import { VerifyingReader } from "../client/verifying-reader.ts";
import { parseVerifierKey } from "../log/index.ts";
import type { WitnessPolicy } from "../log/policy.ts";

/** The sources a client command reads the registry from. */
export interface ReaderFlags {
  mirror?: string[];
  mirrorList: boolean;
  gateway: string[];
  timeout: number;
}

/** The verified reader of a client command (install, peer), its checkpoint kept in `home`. */
export function openClientReader(
  origin: string,
  key: string,
  home: string,
  flags: ReaderFlags,
  command: string,
  options: { syncCacheReads?: boolean; policy?: WitnessPolicy } = {},
): Promise<VerifyingReader> {
  return VerifyingReader.open({
    ...options,
    origin,
    verifier: parseVerifierKey(key),
    dataDir: join(home, "reader"),
    mirrors: flags.mirror ?? [],
    useMirrorList: flags.mirrorList,
    gateways: flags.gateway,
    timeoutMs: flags.timeout,
    cacheTarballs: false,
    // Each source that failed a check is named; the command goes on with the next one.
    onProblem: (err) => process.stderr.write(`${command}: ${err.message}\n`),
  });
}
