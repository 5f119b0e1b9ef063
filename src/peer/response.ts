/**
 * The one "not here" a peer gives, and the gate that gives it.
 *
 * A peer answers a request for a block it does not hold, one it holds but
 * may not share, one of an opted-out package, or any path that is not a
 * block, with the same bytes: status 404, the same headers, the same body.
 * The gate decides from an in-memory set of shareable blocks before the
 * handler behind it runs, so no disk is read and the time taken does not
 * tell the cases apart either; a 404, 410 or 451 from the handler (a path
 * inside a block, say) becomes the same answer. Never 410 or 451 on a peer:
 * those would say "held, but withheld".
 */
import type { Readable } from "node:stream";
import { type BlockAddress, parseCid } from "../store/cid.ts";

export interface PeerRequest {
  readonly method: string;
  /** The request target as received: path and query. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The client's address, which the limits key on. */
  readonly ip: string;
}

/** What a handler answers (the trustless gateway's handler has this shape). */
export interface PeerResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Absent for HEAD and bodiless answers. */
  readonly body?: Uint8Array | Readable;
}

export type PeerHandler = (request: PeerRequest) => Promise<PeerResponse>;

const NOT_HERE_BODY = Buffer.from("not found\n");

/** Headers of the one "not here": fixed, so every such answer is the same bytes. */
const NOT_HERE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "text/plain; charset=utf-8",
  "cache-control": "no-store",
  "content-length": String(NOT_HERE_BODY.length),
});

/** The one "not here" answer (without a body for HEAD). */
export function notHere(method: string): PeerResponse {
  return method === "HEAD"
    ? { status: 404, headers: NOT_HERE_HEADERS }
    : { status: 404, headers: NOT_HERE_HEADERS, body: NOT_HERE_BODY };
}

/** The trustless gateway's probe (the identity CID of no bytes): it reveals nothing, so it passes. */
const PROBE_CID = "bafkqaaa";

/** The CID text of a `/ipfs/<cid>[/path][?query]` target, or undefined for any other target. */
export function cidTextOf(url: string): string | undefined {
  const path = url.split("?", 1)[0];
  if (!path.startsWith("/ipfs/")) return undefined;
  const cid = path.slice("/ipfs/".length).split("/", 1)[0];
  return cid === "" ? undefined : cid;
}

/**
 * The block a target names, "none" for a target that names no block a
 * peer could hold, or "malformed" for a CID that does not parse (the
 * handler's 400, the same for everyone, says nothing about what is held).
 */
export function blockOf(url: string): BlockAddress | "none" | "malformed" {
  const text = cidTextOf(url);
  if (text === undefined) return "none";
  try {
    return parseCid(text) ?? "none";
  } catch {
    return "malformed";
  }
}

/**
 * Lets through to `handler` only requests for blocks `shareable` admits
 * (answered from memory); every other request, and any 404, 410 or 451 the
 * handler gives, gets the one "not here".
 */
export function shareGate(
  shareable: (address: BlockAddress) => boolean,
  handler: PeerHandler,
): PeerHandler {
  return async (request) => {
    const block = blockOf(request.url);
    const probe = cidTextOf(request.url) === PROBE_CID;
    if (!probe && (block === "none" || (block !== "malformed" && !shareable(block))))
      return notHere(request.method);
    const response = await handler(request);
    if (response.status === 404 || response.status === 410 || response.status === 451) {
      (response.body as Readable | undefined)?.destroy?.();
      return notHere(request.method);
    }
    return response;
  };
}
