import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ECOSYSTEMS } from "../../src/ecosystems/index.ts";
import { canonicalJsonBytes, type JsonValue } from "../../src/registry/canonical-json.ts";
import { checkEntryWith, decodeEntryWith, encodeEntryWith } from "../../src/registry/ecosystem.ts";
import {
  blobsNamedBy,
  checkVersionEntry,
  type Entry,
  EntryError,
  type PackageEntry,
} from "../../src/registry/entries.ts";

/** Entries as a strict reader and the origin check them: the envelope and npm's rules. */
const encodeStrict = (entry: Entry) => encodeEntryWith(entry, ECOSYSTEMS);
const decodeStrict = (bytes: Uint8Array) => decodeEntryWith(bytes, ECOSYSTEMS);
const npmRules = (entry: PackageEntry) => checkEntryWith(ECOSYSTEMS, entry, "read");

const base = {
  v: 1,
  ecosystem: "npm",
  name: "left-pad",
  time: "2026-11-21T06:00:00.000Z",
  actor: "alice",
} as const;
const publish: Entry = {
  ...base,
  kind: "publish",
  version: "1.3.0",
  tag: "latest",
  artifact: {
    sha256: "a".repeat(64),
    sha512: `${"A".repeat(86)}==`,
    sha1: "b".repeat(40),
    size: 1234,
  },
  manifest: { sha256: "c".repeat(64), size: 890 },
  resolution: { dependencies: { "is-number": "^7.0.0" }, bin: { pad: "cli.js" } },
};

const imported = {
  ...base,
  kind: "import",
  version: "1.3.0",
  uplink: "npm",
  integrity: { sha1: "b".repeat(40) },
  manifest: { sha256: "c".repeat(64), size: 890 },
  resolution: {},
} as const;

const isCode = (code: string) => (err: unknown) => err instanceof EntryError && err.code === code;

describe("log entries", () => {
  test("encode to canonical JSON and decode back", () => {
    const entries: Entry[] = [
      publish,
      { ...base, kind: "unpublish", version: "1.3.0" },
      { ...base, kind: "unpublish" },
      { ...base, kind: "dist-tag", tag: "next", version: "1.3.0" },
      { ...base, kind: "dist-tag", tag: "next", version: null },
      { ...base, kind: "deprecate", version: "1.3.0", message: "use string.padStart" },
      { ...base, kind: "owner", user: "bob", action: "add" },
    ];
    for (const entry of entries) {
      const bytes = encodeStrict(entry);
      assert.deepEqual(decodeStrict(bytes), entry);
      const text = new TextDecoder().decode(bytes);
      assert.ok(text.startsWith('{"'), text);
      assert.ok(!text.includes(" ") || entry.kind === "deprecate", text);
    }
    assert.match(
      new TextDecoder().decode(encodeStrict(publish)),
      /^\{"actor":"alice","artifact":\{"sha1"/,
    );
  });

  test("malformed entries are refused", () => {
    const bad: unknown[] = [
      { ...publish, v: 2 },
      { ...publish, kind: "yank" },
      { ...publish, ecosystem: "cargo" },
      { ...publish, extra: 1 },
      { ...publish, time: "2026-11-21" },
      { ...publish, name: "" },
      {
        ...publish,
        artifact: { ...(publish.kind === "publish" && publish.artifact), sha256: "A".repeat(64) },
      },
      { ...publish, manifest: { sha256: "c".repeat(64) } },
      { ...base, kind: "owner", user: "bob", action: "give" },
      { ...base, kind: "dist-tag", tag: "next" },
      [],
      null,
    ];
    for (const value of bad) {
      assert.throws(() => encodeStrict(value as Entry), isCode("bad-field"), JSON.stringify(value));
    }
  });

  test("every string field is capped", () => {
    const long = (n: number) => "x".repeat(n + 1);
    const bad: unknown[] = [
      { ...publish, name: long(214) },
      { ...publish, actor: long(214) },
      { ...publish, version: long(256) },
      { ...publish, tag: long(128) },
      { ...base, kind: "dist-tag", tag: long(128), version: "1.0.0" },
      { ...base, kind: "deprecate", version: "1.3.0", message: long(1024) },
      { ...base, kind: "owner", user: long(214), action: "add" },
      { ...publish, name: "\ud800" },
      { ...publish, version: "constructor" },
      { ...publish, version: "v1.0.0" },
      { ...base, kind: "deprecate", version: "__proto__", message: "" },
    ];
    for (const value of bad)
      assert.throws(() => encodeStrict(value as Entry), isCode("bad-field"), JSON.stringify(value));
    assert.doesNotThrow(() => encodeStrict({ ...publish, name: "x".repeat(214) }));
  });

  test("resolution fields have npm's exact shapes", () => {
    const good: Record<string, unknown>[] = [
      {},
      { dependencies: { a: "^1.0.0", b: "" }, optionalDependencies: { c: "git+https://x/y" } },
      { peerDependencies: { react: ">=18" }, peerDependenciesMeta: { react: { optional: true } } },
      { peerDependenciesMeta: { react: {} } },
      { bundleDependencies: ["a"], bin: "cli.js", directories: { bin: "./bin" } },
      { bundleDependencies: true, bin: { pad: "cli.js" }, engines: { node: ">=18" } },
      { os: ["linux", "!win32"], cpu: "x64", libc: ["glibc"], deprecated: "use x" },
      { _hasShrinkwrap: false, hasInstallScript: true },
    ];
    for (const resolution of good) {
      const entry = { ...publish, resolution } as Entry;
      assert.deepEqual(decodeStrict(encodeStrict(entry)), entry);
    }
    const deep = (depth: number) => {
      let value: unknown = "1.0.0";
      for (let i = 0; i < depth; i++) value = { a: value };
      return value;
    };
    const bad: [string, Record<string, unknown>][] = [
      ["dependencies.a", { dependencies: deep(2) }],
      // Refused by the envelope's depth bound before npm's shapes are looked at.
      ["dependencies", { dependencies: deep(4400) }],
      ["dependencies", { dependencies: ["a"] }],
      ["dependencies", { dependencies: { "": "1" } }],
      ["dependencies.a", { dependencies: { a: "x".repeat(1025) } }],
      [
        "peerDependencies",
        {
          peerDependencies: Object.fromEntries(
            Array.from({ length: 1001 }, (_, i) => [`p${i}`, ""]),
          ),
        },
      ],
      ["peerDependenciesMeta.a", { peerDependenciesMeta: { a: { optional: "yes" } } }],
      ["peerDependenciesMeta.a", { peerDependenciesMeta: { a: { optional: true, x: 1 } } }],
      ["bundleDependencies", { bundleDependencies: "a" }],
      ["bin", { bin: 7 }],
      ["bin.x", { bin: { x: { y: "z" } } }],
      ["directories", { directories: "lib" }],
      ["engines", { engines: [">=0.4"] }],
      ["os", { os: [["linux"]] }],
      ["cpu", { cpu: "" }],
      ["libc", { libc: [1] }],
      ["deprecated", { deprecated: true }],
      ["_hasShrinkwrap", { _hasShrinkwrap: "false" }],
      ["hasInstallScript", { hasInstallScript: false }],
      ["scripts", { scripts: {} }],
      ["__proto__", JSON.parse('{"__proto__": {}}')],
    ];
    for (const [field, resolution] of bad) {
      const entry = { ...publish, resolution } as Entry;
      assert.throws(
        () => encodeStrict(entry),
        (err) => isCode("bad-field")(err) && (err as Error).message.includes(`field ${field} `),
        field,
      );
    }
  });

  test("non-canonical bytes are refused on decode", () => {
    const text = new TextDecoder().decode(encodeStrict(publish));
    assert.throws(() => decodeStrict(Buffer.from(` ${text}`)), /canonical/);
    assert.throws(
      () =>
        decodeStrict(
          Buffer.from(
            text.replace('{"actor":"alice",', '{"v":1,"actor":"alice",').replace(',"v":1}', "}"),
          ),
        ),
      /canonical/,
    );
    assert.throws(() => decodeStrict(Buffer.of(0xff)), /UTF-8 JSON/);
  });

  test("entries over 64 KiB are refused with a clear error", () => {
    const dependencies = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [
        `dep-${i}`,
        `https://example.com/${"x".repeat(1000)}`,
      ]),
    );
    const huge = { ...publish, resolution: { dependencies } };
    assert.throws(() => encodeStrict(huge), /over the 65535-byte limit/);
    assert.throws(() => encodeStrict(huge), isCode("too-large"));
  });

  test("reading takes what older versions appended; appending takes only the exact schema", () => {
    const legacy: Entry[] = [
      { ...publish, resolution: { engines: [">=0.4"] as never, scripts: { test: "x" } } },
      { ...base, kind: "dist-tag", tag: "t".repeat(5000), version: "1.3.0" },
      { ...base, kind: "deprecate", version: "1.3.0", message: "m".repeat(5000) },
    ];
    for (const entry of legacy) {
      const bytes = canonicalJsonBytes(entry);
      assert.deepEqual(decodeStrict(bytes), entry);
      assert.throws(() => encodeStrict(entry), isCode("bad-field"));
    }
    let deep: JsonValue = "1.0.0";
    for (let i = 0; i < 9; i++) deep = { a: deep };
    const bytes = canonicalJsonBytes({ ...publish, resolution: { dependencies: deep } });
    assert.throws(() => decodeStrict(bytes), isCode("bad-field"));
  });

  test("a publish or artifact entry may name its file index, which mirrors then copy", () => {
    const files = { sha256: "d".repeat(64), size: 321 };
    const artifact = {
      ...base,
      kind: "artifact",
      version: "1.3.0",
      artifact: publish.kind === "publish" ? publish.artifact : (undefined as never),
    } as const;
    for (const entry of [
      { ...publish, files },
      { ...artifact, files },
    ] as Entry[]) {
      assert.deepEqual(decodeStrict(encodeStrict(entry)), entry);
      assert.ok(blobsNamedBy(entry).some((b) => b.ref.sha256 === files.sha256 && !b.artifact));
    }
    // Entries written before the field existed read as they always did, and name no index.
    assert.deepEqual(decodeStrict(canonicalJsonBytes(publish)), publish);
    assert.equal(blobsNamedBy(publish).length, 2);
    for (const wrong of [
      { ...publish, files: { ...files, extra: 1 } },
      { ...publish, files: { sha256: "D".repeat(64), size: 1 } },
      { ...publish, files: { sha256: files.sha256, size: -1 } },
      { ...publish, files: files.sha256 },
      { ...artifact, files: { sha256: files.sha256 } },
      {
        ...base,
        kind: "import",
        version: "1.3.0",
        uplink: "npm",
        integrity: { sha1: "b".repeat(40) },
        manifest: files,
        resolution: {},
        files,
      },
    ]) {
      assert.throws(() => decodeStrict(canonicalJsonBytes(wrong)), isCode("bad-field"));
    }
  });

  test("an imported version bound to its tarball carries the index its artifact entry named", () => {
    const bound = {
      ...imported,
      artifact: publish.kind === "publish" ? publish.artifact : undefined,
    };
    const files = { sha256: "d".repeat(64), size: 321 };
    assert.deepEqual(checkVersionEntry(bound, npmRules), bound);
    assert.deepEqual(checkVersionEntry({ ...bound, files }, npmRules), { ...bound, files });
    assert.throws(
      () => checkVersionEntry({ ...bound, files: { sha256: "x" } }, npmRules),
      isCode("bad-field"),
    );
    assert.throws(() => checkVersionEntry({ ...imported, files }, npmRules), isCode("bad-field"));
  });

  test("a tarball over 1 MiB may name its UnixFS root in its artifact, in one spelling", () => {
    const root = "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64";
    const large = { ...(publish.kind === "publish" && publish.artifact), size: (1 << 20) + 1 };
    const artifact = {
      ...base,
      kind: "artifact",
      version: "1.3.0",
      artifact: { ...large, unixfs: root },
    } as const;
    for (const entry of [{ ...publish, artifact: { ...large, unixfs: root } }, artifact] as Entry[])
      assert.deepEqual(decodeStrict(encodeStrict(entry)), entry);
    const bound = { ...imported, artifact: { ...large, unixfs: root } };
    assert.deepEqual(checkVersionEntry(bound, npmRules), bound);
    // Entries written before the field existed, a large tarball's included, read as they did.
    assert.deepEqual(decodeStrict(canonicalJsonBytes({ ...publish, artifact: large })), {
      ...publish,
      artifact: large,
    });
    const wrongRoots = [
      "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta", // a raw CID
      "QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB", // CIDv0
      root.toUpperCase(), // base32 upper: another spelling
      `B${root.slice(1).toUpperCase()}`,
      "bafy",
      "",
      42,
    ];
    for (const unixfs of wrongRoots)
      assert.throws(
        () => decodeStrict(canonicalJsonBytes({ ...publish, artifact: { ...large, unixfs } })),
        isCode("bad-field"),
        String(unixfs),
      );
    // A tarball of one chunk has no root of its own: its CID is its raw CID.
    const small = { ...large, size: 1 << 20, unixfs: root };
    assert.throws(
      () => decodeStrict(canonicalJsonBytes({ ...publish, artifact: small })),
      isCode("bad-field"),
    );
    assert.throws(
      () => encodeStrict({ ...publish, artifact: small } as Entry),
      isCode("bad-field"),
    );
  });
});

describe("the share opt-out", () => {
  test('a publish or import entry may say "share": false; absent means shareable, true is never written', () => {
    for (const entry of [publish, imported] as Entry[]) {
      const optedOut = { ...entry, share: false } as Entry;
      const bytes = encodeStrict(optedOut);
      assert.match(new TextDecoder().decode(bytes), /"share":false/);
      assert.deepEqual(decodeStrict(bytes), optedOut);
      // A log written before the field existed replays byte for byte, and shares.
      const old = canonicalJsonBytes(entry);
      const decoded = decodeStrict(old);
      assert.equal(Object.hasOwn(decoded, "share"), false);
      assert.deepEqual(encodeStrict(decoded), old);
      for (const share of [true, "false", 0, null])
        assert.throws(
          () => decodeStrict(canonicalJsonBytes({ ...entry, share })),
          isCode("bad-field"),
        );
    }
    for (const entry of [
      {
        ...base,
        kind: "artifact",
        version: "1.3.0",
        artifact: (publish as { artifact: unknown }).artifact,
      },
      { ...base, kind: "unpublish", version: "1.3.0" },
      { ...base, kind: "deprecate", version: "1.3.0", message: "" },
    ])
      assert.throws(
        () => decodeStrict(canonicalJsonBytes({ ...entry, share: false })),
        isCode("bad-field"),
      );
  });
});
