/**
 * Reads a gzip'd tar as a stream within caps, for checks that must refuse
 * hostile archives (npm tarballs, cargo `.crate`s) without inflating them
 * whole: the input must start with gzip's magic bytes, its compressed
 * size, inflated size and inflation ratio stay under the caps, and tar's
 * parser is fed one inflated chunk at a time, so a gzip bomb costs the
 * event loop one chunk and stops as soon as it crosses a cap. Each failure
 * is the caller's own error, made by `reader.error` from a predicate
 * ("is not gzip data") that the caller gives a subject.
 *
 * A thread of its own (a store thread) may instead inflate a whole archive
 * at once, on that thread (`inline`): zlib's pool then costs two thread
 * switches per 16 KiB fed, more than the inflating. The caps hold as
 * before: the output is cut off at the smaller of the size cap and the
 * ratio cap over the whole input, so a bomb is stopped where the stream
 * would have stopped it, give or take the bytes fed after its last check.
 */
import { pipeline } from "node:stream/promises";
import { createGunzip, gunzipSync } from "node:zlib";
import type { ReadEntry } from "tar";

export interface TarGzLimits {
  readonly maxCompressedBytes: number;
  readonly maxUnpackedBytes: number;
  /** Inflated bytes per compressed byte. */
  readonly maxRatio: number;
}

export type TarGzProblem = "too-large" | "compression-ratio" | "not-gzip" | "bad-tar";

export interface TarGzReader {
  /** Each entry in archive order; it must read or `resume()` the entry. */
  entry(entry: ReadEntry): void;
  /** Records a failure (the first one wins); `throwIfFailed` throws it. */
  fail(error: Error): void;
  /** Called after every inflated chunk, so a failed check stops the stream. */
  throwIfFailed(): void;
  error(code: TarGzProblem, message: string, cause?: unknown): Error;
}

/** Tar record and header overhead on top of file contents, for the inflated-size cap. */
const TAR_SLACK = 1024 * 1024;
/** Small archives may inflate past the ratio: a tar pads every file to 512 bytes. */
const RATIO_FLOOR = 16 * 1024 * 1024;
/**
 * Compressed bytes handed to the inflater at once: small, so that the bytes
 * counted as given stay close to the bytes inflated, and the ratio cap
 * stops a bomb after its first few MiB rather than a large slice later.
 */
const FEED = 16 * 1024;
/** Inflated bytes per round trip to the thread pool: zlib's 16 KiB default makes thousands of them. */
const INFLATE_CHUNK = 256 * 1024;

export async function readTarGz(
  source: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  limits: TarGzLimits,
  reader: TarGzReader,
  options: { readonly inline?: boolean } = {},
): Promise<void> {
  // Loaded on first use: an install whose packages are all in the store never reads a tarball.
  const { Parser } = await import("tar");
  const parser = new Parser({ strict: true, onReadEntry: (entry) => reader.entry(entry) });
  parser.on("error", (err: Error) =>
    reader.fail(reader.error("bad-tar", `is not a valid tar: ${err.message}`, err)),
  );
  if (options.inline && source instanceof Uint8Array) {
    parser.write(inflateWhole(source, limits, reader));
    reader.throwIfFailed();
    parser.end();
    return;
  }
  const input = source instanceof Uint8Array ? [source] : source;
  let compressed = 0;
  let inflated = 0;
  let header: number[] = [];
  const maxInflated = limits.maxUnpackedBytes + TAR_SLACK;

  async function* counted() {
    for await (const whole of input) {
      for (let at = 0; at < whole.length; at += FEED) {
        const chunk = whole.subarray(at, at + FEED);
        compressed += chunk.length;
        if (compressed > limits.maxCompressedBytes) {
          throw reader.error(
            "too-large",
            `is over this registry's limit of ${limits.maxCompressedBytes} bytes`,
          );
        }
        if (header.length < 2) header = [...header, ...chunk.subarray(0, 2 - header.length)];
        if (header.length === 2 && (header[0] !== 0x1f || header[1] !== 0x8b))
          throw reader.error("not-gzip", "is not gzip data");
        yield chunk;
      }
    }
    if (header.length < 2) throw reader.error("not-gzip", "is not gzip data");
  }

  async function parse(tar: AsyncIterable<Buffer>) {
    for await (const chunk of tar) {
      inflated += chunk.length;
      if (inflated > maxInflated)
        throw reader.error("too-large", `unpacks to over ${limits.maxUnpackedBytes} bytes`);
      if (inflated > RATIO_FLOOR && inflated > compressed * limits.maxRatio) {
        throw reader.error(
          "compression-ratio",
          `inflates over ${limits.maxRatio} times its compressed size`,
        );
      }
      parser.write(chunk);
      reader.throwIfFailed();
    }
  }

  try {
    await pipeline(counted, createGunzip({ chunkSize: INFLATE_CHUNK }), parse);
  } catch (err) {
    // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR for a cut-off stream); others pass through.
    if (!String((err as NodeJS.ErrnoException).code).startsWith("Z_")) throw err;
    throw reader.error("not-gzip", `is not valid gzip: ${(err as Error).message}`, err);
  }
  parser.end();
}

/** A whole gzip'd archive inflated on this thread, within the same caps as the stream. */
function inflateWhole(source: Uint8Array, limits: TarGzLimits, reader: TarGzReader): Buffer {
  if (source.length > limits.maxCompressedBytes)
    throw reader.error(
      "too-large",
      `is over this registry's limit of ${limits.maxCompressedBytes} bytes`,
    );
  if (source.length < 2 || source[0] !== 0x1f || source[1] !== 0x8b)
    throw reader.error("not-gzip", "is not gzip data");
  const maxInflated = limits.maxUnpackedBytes + TAR_SLACK;
  const maxByRatio = Math.max(RATIO_FLOOR, source.length * limits.maxRatio);
  try {
    return gunzipSync(source, {
      chunkSize: INFLATE_CHUNK,
      maxOutputLength: Math.min(maxInflated, maxByRatio),
    });
  } catch (err) {
    const code = String((err as NodeJS.ErrnoException).code);
    if (code === "ERR_BUFFER_TOO_LARGE") {
      if (maxInflated <= maxByRatio)
        throw reader.error("too-large", `unpacks to over ${limits.maxUnpackedBytes} bytes`);
      throw reader.error(
        "compression-ratio",
        `inflates over ${limits.maxRatio} times its compressed size`,
      );
    }
    if (!code.startsWith("Z_")) throw err;
    throw reader.error("not-gzip", `is not valid gzip: ${(err as Error).message}`, err);
  }
}
