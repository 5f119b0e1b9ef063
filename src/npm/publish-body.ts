/**
 * The JSON body parser of the npm write API. A publish body is small but for
 * one value, its tarball in base64 (`_attachments.<file>.data`), which can be
 * over 100 MB; parsing it as one string would hold the event loop for
 * seconds. So the body is scanned as it arrives: that one string goes, a
 * chunk at a time, to an AttachmentDecoder (decoded and hashed as read);
 * every other byte is kept and parsed as JSON at the end, with the data
 * left as "". Any other body is kept whole and parsed as before.
 *
 * The scan follows JSON's structure only as far as it needs to find that
 * string: nesting, keys, strings and escapes. JSON.parse still judges the
 * rest, so malformed input gets the same 400 it always did.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TarballLimits } from "../registry/tarball-limits.ts";
import { AttachmentDecoder } from "./attachment.ts";
import { parseJsonBody } from "./json-body.ts";
import { publishBodyLimit, tooLarge } from "./publish.ts";
import { PublishError } from "./publish-error.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
/** Longer keys are kept as unknown: no key on the attachment's path is this long. */
const MAX_KEY_BYTES = 4096;

interface Frame {
  readonly object: boolean;
  key: string | undefined;
}

const streamed = new WeakMap<FastifyRequest, ReadonlyMap<string, AttachmentDecoder>>();

/** The attachments of `req`'s body that were decoded as it arrived, by file name. */
export function streamedAttachments(
  req: FastifyRequest,
): ReadonlyMap<string, AttachmentDecoder> | undefined {
  return streamed.get(req);
}

/** Replaces the app's JSON body parser with the scanning one; a body too large for a publish gets a 413. */
export function registerPublishBodyParser(app: FastifyInstance, limits: TarballLimits): void {
  const bodyLimit = publishBodyLimit(limits);
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", (req, payload, done) => {
    const scanner = new BodyScanner();
    let received = 0;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      done(err as Error, undefined);
    };
    payload.on("data", (chunk: Buffer) => {
      if (failed) return;
      received += chunk.length;
      if (received > bodyLimit) return fail(tooLarge(limits));
      try {
        scanner.write(chunk);
      } catch (err) {
        fail(err);
      }
    });
    payload.on("error", fail);
    payload.on("end", () => {
      if (failed) return;
      try {
        // The rest of the body is held to the same rules as any other JSON body.
        const body = parseJsonBody(scanner.end());
        streamed.set(req, scanner.attachments);
        done(null, body);
      } catch (err) {
        fail(err);
      }
    });
  });
}

/** Splits a JSON body into the attachments' data (decoded) and the rest (kept as bytes). */
export class BodyScanner {
  readonly attachments = new Map<string, AttachmentDecoder>();
  readonly #rest: Buffer[] = [];
  readonly #stack: Frame[] = [];
  #expectKey = false;
  #inString = false;
  #escape = false;
  #isKey = false;
  #key: Buffer[] = [];
  #keyBytes = 0;
  #rootAttachments = 0;
  /** The decoder of the string being read, when it is an attachment's data. */
  #target: AttachmentDecoder | undefined;

  write(chunk: Buffer): void {
    // Bytes of the chunk from here on are kept; -1 while inside an attachment's data.
    let keepFrom = this.#target ? -1 : 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#inString) {
        if (this.#escape) {
          this.#escape = false;
          if (this.#target) {
            // JSON may escape "/" as "\/"; nothing else belongs in base64.
            if (chunk[i] !== SLASH) throw notBase64();
            this.#target.write("/");
          } else if (this.#isKey) this.#collect(chunk.subarray(i, i + 1));
          i++;
          continue;
        }
        const quote = chunk.indexOf(QUOTE, i);
        const backslash = chunk.indexOf(BACKSLASH, i);
        const stop = Math.min(
          quote < 0 ? chunk.length : quote,
          backslash < 0 ? chunk.length : backslash,
        );
        const text = chunk.subarray(i, stop);
        if (this.#target) this.#target.write(text.toString("latin1"));
        else if (this.#isKey) this.#collect(text);
        if (stop === chunk.length) break;
        if (stop === backslash) {
          this.#escape = true;
          if (this.#isKey) this.#collect(chunk.subarray(stop, stop + 1));
        } else {
          this.#endString();
          if (keepFrom < 0) keepFrom = stop;
        }
        i = stop + 1;
        continue;
      }
      switch (chunk[i]) {
        case QUOTE:
          this.#inString = true;
          this.#isKey = this.#expectKey && this.#top?.object === true;
          this.#key = [];
          this.#keyBytes = 0;
          if (!this.#isKey) this.#target = this.#attachmentAt();
          if (this.#target) {
            this.#rest.push(chunk.subarray(keepFrom, i + 1));
            keepFrom = -1;
          }
          break;
        case 0x7b: // {
          this.#stack.push({ object: true, key: undefined });
          this.#expectKey = true;
          break;
        case 0x5b: // [
          this.#stack.push({ object: false, key: undefined });
          this.#expectKey = false;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.#stack.pop();
          this.#expectKey = false;
          break;
        case 0x3a: // :
          this.#expectKey = false;
          break;
        case 0x2c: // ,
          this.#expectKey = this.#top?.object === true;
          break;
      }
      i++;
    }
    if (keepFrom >= 0) this.#rest.push(chunk.subarray(keepFrom));
  }

  /** The body without the attachments' data, as text for JSON.parse. */
  end(): string {
    return Buffer.concat(this.#rest).toString("utf8");
  }

  get #top(): Frame | undefined {
    return this.#stack.at(-1);
  }

  #collect(bytes: Buffer): void {
    this.#keyBytes += bytes.length;
    if (this.#keyBytes <= MAX_KEY_BYTES) this.#key.push(bytes);
  }

  #endString(): void {
    this.#inString = false;
    if (this.#target) {
      this.#target.end();
      this.#target = undefined;
    } else if (this.#isKey && this.#top) {
      const raw = Buffer.concat(this.#key).toString("utf8");
      let key: string | undefined;
      try {
        key = this.#keyBytes <= MAX_KEY_BYTES ? (JSON.parse(`"${raw}"`) as string) : undefined;
      } catch {
        key = undefined; // JSON.parse of the whole body will say what is wrong with it
      }
      this.#top.key = key;
      if (this.#stack.length === 1 && key === "_attachments" && ++this.#rootAttachments > 1)
        throw new PublishError("bad-request", "the body names _attachments twice");
    }
  }

  /** A decoder if the string starting here is `_attachments.<file>.data`. */
  #attachmentAt(): AttachmentDecoder | undefined {
    const [root, attachments, attachment] = this.#stack;
    const onPath =
      this.#stack.length === 3 &&
      this.#stack.every((f) => f.object) &&
      root.key === "_attachments" &&
      attachment.key === "data" &&
      attachments.key !== undefined;
    if (!onPath || attachments.key === undefined) return undefined;
    if (this.attachments.has(attachments.key))
      throw new PublishError("bad-request", "the body holds an attachment's data twice");
    const decoder = new AttachmentDecoder();
    this.attachments.set(attachments.key, decoder);
    return decoder;
  }
}

function notBase64(): PublishError {
  return new PublishError("bad-request", "attachment data is not valid base64");
}
