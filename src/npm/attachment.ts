/**
 * A publish attachment's strict base64 (RFC 4648 section 4: padded, no
 * whitespace, unused bits zero), decoded and hashed a slice at a time:
 * either pulled from a whole string as the tarball inspector reads it, or
 * pushed as the request body arrives.
 */
import { createHash } from "node:crypto";
import { PublishError } from "./publish-error.ts";

/** Base64 text per slice: a multiple of 4, so each slice decodes alone. */
const SLICE_CHARS = 1024 * 1024;

function notBase64(): PublishError {
  return new PublishError("bad-request", "attachment data is not valid base64");
}

/**
 * Whether `slice` (a multiple of 4 characters) is canonical standard base64
 * that decoded to `decoded` bytes, padded only if it is the `last` slice.
 * Node's decoder skips characters outside both alphabets and stops at `=`,
 * so any such character leaves fewer bytes than the length promises; the
 * URL-safe alphabet it also reads is looked for; the last quantum must
 * re-encode to itself (no stray bits under the padding). Cheaper than
 * re-encoding the whole text.
 */
function isCanonicalBase64(slice: string, decoded: number, last: boolean): boolean {
  const padding = last && slice.endsWith("==") ? 2 : last && slice.endsWith("=") ? 1 : 0;
  if (decoded !== (slice.length / 4) * 3 - padding) return false;
  if (slice.includes("-") || slice.includes("_")) return false;
  const quantum = slice.slice(-4);
  return !last || Buffer.from(quantum, "base64").toString("base64") === quantum;
}

export class AttachmentDecoder {
  readonly #parts: Buffer[] = [];
  readonly #sha512 = createHash("sha512");
  readonly #sha1 = createHash("sha1");
  readonly #sha256 = createHash("sha256");
  #pending = "";
  #ended = false;
  /** Decoded bytes so far. */
  bytes = 0;

  #decode(slice: string, last: boolean): Buffer {
    const bytes = Buffer.from(slice, "base64");
    if (slice.length % 4 !== 0 || !isCanonicalBase64(slice, bytes.length, last)) throw notBase64();
    this.#sha512.update(bytes);
    this.#sha1.update(bytes);
    this.#sha256.update(bytes);
    this.#parts.push(bytes);
    this.bytes += bytes.length;
    return bytes;
  }

  /** Decodes a whole text as it is read, a slice at a time. */
  *decodeText(text: string): Generator<Buffer> {
    if (text.length % 4 !== 0) throw notBase64();
    for (let at = 0; at < text.length; at += SLICE_CHARS) {
      yield this.#decode(text.slice(at, at + SLICE_CHARS), at + SLICE_CHARS >= text.length);
    }
    this.#ended = true;
  }

  /** Appends text as it arrives; decodes each whole slice that cannot be the last. */
  write(text: string): void {
    this.#pending += text;
    while (this.#pending.length > SLICE_CHARS) {
      this.#decode(this.#pending.slice(0, SLICE_CHARS), false);
      this.#pending = this.#pending.slice(SLICE_CHARS);
    }
  }

  /** The text is complete: decodes what is left. */
  end(): void {
    this.#decode(this.#pending, true);
    this.#pending = "";
    this.#ended = true;
  }

  /** The decoded bytes, in slices (all of them once the text has ended). */
  get parts(): readonly Buffer[] {
    return this.#parts;
  }

  /** The whole tarball; the text must have been decoded to its end. */
  tarball(): Buffer {
    if (!this.#ended) throw new Error("the attachment was not decoded to its end");
    return Buffer.concat(this.#parts);
  }

  digests() {
    return {
      integrity: `sha512-${this.#sha512.digest("base64")}`,
      shasum: this.#sha1.digest("hex"),
      sha256: this.#sha256.digest("hex"),
    };
  }
}
