/**
 * Generated npm-protocol requests for fuzzing an origin: publishes with
 * mutated manifests, tarballs and attachments; dist-tag, owner, deprecate
 * and unpublish requests (some built from stale packuments); odd names,
 * encodings and headers. Each request says which log entries it may add if
 * it succeeds, so a harness can check that the log holds exactly the
 * effects of the requests that got a 2xx.
 */

import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { publishBody } from "./publish-body.ts";
import { packageJson, type RawTarEntry, rawTar, rawTgz } from "./tar.ts";

export type Actor = "alice" | "bob" | "alice-readonly" | "anonymous" | "forged";

/** What a harness needs to send a request and judge its answer. */
export interface HostileRequest {
  readonly label: string;
  readonly method: "GET" | "HEAD" | "PUT" | "DELETE" | "POST";
  /** The path as sent, already encoded (the harness does not touch it). */
  readonly path: string;
  readonly actor: Actor;
  readonly body?: string | Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
  /** Keys of the entries a 2xx may add (see entryKey); a 2xx must add all of them unless `mayBeNoop`. */
  readonly effects: readonly string[];
  readonly mayBeNoop?: boolean;
  /** Why a registry must refuse it, when it must. */
  readonly mustFail?: string;
}

/** The world a round of requests is generated against: the packuments as last read. */
export interface Known {
  /** Packuments by name, as the harness last fetched them (possibly stale by now). */
  readonly packuments: ReadonlyMap<string, Packument>;
}

export interface Packument {
  readonly _rev?: string;
  readonly "dist-tags": Record<string, string>;
  readonly versions: Record<string, Record<string, unknown>>;
  readonly maintainers?: readonly { name: string }[];
}

/** The one key of an entry that a request's effect names. */
export function entryKey(entry: {
  kind: string;
  name?: string;
  actor?: string;
  version?: string | null;
  tag?: string;
  message?: string;
  user?: string;
  action?: string;
}): string {
  const who = `${entry.actor} ${entry.kind} ${entry.name}`;
  switch (entry.kind) {
    case "publish":
      return `${who}@${entry.version}`;
    case "dist-tag":
      return `${who} ${entry.tag}=${entry.version ?? "-"}`;
    case "deprecate":
      return `${who}@${entry.version} ${JSON.stringify(entry.message)}`;
    case "unpublish":
      return `${who}@${entry.version ?? "*"}`;
    case "owner":
      return `${who} ${entry.action} ${entry.user}`;
    default:
      return `${entry.kind}`;
  }
}

/** Names a well-formed request uses: a small pool, so requests collide on purpose. */
export const NAMES = ["fz-a", "fz-b", "@fz/c"] as const;
const VERSIONS = ["1.0.0", "1.0.1", "1.1.0", "2.0.0-rc.1", "3.0.0"];

const actorArb = fc.constantFrom<Actor>(
  "alice",
  "alice",
  "alice",
  "bob",
  "alice-readonly",
  "anonymous",
  "forged",
);
const effectiveActor = (a: Actor) => (a === "bob" ? "bob" : "alice");

/** How a name appears in a URL path: npm's form, and forms clients should not send. */
function encodeName(name: string, style: number): string {
  if (!name.startsWith("@"))
    return style === 3 ? encodeURIComponent(name).replace(/-/g, "%2D") : name;
  return [name.replace("/", "%2f"), name.replace("/", "%2F"), name, name.replace("/", "%252f")][
    style % 4
  ];
}

/** JSON values that stress a parser: deep nesting, huge strings, lone surrogates, odd numbers. */
const nastyJson: fc.Arbitrary<string> = fc.oneof(
  fc
    .integer({ min: 100, max: 6000 })
    .map((depth) => `${'{"a":'.repeat(depth)}"1"${"}".repeat(depth)}`),
  fc.integer({ min: 100, max: 6000 }).map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`),
  fc.constantFrom(
    '"\\ud800"',
    "1e400",
    "-0",
    '{"__proto__":{"x":"1"}}',
    '{"constructor":"1"}',
    "null",
    "[]",
    "true",
    '"x"',
    '{"a":1}',
    '{"left-pad":"^1"}',
    '{"":""}',
  ),
  fc.integer({ min: 1, max: 200_000 }).map((n) => JSON.stringify("x".repeat(n))),
  fc.json({ maxDepth: 4 }),
);

const RESOLUTION_FIELDS = [
  "dependencies",
  "optionalDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "bundleDependencies",
  "bin",
  "engines",
  "os",
  "cpu",
  "libc",
  "scripts",
  "directories",
  "description",
  "keywords",
];

type Mutation =
  | { kind: "none" }
  | { kind: "declared-field"; field: string; json: string }
  | { kind: "tarball-field"; field: string; json: string }
  | { kind: "both-fields"; field: string; json: string }
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; keep: number }
  | {
      kind: "tar-entries";
      entries:
        | "two-manifests"
        | "escape"
        | "chained-links"
        | "device"
        | "no-manifest"
        | "other-name";
    }
  | { kind: "bomb" }
  | { kind: "attachment"; how: "bad-base64" | "wrong-length" | "wrong-name" | "two" | "empty" }
  | { kind: "integrity"; how: "sha512" | "shasum" }
  | { kind: "tag"; tag: string }
  | { kind: "raw-body"; body: string };

const tagArb = fc.oneof(
  fc.constantFrom(
    "latest",
    "beta",
    "next",
    "v1",
    "../../x",
    "__proto__",
    "1.0.0",
    "^1",
    "",
    "a\0b",
    " x",
  ),
  fc.integer({ min: 200, max: 6000 }).map((n) => "t".repeat(n)),
  fc.string({ maxLength: 12 }),
);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Mutation>({ kind: "none" }) },
  fc.record({
    kind: fc.constant("declared-field" as const),
    field: fc.constantFrom(...RESOLUTION_FIELDS),
    json: nastyJson,
  }),
  fc.record({
    kind: fc.constant("tarball-field" as const),
    field: fc.constantFrom(...RESOLUTION_FIELDS),
    json: nastyJson,
  }),
  fc.record({
    kind: fc.constant("both-fields" as const),
    field: fc.constantFrom(...RESOLUTION_FIELDS),
    json: nastyJson,
  }),
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant("tar-entries" as const),
    entries: fc.constantFrom(
      "two-manifests",
      "escape",
      "chained-links",
      "device",
      "no-manifest",
      "other-name",
    ),
  }),
  fc.constant<Mutation>({ kind: "bomb" }),
  fc.record({
    kind: fc.constant("attachment" as const),
    how: fc.constantFrom("bad-base64", "wrong-length", "wrong-name", "two", "empty"),
  }),
  fc.record({ kind: fc.constant("integrity" as const), how: fc.constantFrom("sha512", "shasum") }),
  fc.record({ kind: fc.constant("tag" as const), tag: tagArb }),
  fc.record({
    kind: fc.constant("raw-body" as const),
    body: fc.oneof(
      nastyJson,
      fc.string(),
      fc.constantFrom("{", '{"name":"fz-a"}', "[1,2", "\u0000"),
    ),
  }),
);

function tarEntriesFor(name: string, version: string, how: string): RawTarEntry[] {
  const manifest = packageJson(name, version);
  switch (how) {
    case "two-manifests":
      return [manifest, packageJson(name, version, { scripts: { postinstall: "evil" } })];
    case "escape":
      return [manifest, { name: "package/x", type: "2", linkname: "../../etc/passwd" }];
    case "chained-links":
      return [
        manifest,
        { name: "package/a/b", type: "2", linkname: ".." },
        { name: "package/a/c", type: "2", linkname: "b/.." },
      ];
    case "device":
      return [manifest, { name: "package/dev", type: "3" }];
    case "no-manifest":
      return [{ name: "package/index.js", data: "1" }];
    default:
      return [packageJson(`${name}-other`, version)];
  }
}

/** A publish body for name@version with one mutation applied. */
function publishRequest(
  actor: Actor,
  name: string,
  version: string,
  style: number,
  mutation: Mutation,
): HostileRequest {
  // A nasty value is spliced in as text: parsing and re-encoding it here would overflow this stack first.
  const PLACEHOLDER = "\u0000nasty\u0000";
  const declared: Record<string, unknown> = { name, version };
  const inner: Record<string, unknown> = { name, version };
  const nasty = "json" in mutation ? mutation.json : "";
  if (mutation.kind === "declared-field" || mutation.kind === "both-fields")
    declared[mutation.field] = PLACEHOLDER;
  if (mutation.kind === "tarball-field" || mutation.kind === "both-fields")
    inner[mutation.field] = PLACEHOLDER;
  const splice = (json: string) => json.replace(JSON.stringify(PLACEHOLDER), () => nasty);
  let tgz: Uint8Array;
  if (mutation.kind === "tar-entries") tgz = rawTgz(tarEntriesFor(name, version, mutation.entries));
  else if (mutation.kind === "bomb")
    tgz = gzipSync(
      Buffer.concat([
        rawTar([packageJson(name, version)]).subarray(0, 512 * 2),
        Buffer.alloc(64 * 1024 * 1024),
      ]),
      { level: 9 },
    );
  else
    tgz = rawTgz([
      { name: "package/package.json", data: splice(JSON.stringify(inner)) },
      { name: "package/index.js", data: "module.exports = 1;\n" },
    ]);
  let bodyObject: Record<string, unknown> = publishBody(
    declared as { name: string; version: string },
    tgz,
  ) as Record<string, unknown>;
  if (mutation.kind === "truncate") tgz = tgz.subarray(0, mutation.keep % Math.max(1, tgz.length));
  if (mutation.kind === "flip" && tgz.length > 0) {
    const copy = Buffer.from(tgz);
    copy[mutation.at % copy.length] ^= 1 << mutation.bit;
    tgz = copy;
  }
  if (mutation.kind === "truncate" || mutation.kind === "flip") {
    // The declared integrity is of the intact tarball: the registry must notice.
    const intact = bodyObject._attachments as Record<string, { data: string; length: number }>;
    for (const a of Object.values(intact)) {
      a.data = Buffer.from(tgz).toString("base64");
      a.length = tgz.length;
    }
  }
  const attachments = bodyObject._attachments as Record<string, Record<string, unknown>>;
  const [fileName] = Object.keys(attachments);
  if (mutation.kind === "attachment") {
    const a = attachments[fileName];
    if (mutation.how === "bad-base64") a.data = `${String(a.data).slice(0, 10)}*!*`;
    if (mutation.how === "wrong-length") a.length = Number(a.length) + 1;
    if (mutation.how === "wrong-name") bodyObject._attachments = { "other-9.9.9.tgz": a };
    if (mutation.how === "two") attachments["second.tgz"] = a;
    if (mutation.how === "empty") a.data = "";
  }
  if (mutation.kind === "integrity") {
    const dist = (bodyObject.versions as Record<string, { dist: Record<string, string> }>)[version]
      .dist;
    if (mutation.how === "sha512")
      dist.integrity = `sha512-${Buffer.alloc(64, 7).toString("base64")}`;
    else dist.shasum = "0".repeat(40);
  }
  if (mutation.kind === "tag")
    bodyObject = { ...bodyObject, "dist-tags": { [mutation.tag]: version } };
  const body = mutation.kind === "raw-body" ? mutation.body : splice(JSON.stringify(bodyObject));
  return {
    label: `publish ${name}@${version} as ${actor} (${mutation.kind}${"field" in mutation ? ` ${mutation.field}=${mutation.json.slice(0, 40)}` : ""}${"how" in mutation ? ` ${mutation.how}` : ""}${"entries" in mutation ? ` ${mutation.entries}` : ""})`,
    method: "PUT",
    path: `/${encodeName(name, style)}`,
    actor,
    body,
    headers: { "content-type": "application/json" },
    // Whatever the registry accepts, it is this publish; a mutated body may be accepted only if harmless.
    effects: [entryKey({ kind: "publish", actor: effectiveActor(actor), name, version })],
    mustFail: mustRefuse(mutation),
  };
}

const DEPENDENCY_FIELDS = new Set(["dependencies", "optionalDependencies", "peerDependencies"]);

/** Why a registry must refuse a publish with this mutation, or undefined if it may accept it. */
function mustRefuse(mutation: Mutation): string | undefined {
  switch (mutation.kind) {
    case "declared-field":
    case "tarball-field": {
      // Declared and packed dependencies that disagree are manifest confusion.
      const value = mutation.json.trim();
      const harmless = value === "{}" || value === "null";
      return DEPENDENCY_FIELDS.has(mutation.field) && !harmless
        ? `${mutation.field} differs between the manifest and the tarball`
        : undefined;
    }
    case "flip":
    case "truncate":
      return "the tarball does not match its declared integrity";
    case "tar-entries":
      return `the tarball is unsafe (${mutation.entries})`;
    case "attachment":
      return `the attachment is malformed (${mutation.how})`;
    case "integrity":
      return `the declared ${mutation.how} is wrong`;
    case "tag":
      return /^[a-z][a-z0-9._-]{0,63}$/i.test(mutation.tag) && !/^v?\d/.test(mutation.tag)
        ? undefined
        : "the dist-tag name is not a tag";
    case "raw-body":
      return "the body is not a publish";
    default:
      return undefined;
  }
}

/** A packument sent back edited, from what the harness last read (possibly stale). */
function updateRequest(
  actor: Actor,
  name: string,
  known: Known,
  change:
    | { kind: "deprecate"; pick: number; message: string }
    | { kind: "unpublish"; pick: number }
    | { kind: "owner"; user: string; action: "add" | "rm" },
): HostileRequest | undefined {
  const packument = known.packuments.get(name);
  if (!packument) return undefined;
  const versions = Object.keys(packument.versions);
  const who = effectiveActor(actor);
  const doc = structuredClone(packument) as Packument & Record<string, unknown>;
  let effect: string;
  if (change.kind === "owner") {
    const names = new Set((doc.maintainers ?? []).map((m) => m.name));
    if (change.action === "add") names.add(change.user);
    else names.delete(change.user);
    (doc as Record<string, unknown>).maintainers = [...names].map((n) => ({ name: n }));
    effect = entryKey({
      kind: "owner",
      actor: who,
      name,
      user: change.user,
      action: change.action,
    });
  } else {
    if (versions.length === 0) return undefined;
    const version = versions[change.pick % versions.length];
    if (change.kind === "deprecate") {
      doc.versions[version] = { ...doc.versions[version], deprecated: change.message };
      effect = entryKey({ kind: "deprecate", actor: who, name, version, message: change.message });
    } else {
      delete doc.versions[version];
      effect = entryKey({ kind: "unpublish", actor: who, name, version });
    }
  }
  return {
    label: `${change.kind} ${name} as ${actor} from rev ${packument._rev ?? "?"}`,
    method: "PUT",
    path: `/${encodeName(name, 0)}/-rev/${encodeURIComponent(packument._rev ?? "0-0")}`,
    actor,
    body: JSON.stringify(doc),
    headers: { "content-type": "application/json" },
    effects: [effect],
    // The same message again, an owner already there: a registry may answer 200 and log nothing.
    mayBeNoop: true,
  };
}

/** Requests that are not publishes or packument edits: tags, owners by pnpm's API, odd paths. */
const otherArb = (name: string, actor: Actor, style: number): fc.Arbitrary<HostileRequest> =>
  fc.oneof(
    fc
      .record({ tag: tagArb, version: fc.constantFrom(...VERSIONS, "9.9.9", "x") })
      .map(({ tag, version }) => ({
        label: `dist-tag ${name} ${JSON.stringify(tag).slice(0, 40)}=${version} as ${actor}`,
        method: "PUT" as const,
        path: `/-/package/${encodeName(name, style)}/dist-tags/${encodeURIComponent(tag)}`,
        actor,
        body: JSON.stringify(version),
        headers: { "content-type": "application/json" },
        effects: [entryKey({ kind: "dist-tag", actor: effectiveActor(actor), name, tag, version })],
        mayBeNoop: true,
      })),
    tagArb.map((tag) => ({
      label: `dist-tag rm ${name} ${JSON.stringify(tag).slice(0, 40)} as ${actor}`,
      method: "DELETE" as const,
      path: `/-/package/${encodeName(name, style)}/dist-tags/${encodeURIComponent(tag)}`,
      actor,
      effects: [
        entryKey({ kind: "dist-tag", actor: effectiveActor(actor), name, tag, version: null }),
      ],
      mayBeNoop: true,
    })),
    fc.constantFrom("bob", "alice", "nobody-here").map((user) => ({
      label: `owner add ${user} to ${name} (pnpm) as ${actor}`,
      method: "PUT" as const,
      path: `/-/package/${encodeName(name, style)}/owners`,
      actor,
      body: JSON.stringify({ user }),
      headers: { "content-type": "application/json" },
      effects: [
        entryKey({ kind: "owner", actor: effectiveActor(actor), name, user, action: "add" }),
      ],
      mayBeNoop: true,
    })),
    fc.constant({
      label: `unpublish all of ${name} as ${actor}`,
      method: "DELETE" as const,
      path: `/${encodeName(name, style)}/-rev/0-0`,
      actor,
      effects: [entryKey({ kind: "unpublish", actor: effectiveActor(actor), name })],
      mayBeNoop: true,
    }),
    fc
      .constantFrom(
        "/%25",
        "/%",
        "/foo%bar",
        "/@sc%252fpkg",
        "/%ff%fe",
        `/${"n".repeat(214)}`,
        `/@fz/${"n".repeat(150)}`,
        "/-/user/org.couchdb.user:%00",
        "/-/package/%2e%2e/dist-tags",
        "/-/v1/search?text=%ff&size=1e400",
        "/-/v1/search?text=a&size=-1&from=99999999999999999999",
        "/fz-a/-/fz-a-1.0.0.tgz",
        "/fz-a/-/..%2f..%2fkey",
        "/-/cairn/../key",
        "/-/cairn/tile/0/x001/x002/003",
        "/-/cairn/blob/sha256/..",
        "/-/whoami",
        "/-/npm/v1/security/advisories/bulk",
      )
      .chain((path) =>
        fc.constantFrom("GET", "HEAD", "PUT", "DELETE", "POST").map((method) => ({
          label: `${method} ${path.slice(0, 60)} as ${actor}`,
          method: method as HostileRequest["method"],
          path,
          actor,
          ...(method === "PUT" || method === "POST"
            ? { body: '{"a":"\\ud800","n":1e400}', headers: { "content-type": "application/json" } }
            : {}),
          // An odd path names no package this harness tracks, so it must not change anything.
          effects: [],
        })),
      ),
  );

/** A request prints as its label in a counterexample: its body may be megabytes. */
function labelled(request: HostileRequest): HostileRequest {
  return Object.assign(request, { [fc.toStringMethod]: () => request.label });
}

/** One request, against what the harness last read. */
export function requestArb(known: Known): fc.Arbitrary<HostileRequest> {
  return fc
    .record({
      actor: actorArb,
      name: fc.constantFrom(...NAMES),
      version: fc.constantFrom(...VERSIONS),
      style: fc.nat({ max: 3 }),
      choice: fc.nat({ max: 99 }),
      mutation: mutationArb,
      pick: fc.nat(),
      message: fc.oneof(
        fc.constantFrom("", "old", "too old", "\ud800", "x".repeat(3000)),
        fc.string({ maxLength: 20 }),
      ),
      user: fc.constantFrom("bob", "alice", "nobody-here"),
      action: fc.constantFrom<"add" | "rm">("add", "rm"),
    })
    .chain((r) => {
      if (r.choice < 45)
        return fc.constant(publishRequest(r.actor, r.name, r.version, r.style, r.mutation));
      const update =
        r.choice < 55
          ? updateRequest(r.actor, r.name, known, {
              kind: "deprecate",
              pick: r.pick,
              message: r.message,
            })
          : r.choice < 60
            ? updateRequest(r.actor, r.name, known, { kind: "unpublish", pick: r.pick })
            : r.choice < 68
              ? updateRequest(r.actor, r.name, known, {
                  kind: "owner",
                  user: r.user,
                  action: r.action,
                })
              : undefined;
      return update ? fc.constant(update) : otherArb(r.name, r.actor, r.style);
    })
    .map(labelled);
}
