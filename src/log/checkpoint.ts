/**
 * C2SP tlog-checkpoint v1.0.0: the body of a signed note that names a log
 * (origin), its size and its root hash, with optional extension lines:
 *
 *   example.com/behind-the-sofa
 *   20852163
 *   CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
 *
 * Parsing is strict: the size is canonical decimal, the root is canonical
 * base64 of exactly 32 bytes, and extension lines are non-empty.
 */
import { decodeBase64Strict, encodeBase64 } from "./base64.ts";
import { LogError } from "./errors.ts";
import { HASH_SIZE, type Hash } from "./hash.ts";
import { type NoteVerifier, type OpenedNote, openNote, parseNote } from "./note.ts";

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Hash;
  readonly extensions: readonly string[];
}

function malformed(message: string): LogError {
  return new LogError("malformed-checkpoint", message);
}

export function formatCheckpoint(c: Checkpoint): string {
  if (c.origin.length === 0 || c.origin.includes("\n")) throw malformed("invalid origin line");
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw malformed(`invalid size ${c.size}`);
  if (c.root.length !== HASH_SIZE) throw malformed("root hash must be 32 bytes");
  for (const ext of c.extensions) {
    if (ext.length === 0 || ext.includes("\n")) throw malformed("invalid extension line");
  }
  const lines = [c.origin, String(c.size), encodeBase64(c.root), ...c.extensions];
  return `${lines.join("\n")}\n`;
}

/** Parses a checkpoint body (the note text, ending in a newline). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw malformed("checkpoint must end in a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw malformed("checkpoint needs origin, size and root lines");
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin.length === 0) throw malformed("empty origin line");
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText))
    throw malformed(`size ${JSON.stringify(sizeText)} is not canonical decimal`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw malformed(`size ${sizeText} is too large`);
  const root = decodeBase64Strict(rootText);
  if (!root || root.length !== HASH_SIZE) throw malformed("root hash is not base64 of 32 bytes");
  if (extensions.some((e) => e.length === 0)) throw malformed("empty extension line");
  return { origin, size, root, extensions };
}

export interface SignedCheckpoint extends Checkpoint {
  readonly note: OpenedNote;
}

/**
 * Opens a signed checkpoint: the note must verify under `verifiers` and, if
 * `origin` is given, name that log.
 */
export function openCheckpoint(
  msg: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  origin?: string,
): SignedCheckpoint {
  const note = openNote(msg, verifiers);
  const checkpoint = parseCheckpoint(note.text);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw new LogError(
      "wrong-origin",
      `checkpoint is for ${JSON.stringify(checkpoint.origin)}, want ${JSON.stringify(origin)}`,
    );
  }
  return { ...checkpoint, note };
}

/** Parses a signed checkpoint without checking any signature: for display only. */
export function readUnverifiedCheckpoint(msg: string | Uint8Array): Checkpoint & {
  signatures: { name: string; keyId: number }[];
} {
  const { text, signatures } = parseNote(msg);
  return {
    ...parseCheckpoint(text),
    signatures: signatures.map(({ name, keyId }) => ({ name, keyId })),
  };
}
