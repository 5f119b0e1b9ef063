/**
 * The IPFS Trustless Gateway (https://specs.ipfs.tech/http-gateways/trustless-gateway/)
 * over a BlockSource, as a function from request to response that any HTTP
 * server mounts: `GET|HEAD /ipfs/<cid>` answered with the block
 * (`application/vnd.ipld.raw`) or a CAR v1 of its DAG
 * (`application/vnd.ipld.car`). It never looks further than the source
 * (non-recursive, as the spec asks of P2P gateways), and serves no paths
 * below a CID: Cairn's DAGs are files.
 *
 * Refusals are thrown as GatewayError (400 bad CID or no format, 406
 * unsupported format or CAR variant, 404 not held); anything not held, or
 * withheld, gets the one same 404. `Cache-Control: only-if-cached` needs no
 * handling: every block served is local, so the answer is what it would
 * be anyway. The identity CID of empty bytes (`bafkqaaa`) answers as the
 * spec's probe. Blocks over 2 MiB are never served.
 */
import { createHash } from "node:crypto";
import { CID } from "multiformats/cid";
import { identity } from "multiformats/hashes/identity";
import { carHeader, carSectionHead, MAX_BLOCK_SIZE } from "../store/car.ts";
import {
  type BlockAddress,
  type BlockSource,
  cidObject,
  parseCid,
  RAW_CODEC,
} from "../store/cid.ts";
import { carBlocks } from "./dag-walk.ts";
import { GatewayError, notHere } from "./errors.ts";
import {
  CAR_TYPE,
  type CarWanted,
  carQuery,
  negotiate,
  type Query,
  RAW_TYPE,
} from "./negotiate.ts";

export interface GatewayRequest {
  readonly method: "GET" | "HEAD";
  /** The CID segment of `/ipfs/<cid>`, percent-decoded. */
  readonly cid: string;
  readonly query: Query;
  readonly accept?: string;
  readonly ifNoneMatch?: string;
}

export interface GatewayResponse {
  readonly status: 200 | 304;
  readonly headers: Readonly<Record<string, string>>;
  /** Absent for HEAD and 304; a CAR is a stream of its sections. */
  readonly body?: Uint8Array | AsyncIterable<Uint8Array>;
}

/** The spec's probe: the identity CID of no bytes, answered by every gateway. */
export const PROBE_CID = "bafkqaaa";

/** PG "Cache-Control": a CID's bytes never change. */
const IMMUTABLE = "public, max-age=29030400, immutable";

function addressOrRefuse(text: string): BlockAddress {
  let address: BlockAddress | undefined;
  try {
    address = parseCid(text);
  } catch (err) {
    throw new GatewayError("bad-cid", `not a CID: ${text.slice(0, 100)}`, { cause: err });
  }
  if (!address) throw notHere();
  return address;
}

/** Whether If-None-Match (a list, possibly weak) names this Etag. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === "*") return true;
  return ifNoneMatch.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

function headersFor(cid: string, wanted: ReturnType<typeof negotiate>): Record<string, string> {
  const car = wanted.format === "car";
  const query = car ? carQuery(wanted) : "format=raw";
  const variant = car ? createHash("sha256").update(query).digest("hex").slice(0, 16) : "";
  const headers: Record<string, string> = {
    "content-type": car
      ? `${CAR_TYPE}; version=1; order=dfs; dups=${wanted.dups ? "y" : "n"}`
      : RAW_TYPE,
    "content-disposition": `attachment; filename="${cid}.${car ? "car" : "bin"}"`,
    etag: car ? `"${cid}.car.${variant}"` : `"${cid}.raw"`,
    "cache-control": IMMUTABLE,
    "x-content-type-options": "nosniff",
    "x-ipfs-path": `/ipfs/${cid}`,
    "x-ipfs-roots": cid,
    vary: "Accept",
  };
  if (car) headers["accept-ranges"] = "none";
  // A CAR's variant may come from Accept parameters even under ?format=car: always name it in full.
  if (wanted.fromAccept || car) headers["content-location"] = `/ipfs/${cid}?${query}`;
  return headers;
}

async function* carBytes(
  source: BlockSource,
  root: CID,
  rootBytes: Uint8Array,
  wanted: CarWanted,
): AsyncGenerator<Uint8Array> {
  yield carHeader(root);
  for await (const block of carBlocks(source, { cid: root, bytes: rootBytes }, wanted)) {
    yield carSectionHead(block.cid, block.bytes.length);
    yield block.bytes;
  }
}

/** The probe's answers: an empty raw block, or a CAR of a header only (the block is in its CID). */
function probe(request: GatewayRequest): GatewayResponse {
  const wanted = negotiate(request.query, request.accept);
  const headers = headersFor(PROBE_CID, wanted);
  if (matches(request.ifNoneMatch, headers.etag)) return { status: 304, headers };
  const empty = CID.createV1(RAW_CODEC, identity.digest(new Uint8Array(0)));
  const body = wanted.format === "raw" ? new Uint8Array(0) : carHeader(empty);
  if (request.method === "HEAD") return { status: 200, headers };
  return {
    status: 200,
    headers: { ...headers, "content-length": String(body.length) },
    body,
  };
}

/** The answer to one gateway request; throws GatewayError for every refusal. */
export async function serveGateway(
  source: BlockSource,
  request: GatewayRequest,
): Promise<GatewayResponse> {
  if (request.cid === PROBE_CID) return probe(request);
  const address = addressOrRefuse(request.cid);
  const wanted = negotiate(request.query, request.accept);
  const root = cidObject(address.sha256, address.codec);
  const headers = headersFor(root.toString(), wanted);
  const unchanged = matches(request.ifNoneMatch, headers.etag);
  // Both answered from `has` alone: no block is read for them.
  if (request.method === "HEAD" || unchanged) {
    if (!(await source.has(address))) throw notHere();
    return { status: unchanged ? 304 : 200, headers };
  }
  const bytes = await source.block(address);
  if (!bytes || bytes.length > MAX_BLOCK_SIZE) throw notHere();
  if (wanted.format === "raw")
    return {
      status: 200,
      headers: { ...headers, "content-length": String(bytes.length) },
      body: bytes,
    };
  return { status: 200, headers, body: carBytes(source, root, bytes, wanted) };
}
