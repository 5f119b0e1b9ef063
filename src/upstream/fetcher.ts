/**
 * What the origin asks of an uplink: a package's full packument (with
 * `time`, which the importer keeps), and a tarball, streamed to a file and
 * checked against the hashes the upstream advertised before the caller
 * stores a byte of it. Everything the upstream sends is suspect: a
 * packument must be JSON the project accepts and name the package asked
 * for; a tarball is fetched only from the uplink's own origin.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { open, rm } from "node:fs/promises";
import type { OutgoingHttpHeaders } from "node:http";
import { pipeline } from "node:stream/promises";
import validateName from "validate-npm-package-name";
import { MAX_JSON_DEPTH } from "../registry/canonical-json.ts";
import { tap } from "../util/streams.ts";
import { parseStrictJson } from "../util/strict-json.ts";
import { exchange } from "./exchange.ts";
import type { Uplink } from "./uplink.ts";
import { UpstreamError } from "./upstream-error.ts";

/** The validators of a packument fetched before, for a conditional request. */
export interface CachedPackument {
  readonly etag?: string;
  readonly lastModified?: string;
}

export type PackumentResult =
  | {
      readonly kind: "fresh";
      readonly packument: Record<string, unknown>;
      readonly etag?: string;
      readonly lastModified?: string;
      /** Bytes received from the upstream, as sent (compressed when it compressed). */
      readonly bytes: number;
    }
  | { readonly kind: "not-modified" };

/** Hashes the upstream advertised for a tarball: `dist.integrity`'s SHA-512 and `dist.shasum`. */
export interface ExpectedHashes {
  /** Base64, as in an `sha512-…` integrity string. */
  readonly sha512?: string;
  /** Hex. */
  readonly sha1?: string;
}

export interface TarballDigests {
  /** Hex, the way blobs are named. */
  readonly sha256: string;
  /** Base64. */
  readonly sha512: string;
  /** Hex. */
  readonly sha1: string;
  readonly size: number;
}

/** A name as npm puts it in a registry URL: `@scope/name` becomes `@scope%2fname`. */
export function escapedName(name: string): string {
  return name.startsWith("@") ? name.replace("/", "%2f") : name;
}

function checkUplink(uplink: Uplink): URL {
  const base = new URL(uplink.url);
  assert(
    base.protocol === "http:" || base.protocol === "https:",
    `uplink ${uplink.name}: not http(s)`,
  );
  assert(uplink.url.endsWith("/"), `uplink ${uplink.name}: the URL must end in a slash`);
  return base;
}

/**
 * The full packument of `name` (a name npm accepts, legacy ones included,
 * which makes it safe in a URL path as it is). With `cached` validators
 * the request is conditional and may answer "not-modified".
 */
export async function fetchPackument(
  uplink: Uplink,
  name: string,
  cached?: CachedPackument,
): Promise<PackumentResult> {
  const base = checkUplink(uplink);
  assert(validateName(name).validForOldPackages, `not an npm package name: ${name}`);
  const headers: OutgoingHttpHeaders = {
    // The full document, not the abbreviated one: the importer needs `time`.
    accept: "application/json",
    "accept-encoding": "gzip",
  };
  if (cached?.etag) headers["if-none-match"] = cached.etag;
  if (cached?.lastModified) headers["if-modified-since"] = cached.lastModified;
  const conditional = headers["if-none-match"] || headers["if-modified-since"];
  const url = new URL(escapedName(name), base);
  return exchange(uplink, url, headers, conditional ? [200, 304] : [200], async (res) => {
    if (res.status === 304) return { kind: "not-modified" };
    const chunks: Buffer[] = [];
    for await (const chunk of res.body(uplink.maxPackumentBytes)) chunks.push(chunk);
    const packument = parsePackument(uplink, name, Buffer.concat(chunks));
    const etag = res.headers.etag;
    const lastModified = res.headers["last-modified"];
    return {
      kind: "fresh",
      packument,
      ...(etag ? { etag } : {}),
      ...(lastModified ? { lastModified } : {}),
      bytes: res.wireBytes,
    };
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parsePackument(uplink: Uplink, name: string, bytes: Uint8Array): Record<string, unknown> {
  const badJson = (reason: string) =>
    new UpstreamError(uplink, "bad-json", `the packument of ${name}: ${reason}`);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badJson("not UTF-8");
  }
  const value = parseStrictJson(text, MAX_JSON_DEPTH, badJson);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw badJson("not a JSON object");
  const packument = value as Record<string, unknown>;
  if (packument.name !== name)
    throw new UpstreamError(
      uplink,
      "bad-response",
      `asked for the packument of ${name}, got one named ${JSON.stringify(packument.name)?.slice(0, 256)}`,
    );
  return packument;
}

const SHA512_BASE64 = /^[A-Za-z0-9+/]{86}==$/;
const SHA1_HEX = /^[0-9a-f]{40}$/;

/**
 * Streams the tarball at `url` into `destination` (a file this creates, so
 * it must not exist) while hashing it, then checks it against `expected`.
 * Resolves once the file is written and closed; on any failure the file is
 * removed. The URL must be on the uplink's origin: a packument could
 * otherwise send the origin, and its token, anywhere.
 */
export async function fetchTarball(
  uplink: Uplink,
  url: string,
  expected: ExpectedHashes,
  destination: string,
): Promise<TarballDigests> {
  const target = tarballUrl(uplink, url);
  checkExpected(uplink, expected);
  // "wx": the file removed on failure is always one this call made.
  const handle = await open(destination, "wx");
  try {
    const digests = await exchange(
      uplink,
      target,
      { accept: "*/*", "accept-encoding": "identity" },
      [200],
      async (res) => {
        const sha256 = createHash("sha256");
        const sha512 = createHash("sha512");
        const sha1 = createHash("sha1");
        let size = 0;
        const hash = tap((chunk: Buffer) => {
          sha256.update(chunk);
          sha512.update(chunk);
          sha1.update(chunk);
          size += chunk.length;
        });
        // The stream closes the handle, and the pipeline waits for that.
        await pipeline(res.body(uplink.maxTarballBytes), hash, handle.createWriteStream());
        return {
          sha256: sha256.digest("hex"),
          sha512: sha512.digest("base64"),
          sha1: sha1.digest("hex"),
          size,
        };
      },
    );
    checkDigests(uplink, target, expected, digests);
    return digests;
  } catch (err) {
    await handle.close().catch(() => {});
    await rm(destination, { force: true });
    throw err;
  }
}

function tarballUrl(uplink: Uplink, url: string): URL {
  const base = checkUplink(uplink);
  const parsed = URL.parse(url);
  if (
    !parsed ||
    (parsed.protocol !== "http:" && parsed.protocol !== "https:") ||
    parsed.origin !== base.origin ||
    parsed.username ||
    parsed.password
  )
    throw new UpstreamError(
      uplink,
      "bad-response",
      `the tarball URL ${JSON.stringify(url.slice(0, 256))} is not on ${base.origin}`,
    );
  return parsed;
}

function checkExpected(uplink: Uplink, expected: ExpectedHashes): void {
  const refuse = (detail: string) => new UpstreamError(uplink, "bad-response", detail);
  if (expected.sha512 === undefined && expected.sha1 === undefined)
    throw refuse("the upstream advertised no hash for the tarball");
  if (expected.sha512 !== undefined && !SHA512_BASE64.test(expected.sha512))
    throw refuse("the advertised SHA-512 is not 64 bytes of base64");
  if (expected.sha1 !== undefined && !SHA1_HEX.test(expected.sha1))
    throw refuse("the advertised SHA-1 is not 40 lowercase hex digits");
}

function checkDigests(
  uplink: Uplink,
  url: URL,
  expected: ExpectedHashes,
  actual: TarballDigests,
): void {
  const wrong: string[] = [];
  if (expected.sha512 !== undefined && expected.sha512 !== actual.sha512) wrong.push("SHA-512");
  if (expected.sha1 !== undefined && expected.sha1 !== actual.sha1) wrong.push("SHA-1");
  if (wrong.length > 0)
    throw new UpstreamError(
      uplink,
      "integrity-mismatch",
      `the tarball ${url.pathname} does not match its advertised ${wrong.join(" and ")}`,
    );
}
