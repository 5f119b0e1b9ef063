/**
 * Property tests of the decoders of everything a copy of the log reads
 * about packages: entries and package documents. Generated and mutated
 * inputs never make them throw anything but an EntryError, and whatever
 * they accept re-encodes to exactly the bytes they were given.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { npm } from "../../src/npm/rules/ecosystem.ts";
import { canonicalJsonBytes } from "../../src/registry/canonical-json.ts";
import { checkEntryWith } from "../../src/registry/ecosystem.ts";
import {
  checkEntry,
  decodeEntry,
  type Entry,
  EntryError,
  encodeEntry,
  isPackageEntry,
  type PackageEntry,
} from "../../src/registry/entries.ts";
import {
  decodeDocument,
  encodeDocument,
  foldEntry,
  type PackageDocument,
} from "../../src/registry/package-document.ts";
import { oldCheckEntry } from "./old-entry-check.ts";

const RUNS = Number(process.env.CAIRN_FUZZ_RUNS ?? 300);

const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: n, maxLength: n });
const time = fc
  .date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true })
  .map((d) => d.toISOString());
const name = fc.constantFrom("a", "left-pad", "@scope/pkg", "x".repeat(214));
const version = fc.constantFrom("1.0.0", "1.0.1", "2.0.0-beta.1", "0.0.0");
const words = fc.string({ minLength: 1, maxLength: 20 });
const specs = fc.dictionary(words, fc.string({ maxLength: 40 }), {
  maxKeys: 5,
  noNullPrototype: true,
});

const resolution = fc.record(
  {
    dependencies: specs,
    optionalDependencies: specs,
    peerDependencies: specs,
    peerDependenciesMeta: fc.dictionary(words, fc.record({ optional: fc.boolean() }), {
      maxKeys: 3,
    }),
    bundleDependencies: fc.oneof(fc.boolean(), fc.array(words, { maxLength: 3 })),
    bin: fc.oneof(words, fc.dictionary(words, words, { maxKeys: 3, noNullPrototype: true })),
    directories: fc.dictionary(words, words, { maxKeys: 3, noNullPrototype: true }),
    engines: fc.dictionary(words, words, { maxKeys: 3, noNullPrototype: true }),
    os: fc.oneof(words, fc.array(words, { maxLength: 3 })),
    cpu: fc.array(words, { maxLength: 3 }),
    libc: fc.array(words, { maxLength: 3 }),
    deprecated: fc.string({ maxLength: 50 }),
    _hasShrinkwrap: fc.boolean(),
    hasInstallScript: fc.constant(true as const),
  },
  { requiredKeys: [] },
);

const base = fc.record({
  v: fc.constant(1 as const),
  ecosystem: fc.constant("npm" as const),
  name,
  time,
  actor: fc.constantFrom("alice", "bob"),
});

/** Plain objects, as JSON.parse makes them (fast-check makes some without a prototype). */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value));

const packageEntry: fc.Arbitrary<PackageEntry> = fc
  .oneof(
    fc
      .record({
        base,
        version,
        tag: fc.option(fc.constantFrom("latest", "next"), { nil: undefined }),
        artifact: fc.record({
          sha256: hex(64),
          sha512: fc.constant(`${"A".repeat(86)}==`),
          sha1: hex(40),
          size: fc.nat(),
        }),
        manifest: fc.record({ sha256: hex(64), size: fc.nat() }),
        resolution,
        description: fc.option(fc.string({ maxLength: 100 }), { nil: undefined }),
        keywords: fc.option(fc.array(words, { minLength: 1, maxLength: 4 }), { nil: undefined }),
      })
      .map(({ base, tag, description, keywords, ...rest }) => ({
        ...base,
        kind: "publish" as const,
        ...rest,
        ...(tag ? { tag } : {}),
        ...(description !== undefined ? { description } : {}),
        ...(keywords ? { keywords } : {}),
      })),
    fc.record({ base, version }).map(({ base, version }) => ({
      ...base,
      kind: "unpublish" as const,
      version,
    })),
    fc
      .record({ base, tag: fc.constantFrom("latest", "beta"), version: fc.option(version) })
      .map(({ base, ...rest }) => ({ ...base, kind: "dist-tag" as const, ...rest })),
    fc
      .record({ base, version, message: fc.string({ maxLength: 50 }) })
      .map(({ base, ...rest }) => ({ ...base, kind: "deprecate" as const, ...rest })),
    fc
      .record({ base, user: fc.constantFrom("bob", "carol"), action: fc.constantFrom("add", "rm") })
      .map(({ base, ...rest }) => ({ ...base, kind: "owner" as const, ...rest }) as PackageEntry),
  )
  .map(plain);

const entry: fc.Arbitrary<Entry> = fc
  .oneof(
    packageEntry,
    fc
      .record({
        time,
        size: fc.nat(),
        root: fc.record({ sha256: hex(64), size: fc.nat() }),
        shards: fc.constantFrom(1, 2, 256),
        packages: fc.nat(),
      })
      .map((r) => ({ v: 1 as const, kind: "snapshot" as const, ...r })),
  )
  .map(plain);

/** Byte-level damage: flips, insertions, deletions, a cut. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("splice" as const),
    at: fc.nat(),
    text: fc.constantFrom('{"a":', "[", "]", "}", "\\ud800", '"', ",", "1e400", "-0", "null"),
  }),
);

interface Edit {
  readonly op: string;
  readonly at: number;
  readonly byte?: number;
  readonly text?: string;
}

function mutate(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let out = Buffer.from(bytes);
  for (const edit of edits) {
    const at = out.length === 0 ? 0 : edit.at % out.length;
    if (edit.op === "flip") out[at] = edit.byte as number;
    else if (edit.op === "insert")
      out = Buffer.concat([out.subarray(0, at), Buffer.of(edit.byte as number), out.subarray(at)]);
    else if (edit.op === "delete") out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else if (edit.op === "cut") out = out.subarray(0, at);
    else
      out = Buffer.concat([
        out.subarray(0, at),
        Buffer.from(edit.text as string),
        out.subarray(at),
      ]);
  }
  return out;
}

/** Runs `decode`: it accepts bytes that re-encode to themselves, or throws an EntryError. */
function decodesStrictly<T>(
  decode: (b: Uint8Array) => T,
  encode: (v: T) => Uint8Array,
  bytes: Uint8Array,
) {
  let value: T;
  try {
    value = decode(bytes);
  } catch (err) {
    if (err instanceof EntryError) return;
    throw err;
  }
  assert.ok(Buffer.from(encode(value)).equals(bytes), "accepted bytes that do not re-encode");
}

describe("entry and document decoders under fuzzing", () => {
  test("every generated entry encodes, decodes back and re-encodes to the same bytes", () => {
    fc.assert(
      fc.property(entry, (e) => {
        const bytes = encodeEntry(e);
        assert.deepEqual(decodeEntry(bytes), e);
        assert.ok(Buffer.from(encodeEntry(decodeEntry(bytes))).equals(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  test("mutated entry bytes: an EntryError or an entry that re-encodes to them", () => {
    fc.assert(
      fc.property(entry, fc.array(mutation, { minLength: 1, maxLength: 4 }), (e, edits) => {
        decodesStrictly(decodeEntry, canonicalJsonBytes, mutate(encodeEntry(e), edits));
      }),
      { numRuns: RUNS * 4 },
    );
  });

  test("arbitrary bytes and arbitrary JSON: only EntryErrors", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.jsonValue({ maxDepth: 6 }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
        ),
        (bytes) => decodesStrictly(decodeEntry, canonicalJsonBytes, bytes),
      ),
      { numRuns: RUNS * 4 },
    );
  });

  test("a field replaced by any JSON value, however deep: only EntryErrors, on append and on read", () => {
    // Built inside the property: fast-check could not print a counterexample this deep.
    const nest = (depth: number) => {
      let value: unknown = "x";
      for (let i = 0; i < depth; i++) value = depth % 2 ? [value] : { a: value };
      return value;
    };
    const deep = fc.nat({ max: 20_000 }).map((depth) => ({ depth }));
    fc.assert(
      fc.property(
        entry,
        fc.nat(),
        fc.boolean(),
        fc.oneof(
          fc.jsonValue({ maxDepth: 4 }),
          deep,
          fc.constantFrom("\ud800", Number.POSITIVE_INFINITY, -0, undefined),
        ),
        (e, pick, inResolution, generated) => {
          const replacement =
            typeof generated === "object" && generated !== null && "depth" in generated
              ? nest(generated.depth as number)
              : generated;
          const inside = inResolution && e.kind === "publish";
          const target: Record<string, unknown> = inside ? { ...e.resolution } : { ...e };
          const keys = [...Object.keys(target), "extra"];
          target[keys[pick % keys.length]] = replacement;
          const value: unknown = inside ? { ...e, resolution: target } : target;
          for (const check of ["append", "read"] as const) {
            try {
              checkEntry(value, check);
            } catch (err) {
              if (!(err instanceof EntryError)) throw err;
            }
          }
          try {
            const bytes = encodeEntry(value as unknown as Entry);
            assert.ok(Buffer.from(canonicalJsonBytes(decodeEntry(bytes))).equals(bytes));
          } catch (err) {
            if (!(err instanceof EntryError)) throw err;
          }
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  /** The split checker as a strict reader runs it: the envelope, then the ecosystem's rules. */
  const accepts = (check: (value: unknown) => void, value: unknown): boolean => {
    try {
      check(value);
      return true;
    } catch (err) {
      if (err instanceof EntryError) return false;
      throw err;
    }
  };
  const sha512 = `${"A".repeat(86)}==`;
  const importOrArtifact = fc.oneof(
    fc
      .record({ base, version, integrity: fc.constant({ sha512, sha1: "a".repeat(40) }) })
      .map(({ base, ...rest }) => ({
        ...base,
        kind: "import",
        uplink: "npmjs",
        manifest: { sha256: "b".repeat(64), size: 3 },
        resolution: {},
        ...rest,
      })),
    fc.record({ base, version }).map(({ base, version }) => ({
      ...base,
      kind: "artifact",
      version,
      artifact: { sha256: "c".repeat(64), sha512, sha1: "d".repeat(40), size: 9 },
    })),
    fc.record({ base, version, yanked: fc.boolean() }).map(({ base, ...rest }) => ({
      ...base,
      kind: "yank",
      ...rest,
    })),
  );
  /** Values that sit on the line between the envelope and npm's rules. */
  const borderline = fc.constantFrom<unknown>(
    "1.0",
    "v1.0.0",
    "1.0.0+build.1",
    "01.0.0",
    "1.0.0-rc.1",
    "x".repeat(300),
    "cargo",
    "NPM",
    "Cargo",
    {},
    { sha1: "a".repeat(40) },
    { sha512 },
    { sha256: "a".repeat(64) },
    { sha1: "A".repeat(40) },
    { sha512, sha1: "a".repeat(40), md5: "x" },
    { sha256: "a".repeat(64), size: 1 },
    { sha256: "a".repeat(64), size: 1, sha1: "a".repeat(40) },
    { sha256: "a".repeat(64), size: 1, sha512 },
    { sha256: "a".repeat(64), size: 1, sha512, sha1: "a".repeat(40), extra: 1 },
    { dependencies: { a: 1 } },
    { dependencies: { a: "^1" }, scripts: {} },
    { x: [[[[[[[[[1]]]]]]]]] },
    "yank",
    true,
    null,
  );
  /** The entry, and each of its fields (and each field of an object field) replaced or deleted. */
  function* variants(e: Record<string, unknown>, replacement: unknown) {
    yield e;
    for (const key of [...Object.keys(e), "extra"]) {
      yield { ...e, [key]: replacement };
      const { [key]: _, ...without } = e;
      yield without;
      const field = e[key];
      if (typeof field !== "object" || field === null || Array.isArray(field)) continue;
      for (const inner of [...Object.keys(field), "extra"]) {
        yield { ...e, [key]: { ...field, [inner]: replacement } };
        const { [inner]: _gone, ...rest } = field as Record<string, unknown>;
        yield { ...e, [key]: rest };
      }
    }
  }
  // The old checker knew npm alone: other ecosystems' entries are no part of the comparison.
  const NPM_ONLY = new Map([[npm.id, npm]]);
  test("the split checker accepts exactly the npm entries the old checker did (a frozen oracle)", () => {
    fc.assert(
      fc.property(
        fc.oneof(entry, importOrArtifact),
        fc.oneof(borderline, fc.jsonValue({ maxDepth: 3 })),
        (e, replacement) => {
          for (const value of variants(e as Record<string, unknown>, replacement))
            for (const check of ["append", "read"] as const) {
              const before = accepts((v) => oldCheckEntry(v, check), value);
              const after = accepts((v) => {
                const checked = checkEntry(v, check);
                if (isPackageEntry(checked)) checkEntryWith(NPM_ONLY, checked, check);
              }, value);
              assert.equal(after, before, `${check}: ${JSON.stringify(value).slice(0, 400)}`);
            }
        },
      ),
      { numRuns: Math.max(3000, RUNS * 10) },
    );
  });

  /** A package document folded from generated entries about one package. */
  const document = fc.array(packageEntry, { minLength: 1, maxLength: 12 }).map((entries) => {
    let doc: PackageDocument | undefined;
    entries.forEach((e, index) => {
      if (!isPackageEntry(e)) return;
      try {
        doc = foldEntry(doc, { ...e, name: "pkg" }, index, npm);
      } catch (err) {
        if (!(err instanceof EntryError)) throw err;
      }
    });
    return doc;
  });

  test("folding generated entries throws nothing but EntryErrors, and gives documents that decode back", () => {
    fc.assert(
      fc.property(fc.array(packageEntry, { minLength: 1, maxLength: 20 }), (entries) => {
        let doc: PackageDocument | undefined;
        entries.forEach((e, index) => {
          try {
            doc = foldEntry(doc, { ...e, name: "pkg" }, index, npm);
          } catch (err) {
            if (!(err instanceof EntryError && err.code === "cannot-apply")) throw err;
          }
        });
        if (doc !== undefined)
          assert.deepEqual(decodeDocument(encodeDocument(doc), ECOSYSTEMS), doc);
      }),
      { numRuns: RUNS },
    );
  });

  test("package documents: generated ones decode back; mutated ones are refused or re-encode", () => {
    fc.assert(
      fc.property(document, fc.array(mutation, { maxLength: 4 }), (doc, edits) => {
        if (doc === undefined) return;
        const bytes = encodeDocument(doc);
        assert.deepEqual(decodeDocument(bytes, ECOSYSTEMS), doc);
        decodesStrictly((b) => decodeDocument(b, ECOSYSTEMS), encodeDocument, mutate(bytes, edits));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test("the worst entry and document to parse are refused quickly", () => {
    const worst = [
      "[".repeat(65_535),
      `{"resolution":${'{"a":'.repeat(13_000)}`,
      `{"v":1,"kind":"publish","resolution":{"dependencies":${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}}`,
    ];
    for (const text of worst) {
      const bytes = new TextEncoder().encode(text);
      const started = performance.now();
      assert.throws(() => decodeEntry(bytes), EntryError);
      assert.throws(() => decodeDocument(bytes, ECOSYSTEMS), EntryError);
      assert.ok(performance.now() - started < 1000);
    }
  });
});
