/** `cairn log show` and `cairn log verify`: look at and audit a static log. */
import type { Command } from "commander";
import {
  encodeBase64,
  LogError,
  MAX_CHECKPOINT_BYTES,
  type NoteVerifier,
  openSource,
  parseVerifierKey,
  readCheckpoint,
  readUnverifiedCheckpoint,
  verifyLog,
} from "../log/index.ts";
import { describeCosignatures, openCheckpointWithPolicy } from "../log/policy.ts";
import { LogKeyChain } from "./log-key-chain.ts";
import { parseConcurrency } from "./options.ts";
import { progressBar } from "./output.ts";
import {
  CLIENT_MAX_AGE,
  formatCosignature,
  type WitnessFlags,
  witnessOptions,
  witnessPolicyOf,
} from "./witness-options.ts";

function hex8(id: number): string {
  return id.toString(16).padStart(8, "0");
}

export function registerLogCommands(program: Command): void {
  const log = program
    .command("log")
    .description("look at and audit a transparency log served as static files (C2SP tlog-tiles)");

  witnessOptions(log.command("show"))
    .description("print a log's checkpoint: origin, size, root hash and who signed it")
    .argument(
      "<dir-or-url>",
      "the log's directory, or its base URL (the checkpoint is <base>/checkpoint)",
    )
    .option("--key <verifier-key>", "check the signature against this verifier key")
    .action(async (location: string, opts: { key?: string } & WitnessFlags) => {
      const source = openSource(location);
      const raw = await source.read("checkpoint", MAX_CHECKPOINT_BYTES);
      const cp = readUnverifiedCheckpoint(raw);
      const lines = [
        `origin     ${cp.origin}`,
        `size       ${cp.size}`,
        `root       ${encodeBase64(cp.root)}`,
        `root (hex) ${Buffer.from(cp.root).toString("hex")}`,
      ];
      for (const ext of cp.extensions) lines.push(`extension  ${ext}`);
      let verifiedNames = new Set<string>();
      // The keys the chain of rotations served beside the checkpoint leads to from the given one.
      const logKeys = opts.key
        ? (await LogKeyChain.read(source, opts.key)).verifiers(Date.now())
        : [];
      if (opts.key) {
        const verified = await readCheckpoint(source, logKeys);
        verifiedNames = new Set(verified.note.verified.map((s) => `${s.name}+${hex8(s.keyId)}`));
      }
      const policy = witnessPolicyOf(opts, CLIENT_MAX_AGE);
      for (const sig of cp.signatures) {
        const id = `${sig.name}+${hex8(sig.keyId)}`;
        // With the log's key, the other lines are reported as cosignatures below.
        if (opts.key && !verifiedNames.has(id)) continue;
        lines.push(`signed by  ${id}  ${verifiedNames.has(id) ? "verified" : "not checked"}`);
      }
      if (opts.key)
        for (const c of describeCosignatures(raw, logKeys, policy?.witnesses))
          lines.push(formatCosignature(c));
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  witnessOptions(log.command("verify"))
    .description(
      "check a log's signature and that every tile and entry bundle hashes up to its root",
    )
    .argument("<dir-or-url>", "the log's directory, or its base URL")
    .requiredOption("--key <verifier-key>", "the log's verifier key (name+keyid+base64)")
    .option("--origin <origin>", "require this checkpoint origin line (default: the key's name)")
    .option("--concurrency <n>", "files fetched at once", parseConcurrency, 8)
    .action(
      async (
        location: string,
        opts: { key: string; origin?: string; concurrency: number } & WitnessFlags,
      ) => {
        const pinned = parseVerifierKey(opts.key);
        const policy = witnessPolicyOf(opts, CLIENT_MAX_AGE);
        const source = openSource(location);
        let bar: ReturnType<typeof progressBar> | undefined;
        try {
          const chain = await LogKeyChain.read(source, opts.key);
          const verifiers = chain.verifiers(Date.now());
          const raw = await source.read("checkpoint", MAX_CHECKPOINT_BYTES);
          const cosignatures = describeCosignatures(raw, verifiers, policy?.witnesses);
          for (const c of cosignatures) process.stdout.write(`${formatCosignature(c)}\n`);
          const witnessed = policy
            ? openCheckpointWithPolicy(raw, {
                ...policy,
                logKeys: verifiers,
                origin: opts.origin ?? pinned.name,
              })
            : undefined;
          const result = await verifyLog(source, verifiers, {
            origin: opts.origin ?? pinned.name,
            concurrency: opts.concurrency,
            onEntries: chain.onEntries,
            onProgress: (done, total) => {
              bar ??= progressBar("verifying", total);
              bar.update(done, total);
            },
          });
          bar?.stop();
          const rotations = chain.finish();
          const cp = result.checkpoint;
          if (witnessed && witnessed.size !== cp.size)
            throw new LogError(
              "conflict",
              `the checkpoint changed from size ${witnessed.size} to ${cp.size} during the check: run it again`,
            );
          const verifier = verifiers.find((v) =>
            cp.note.verified.some((s) => s.keyId === v.keyId && s.name === v.name),
          ) as NoteVerifier;
          process.stdout.write(
            `ok: ${cp.origin} size ${cp.size}, root ${encodeBase64(cp.root)}\n` +
              `    signature by ${verifier.name}+${hex8(verifier.keyId)} verified; ` +
              `${result.bundles} entry bundles and ${result.tiles} tiles hash up to the root\n` +
              (witnessed
                ? `    cosigned by ${policy?.threshold} of the trusted witnesses at ${new Date(witnessed.cosignedAt * 1000).toISOString()} or later\n`
                : "") +
              (rotations > 0
                ? `    key chain: ${rotations} rotations from the pinned key, each checked in the log\n`
                : ""),
          );
        } catch (err) {
          bar?.stop();
          if (err instanceof LogError)
            throw new LogError(err.code, `${source.name}: ${err.message}`, { cause: err });
          throw err;
        }
      },
    );
}
