/**
 * `cairn key rotate` and `cairn key roots`: append a key rotation to the
 * origin's log (stop cairn serve first, as for import and rebuild).
 */
import { readFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import { MAX_ROOT_KEYS } from "../log/key-rotation.ts";
import { type NoteSigner, parseSignerKey, parseVerifierKey } from "../log/note.ts";
import { loadConfig } from "../origin/config.ts";
import { type RotateOptions, rotateKey } from "../origin/key-rotation.ts";

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/** A duration such as `7d`, `12h`, `30m`, `45s` or `0`, in milliseconds. */
export function parseWindow(text: string): number {
  const match = /^(0|[1-9]\d{0,5})([smhd]?)$/.exec(text);
  if (!match || (match[1] !== "0" && match[2] === ""))
    throw new InvalidArgumentError(`${JSON.stringify(text)} is not a duration like 7d, 12h or 0`);
  return Number(match[1]) * (UNITS[match[2]] ?? 0);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function rootSigners(files: readonly string[]): Promise<NoteSigner[]> {
  return Promise.all(
    files.map(async (file) => parseSignerKey((await readFile(file, "utf8")).trim())),
  );
}

interface KeyFlags {
  data?: string;
  config?: string;
  rootKey: string[];
}

async function rotate(flags: KeyFlags, options: Partial<RotateOptions>): Promise<void> {
  const config = await loadConfig({ data: flags.data }, flags.config);
  const result = await rotateKey({
    dataDir: config.data,
    originName: config.origin,
    durable: config.durable,
    windowMs: 0,
    ...options,
    rootSigners: await rootSigners(flags.rootKey),
  });
  process.stdout.write(
    [
      `rotation ${result.sequence} appended at log index ${result.index}`,
      `verifier key: ${result.verifierKey}`,
      options.keepKey ? "" : `the old key signs beside it until ${result.oldUntil}`,
      "",
    ]
      .filter((line, i, all) => line !== "" || i === all.length - 1)
      .join("\n"),
  );
}

export function registerKeySubcommands(key: Command): void {
  key
    .command("rotate")
    .description(
      "generate the next checkpoint key and append its rotation to the log (stop cairn serve first)",
    )
    .option(
      "--window <duration>",
      "how long the old key signs beside the new one",
      parseWindow,
      parseWindow("7d"),
    )
    .option(
      "--root-key <file>",
      "an offline root signer key that signs the rotation (repeatable)",
      collect,
      [],
    )
    .action(async (flags: { window: number; rootKey: string[] }, command: Command) => {
      const all = command.optsWithGlobals() as KeyFlags & { window: number };
      await rotate({ ...all, rootKey: flags.rootKey }, { windowMs: flags.window });
    });

  key
    .command("roots")
    .description(
      "set the root keys (k of them must sign the next rotation) through a rotation note (stop cairn serve first)",
    )
    .argument("<vkeys...>", "verifier keys of the root set")
    .requiredOption("--threshold <k>", "how many root keys must sign a rotation", (text) => {
      if (!/^[1-9]\d{0,1}$/.test(text))
        throw new InvalidArgumentError(`${text} is not a threshold`);
      return Number(text);
    })
    .option(
      "--root-key <file>",
      "an offline root signer key of the current set (repeatable)",
      collect,
      [],
    )
    .action(
      async (
        vkeys: string[],
        flags: { threshold: number; rootKey: string[] },
        command: Command,
      ) => {
        for (const vkey of vkeys) parseVerifierKey(vkey);
        if (new Set(vkeys).size !== vkeys.length || vkeys.length > MAX_ROOT_KEYS)
          throw new InvalidArgumentError(`give 1 to ${MAX_ROOT_KEYS} distinct root keys`);
        if (flags.threshold > vkeys.length)
          throw new InvalidArgumentError(`threshold ${flags.threshold} of ${vkeys.length} keys`);
        const all = command.optsWithGlobals() as KeyFlags;
        await rotate(
          { ...all, rootKey: flags.rootKey },
          { keepKey: true, roots: { threshold: flags.threshold, keys: vkeys } },
        );
      },
    );
}
