/**
 * The one table from errors to HTTP answers. Every coded error a request
 * can meet is looked up by its class name and code; its answer is
 * `{"error": message, "code": code}` (npm prints `error`). The types below
 * make the table list every code of every domain, so a new code cannot
 * fall through to a bare 500. Matching by name keeps this module free of
 * runtime imports of the domains it maps (the origin, the client).
 */
import type { CargoApiErrorCode } from "../cargo/api-error.ts";
import type { CargoErrorCode } from "../cargo/rules/errors.ts";
import type { Check } from "../client/errors.ts";
import type { SnapshotReadErrorCode } from "../client/snapshot-reader.ts";
import type { GatewayErrorCode } from "../gateway/errors.ts";
import type { LogErrorCode } from "../log/errors.ts";
import type { AuthErrorCode } from "../origin/auth.ts";
import type { HashingErrorCode } from "../origin/password-hasher.ts";
import type { RegistryErrorCode } from "../origin/registry.ts";
import type { TreeHealthCode } from "../origin/tree-health.ts";
import type { BlobErrorCode } from "../registry/blob-check.ts";
import type { CanonicalJsonErrorCode } from "../registry/canonical-json.ts";
import type { EntryErrorCode } from "../registry/entry-error.ts";
import type { SnapshotErrorCode } from "../registry/snapshot.ts";
import type { StateErrorCode } from "../registry/state.ts";
import type { TakedownErrorCode } from "../registry/takedown.ts";
import type { UpstreamErrorCode } from "../upstream/upstream-error.ts";
import type { WebErrorCode } from "../web/errors.ts";
import type { HttpErrorCode } from "./http-common.ts";
import type { PackageFilesErrorCode } from "./package-files-error.ts";
import type { PublishErrorCode } from "./publish.ts";
import type { TarballErrorCode } from "./tarball.ts";

/** RFC 7725: something a moderator took down, with the reason and the log entry in the body. */
const TAKEDOWN: Record<TakedownErrorCode, number> = { "taken-down": 451 };

const HTTP: Record<HttpErrorCode, number> = {
  "bad-request": 400,
  "invalid-json": 400,
  "invalid-tag": 400,
  unauthorized: 401,
  forbidden: 403,
  "signup-closed": 403,
  "not-found": 404,
  "stale-revision": 409,
  // Not a 5xx: npm retries those for a minute before it reports anything.
  "no-advisory-source": 404,
  "not-implemented": 501,
};

const PUBLISH: Record<PublishErrorCode, number> = {
  "bad-request": 400,
  "invalid-name": 400,
  "invalid-version": 400,
  "bad-tarball": 422,
  "integrity-mismatch": 422,
  "manifest-mismatch": 422,
  "too-large": 413,
};

const TARBALL: Record<TarballErrorCode, number> = {
  "too-large": 413,
  "not-gzip": 422,
  "bad-tar": 422,
  "unsafe-path": 422,
  "bad-entry-type": 422,
  "no-manifest": 422,
  "bad-manifest": 422,
  "compression-ratio": 422,
  "duplicate-entry": 422,
};

/**
 * A tarball npm could not install as published (refused at publish, like
 * TARBALL's), or a file index from another server that does not check out.
 */
const PACKAGE_FILES: Record<PackageFilesErrorCode, number> = {
  "integrity-mismatch": 422,
  "bad-integrity": 422,
  "hostile-entry": 422,
  "bad-tarball": 422,
  "too-large": 413,
  "bad-index": 502,
  "index-mismatch": 502,
};

const REGISTRY: Record<RegistryErrorCode, number> = {
  invalid: 400,
  forbidden: 403,
  "not-found": 404,
  conflict: 409,
  // A restore whose bytes were purged: the server holds nothing to restore.
  purged: 409,
};

const AUTH: Record<AuthErrorCode, number> = {
  "invalid-username": 400,
  "invalid-password": 400,
  "bad-credentials": 401,
  "user-exists": 409,
};

const CANONICAL_JSON: Record<CanonicalJsonErrorCode, number> = {
  "too-deep": 400,
  "not-unicode": 400,
  "not-finite": 400,
  "not-json": 400,
};

const ENTRY: Record<EntryErrorCode, number> = {
  "not-json": 400,
  "not-canonical": 400,
  "bad-field": 400,
  "too-large": 413,
  // An entry of the server's own log that it cannot apply: the server is at fault, not the request.
  "cannot-apply": 500,
  "bad-document": 400,
  // Only the origin writes a sketch, and its blob is checked against the log: a server fault.
  "bad-sketch": 502,
};

/** The server's own copy of a blob is missing or damaged: unavailable until repaired or re-synced. */
const BLOB: Record<BlobErrorCode, number> = {
  missing: 503,
  mismatch: 503,
  unfetched: 404,
  "unixfs-mismatch": 502,
};

const LOG: Record<LogErrorCode, number> = {
  "entry-too-large": 422,
  "too-large": 413,
  // Another writer holds the log: the write may succeed later.
  conflict: 503,
  "malformed-note": 500,
  "unverified-note": 500,
  "invalid-signature": 500,
  "invalid-cosignature": 500,
  "too-few-cosignatures": 500,
  "stale-checkpoint": 500,
  "malformed-key": 500,
  "malformed-checkpoint": 500,
  "wrong-origin": 500,
  "malformed-tile": 500,
  "hash-mismatch": 500,
  "invalid-proof": 500,
  "out-of-range": 500,
  "not-found": 500,
  // A source this server reads from withholds what it asked for.
  withheld: 502,
  "corrupt-storage": 500,
  // A source redirected off its own origin: the server's upstream misbehaved.
  redirect: 502,
  // A source this server reads from did not answer, or answered what it cannot read.
  unreachable: 502,
  truncated: 502,
  "bad-response": 502,
};

/** A proxy's source that served bytes that do not verify, or nothing. */
const SOURCE: Record<Check, number> = {
  signature: 502,
  "key-chain": 502,
  origin: 502,
  // The upstream's checkpoint is not witnessed as the policy asks: nothing it serves is trusted.
  witness: 502,
  stale: 502,
  consistency: 502,
  rollback: 502,
  freshness: 503,
  tile: 502,
  bundle: 502,
  blob: 502,
  block: 502,
  replay: 502,
  size: 502,
  truncated: 502,
  timeout: 504,
  unavailable: 503,
  redirect: 502,
};

/** A sparse read whose snapshot files, though signed for, do not fit together: the source lied. */
const SNAPSHOT_READ: Record<SnapshotReadErrorCode, number> = {
  "no-checkpoint": 503,
  "not-a-snapshot": 502,
  "shard-count": 502,
  "wrong-document": 502,
  "not-popularity": 502,
  "not-registry-keys": 502,
};

/** A root or shard a source served that is not in its one canonical form. */
const SNAPSHOT: Record<SnapshotErrorCode, number> = {
  "malformed-root": 502,
  "malformed-shard": 502,
  "shard-count": 502,
  "duplicate-key": 502,
  "misplaced-key": 502,
};

/** The origin's own tree is damaged: writes wait for a repair, a damaged file for a mirror. */
/** A server never reads a state of another schema (it rebuilds it); a reader that does is unavailable. */
const STATE: Record<StateErrorCode, number> = { "stale-schema": 503 };
const TREE_HEALTH: Record<TreeHealthCode, number> = { "tree-damaged": 503, "damaged-file": 503 };

/** Too many sign-ins at once, or a hashing thread that failed: try again shortly. */
const HASHING: Record<HashingErrorCode, number> = { busy: 503, failed: 503 };

/**
 * An uplink that failed to answer, or answered wrongly: the registry this
 * origin imports from is at fault (502), or too slow (504). A credential the
 * upstream refuses is ours to fix, not the client's, so it is a 502 too.
 */
const UPSTREAM: Record<UpstreamErrorCode, number> = {
  unreachable: 502,
  timeout: 504,
  "bad-status": 502,
  "not-found": 404,
  unauthorized: 502,
  "too-large": 502,
  truncated: 502,
  "bad-json": 502,
  "bad-response": 502,
  "integrity-mismatch": 502,
};

/** A trustless gateway request refused; every block not served is the same 404. */
const GATEWAY: Record<GatewayErrorCode, number> = {
  "bad-cid": 400,
  "no-format": 400,
  "bad-param": 400,
  "not-acceptable": 406,
  "not-found": 404,
};

/**
 * A crate refused by cargo's rules (publish body, metadata, `.crate`, index
 * paths, resolving): 413 over a cap, 404 for a crate or version not there,
 * 409 for a resolve that cannot be satisfied, else 400 (cargo prints any of
 * them with the detail; crates.io answers 400 to all but the caps).
 */
const CARGO: Record<CargoErrorCode, number> = {
  "bad-name": 400,
  "reserved-name": 400,
  "bad-version": 400,
  "bad-version-req": 400,
  "bad-feature": 400,
  "bad-dependency": 400,
  "bad-metadata": 400,
  "bad-body": 400,
  "too-large": 413,
  "not-gzip": 400,
  "compression-ratio": 400,
  "bad-crate": 400,
  "unsafe-path": 400,
  "bad-manifest": 400,
  "bad-index-path": 404,
  "no-such-crate": 404,
  "no-matching-version": 404,
  "version-conflict": 409,
  "links-conflict": 409,
  "missing-feature": 400,
  "dependency-cycle": 409,
  "resolve-too-complex": 400,
};

/** cargo's web API: cargo's docs ask for 403 on a missing or unknown token. */
const CARGO_API: Record<CargoApiErrorCode, number> = {
  unauthorized: 403,
  forbidden: 403,
  "not-found": 404,
  "bad-request": 400,
  "name-taken": 409,
  "version-exists": 409,
  "unknown-dependency": 400,
};

/** A page of the web interface refused. */
const WEB: Record<WebErrorCode, number> = {
  "bad-request": 400,
  "not-found": 404,
  gone: 410,
  withheld: 451,
  "not-available": 501,
};

interface Domain {
  readonly statuses: Readonly<Record<string, number>>;
  /** Whether the message of a 5xx is meant for the client (it names no server internals). */
  readonly publicFailure?: boolean;
}

const DOMAINS: Readonly<Record<string, Domain>> = {
  HttpError: { statuses: HTTP, publicFailure: true },
  PublishError: { statuses: PUBLISH },
  TarballError: { statuses: TARBALL },
  PackageFilesError: { statuses: PACKAGE_FILES },
  RegistryError: { statuses: REGISTRY },
  AuthError: { statuses: AUTH },
  CanonicalJsonError: { statuses: CANONICAL_JSON },
  EntryError: { statuses: ENTRY },
  BlobError: { statuses: BLOB, publicFailure: true },
  LogError: { statuses: LOG },
  SourceError: { statuses: SOURCE, publicFailure: true },
  SnapshotReadError: { statuses: SNAPSHOT_READ, publicFailure: true },
  SnapshotError: { statuses: SNAPSHOT, publicFailure: true },
  StateError: { statuses: STATE },
  TakedownError: { statuses: TAKEDOWN },
  TreeHealthError: { statuses: TREE_HEALTH, publicFailure: true },
  HashingError: { statuses: HASHING, publicFailure: true },
  // Its messages name the uplink and what it did, which is what the client needs to hear.
  UpstreamError: { statuses: UPSTREAM, publicFailure: true },
  GatewayError: { statuses: GATEWAY },
  WebError: { statuses: WEB },
  CargoError: { statuses: CARGO },
  CargoApiError: { statuses: CARGO_API },
};

/** System errors that mean the disk is full, wherever they sit in the chain of causes. */
const DISK_FULL = new Set(["ENOSPC", "EDQUOT"]);

export interface ErrorBody {
  readonly error: string;
  readonly code: string;
  /** A takedown's public record: name, version, reason, log entry, time. */
  readonly [detail: string]: unknown;
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e instanceof Error && chain.length < 16; e = e.cause) chain.push(e);
  return chain;
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** Every source failed a proxy read: 502 if one served bad bytes, 503 if all were merely away. */
function noSource(err: Error): { status: number; code: string } {
  const errors = (err as { errors?: readonly { hard?: boolean }[] }).errors ?? [];
  return errors.some((e) => e.hard)
    ? { status: 502, code: "no-verified-source" }
    : { status: 503, code: "no-source-available" };
}

/** The status and body for any error a request handler threw. */
export function errorResponse(
  err: unknown,
  requestId: string,
): { status: number; body: ErrorBody } {
  const internal = (status: number, code: string, what = "internal error") => ({
    status,
    body: { error: `${what} (request ${requestId})`, code },
  });
  if (causes(err).some((e) => DISK_FULL.has(codeOf(e) ?? ""))) {
    return internal(507, "disk-full", "the registry's disk is full; nothing was written");
  }
  if (!(err instanceof Error)) return internal(500, "internal");
  const code = codeOf(err);
  const domain = DOMAINS[err.name];
  const status = domain && code !== undefined ? domain.statuses[code] : undefined;
  if (status !== undefined && code !== undefined) {
    if (status >= 500 && !domain.publicFailure) return internal(status, code);
    const { details } = err as { details?: Record<string, unknown> };
    return { status, body: { ...details, error: err.message, code } };
  }
  if (err.name === "NoSourceError") {
    const { status, code } = noSource(err);
    return { status, body: { error: err.message, code } };
  }
  // Fastify's own refusals (body too large, unsupported media type) carry their status and code.
  const fastifyStatus = (err as { statusCode?: unknown }).statusCode;
  if (typeof fastifyStatus === "number" && fastifyStatus >= 400 && fastifyStatus < 500) {
    return { status: fastifyStatus, body: { error: err.message, code: code ?? "bad-request" } };
  }
  return internal(500, "internal");
}
