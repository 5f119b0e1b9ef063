/**
 * Which response a trustless gateway request asks for, from its `format`
 * query parameter and its `Accept` header (the trustless gateway spec's
 * "format" and "Accept (request header)": `format` takes precedence), and
 * the CAR parameters (IPIP-0402, IPIP-0412): `dag-scope`, `entity-bytes`,
 * and the CAR variant as `car-version`/`car-order`/`car-dups` query
 * parameters or `version`/`order`/`dups` Accept parameters, query first.
 *
 * Accept is read as RFC 9110 §12.5.1: media ranges by falling `q`, `q=0`
 * refused, the first one served wins. Strict trustless mode: a request that
 * names no trustless type at all (no Accept, or only wildcards) is a 400; one
 * that names only types this gateway does not make is a 406, as is a CAR
 * variant other than version 1 (Cairn writes depth-first, so `order=unk` is
 * served as `dfs`).
 */
import { GatewayError } from "./errors.ts";

export const RAW_TYPE = "application/vnd.ipld.raw";
export const CAR_TYPE = "application/vnd.ipld.car";

export type DagScope = "block" | "entity" | "all";

/** An `entity-bytes` range as asked: inclusive, negative from the end, `*` for the last byte. */
export interface ByteRange {
  readonly from: number;
  readonly to: number | "*";
}

export interface CarWanted {
  readonly format: "car";
  /** Send a block at every place it occurs in the DAG (`dups=y`), or once. */
  readonly dups: boolean;
  readonly scope: DagScope;
  readonly entityBytes?: ByteRange;
  /** Whether the format came from Accept (the answer then names its query form in Content-Location). */
  readonly fromAccept: boolean;
}

export type Wanted = { readonly format: "raw"; readonly fromAccept: boolean } | CarWanted;

export type Query = Readonly<Record<string, string | undefined>>;

interface MediaRange {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
  readonly q: number;
}

const Q_RE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(",")) {
    const [type, ...rawParams] = part.split(";").map((s) => s.trim());
    if (!type) continue;
    const params = new Map<string, string>();
    let q = 1;
    for (const param of rawParams) {
      const eq = param.indexOf("=");
      if (eq < 0) continue;
      const key = param.slice(0, eq).trim().toLowerCase();
      const value = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, "$1");
      if (key === "q") q = Q_RE.test(value) ? Number(value) : 0;
      else params.set(key, value);
    }
    ranges.push({ type: type.toLowerCase(), params, q });
  }
  // A stable sort keeps the client's order among equal weights.
  return ranges.filter((r) => r.q > 0).sort((a, b) => b.q - a.q);
}

/** The CAR variant asked for, or undefined when this gateway does not write it. */
function carVariant(get: (name: "version" | "order" | "dups") => string | undefined) {
  const version = get("version");
  const order = get("order");
  const dups = get("dups");
  if (version !== undefined && version !== "1") return undefined;
  if (order !== undefined && order !== "dfs" && order !== "unk") return undefined;
  if (dups !== undefined && dups !== "y" && dups !== "n") return undefined;
  return { dups: dups === "y" };
}

const isWildcard = (type: string) => type === "*/*" || type === "application/*";

/** The format the Accept header picks, with the CAR range it came from. */
function fromAccept(header: string | undefined): { format: "raw" | "car"; car?: MediaRange } {
  const ranges = parseAccept(header ?? "");
  for (const range of ranges) {
    if (range.type === RAW_TYPE) return { format: "raw" };
    if (range.type === CAR_TYPE && carVariant((k) => range.params.get(k)))
      return { format: "car", car: range };
  }
  if (ranges.every((r) => isWildcard(r.type)))
    throw new GatewayError(
      "no-format",
      `ask for ${RAW_TYPE} or ${CAR_TYPE} (Accept) or ?format=raw|car: this gateway serves only verifiable responses`,
    );
  throw new GatewayError(
    "not-acceptable",
    `this gateway serves ${RAW_TYPE} and ${CAR_TYPE} (version 1) only`,
  );
}

const ENTITY_BYTES_RE = /^(-?\d{1,15}):(-?\d{1,15}|\*)$/;

function parseEntityBytes(text: string): ByteRange {
  const match = ENTITY_BYTES_RE.exec(text);
  if (!match || match[1] === "-0" || match[2] === "-0")
    throw new GatewayError("bad-param", `entity-bytes must be from:to, not ${text.slice(0, 40)}`);
  const from = Number(match[1]);
  const to = match[2] === "*" ? "*" : Number(match[2]);
  // Both counted from the start and crossed: outside any file, knowable before reading one.
  if (to !== "*" && from >= 0 && to >= 0 && from > to)
    throw new GatewayError("bad-param", `entity-bytes ${text}: the range ends before it starts`);
  return { from, to };
}

function parseScope(query: Query): { scope: DagScope; entityBytes?: ByteRange } {
  const scope = query["dag-scope"];
  if (scope !== undefined && scope !== "block" && scope !== "entity" && scope !== "all")
    throw new GatewayError("bad-param", `dag-scope must be block, entity or all`);
  const bytes = query["entity-bytes"];
  if (bytes === undefined) return { scope: scope ?? "all" };
  if (scope !== undefined && scope !== "entity")
    throw new GatewayError(
      "bad-param",
      "entity-bytes asks for part of an entity: dag-scope=entity",
    );
  return { scope: "entity", entityBytes: parseEntityBytes(bytes) };
}

/** What the request asks for; throws the 400 or 406 it deserves. */
export function negotiate(query: Query, accept: string | undefined): Wanted {
  const format = query.format;
  if (format !== undefined && format !== "raw" && format !== "car")
    throw new GatewayError("not-acceptable", `format=${format.slice(0, 40)} is not served here`);
  let picked: { format: "raw" | "car"; car?: MediaRange };
  if (format === undefined) {
    picked = fromAccept(accept);
  } else {
    // The query picks the format; an Accept CAR range may still say which variant.
    const car = parseAccept(accept ?? "").find(
      (r) => r.type === CAR_TYPE && carVariant((k) => r.params.get(k)),
    );
    picked = { format, car };
  }
  if (picked.format === "raw") return { format: "raw", fromAccept: format === undefined };
  const variant = carVariant((k) => query[`car-${k}`] ?? picked.car?.params.get(k));
  if (!variant)
    throw new GatewayError("not-acceptable", "only CAR version 1 (order dfs or unk, dups y or n)");
  return { format: "car", ...variant, ...parseScope(query), fromAccept: format === undefined };
}

/** The query form of a CAR answer, as it is named in Content-Location and its Etag. */
export function carQuery(wanted: CarWanted): string {
  const params = [
    "format=car",
    `dag-scope=${wanted.scope}`,
    ...(wanted.entityBytes
      ? [`entity-bytes=${wanted.entityBytes.from}:${wanted.entityBytes.to}`]
      : []),
    "car-version=1",
    "car-order=dfs",
    `car-dups=${wanted.dups ? "y" : "n"}`,
  ];
  return params.join("&");
}
