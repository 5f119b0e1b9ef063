/**
 * Publish bodies as the real cargo sends them: the committed captures in
 * test/fixtures/cargo/ (made by its generate.ts) and fresh ones from the
 * cargo on this machine, then hostile bodies made from them.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse as parseToml } from "smol-toml";
import { CargoError } from "../../../src/cargo/rules/errors.ts";
import {
  type CrateResolution,
  checkResolution,
  indexLine,
} from "../../../src/cargo/rules/index-line.ts";
import {
  type CratePublish,
  DEFAULT_PUBLISH_LIMITS,
  maxPublishBodyBytes,
  parsePublishBody,
} from "../../../src/cargo/rules/publish-body.ts";
import { sha256Hex } from "../../../src/util/sha256.ts";
import {
  cargoPublish,
  type FakeSparseRegistry,
  REGISTRY_NAME,
  runCargo,
  startProbeRegistry,
  writeProbeCrates,
} from "../../helpers/cargo-publish.ts";
import { tempDir } from "../../helpers/log.ts";

const code = (c: string) => (e: unknown) => e instanceof CargoError && e.code === c;
const FIXTURES = join(import.meta.dirname, "..", "..", "fixtures", "cargo");
const fixture = (name: string) => readFileSync(join(FIXTURES, `${name}.body`));

const CRATES_IO = "https://github.com/rust-lang/crates.io-index";
const d = {
  optional: false,
  default_features: true,
  features: [],
  target: null,
  kind: "normal",
} as const;

/** What the probe-full body must project to: renamed, path, target, build, dev and crates.io dependencies. */
const FULL_RESOLUTION: CrateResolution = {
  deps: [
    { ...d, name: "builder", req: "=2.0.0", kind: "build" },
    { ...d, name: "dep1", req: "^1.2", optional: true, package: "real-dep" },
    { ...d, name: "devy", req: ">=1.1, <2", kind: "dev" },
    { ...d, name: "libc", req: "^0.2", registry: CRATES_IO },
    { ...d, name: "local", req: "^0.1.0" },
    { ...d, name: "plain", req: "^0.3", default_features: false, features: ["extra"] },
    { ...d, name: "unixy", req: "^1", target: "cfg(unix)" },
  ],
  features: { default: ["plain/extra"], plainer: [] },
  features2: { chain: ["fx"], fx: ["dep:dep1", "dep1?/zz"] },
  links: "probe",
  rust_version: "1.70",
};

function checkFull(publish: CratePublish): void {
  assert.equal(publish.name, "probe-full");
  assert.equal(publish.version, "0.1.0-rc.1+build.5");
  assert.deepEqual(publish.resolution, FULL_RESOLUTION);
  checkResolution(publish.resolution);
  assert.deepEqual(publish.description, {
    description: "A crate that exercises every publish field",
    keywords: ["probe", "cairn"],
    categories: ["development-tools"],
    license: "MIT OR Apache-2.0",
    authors: [],
    homepage: "https://example.org/probe",
  });
  assert.deepEqual([publish.crate[0], publish.crate[1]], [0x1f, 0x8b]);
}

function checkMin(publish: CratePublish): void {
  assert.equal(publish.name, "probe_min");
  assert.equal(publish.version, "2.0.0");
  assert.deepEqual(publish.resolution, { deps: [], features: {} });
  assert.equal(publish.description.licenseFile, "LICENSE");
}

describe("publish bodies cargo sent (committed captures)", () => {
  test("probe-full and probe_min project to their index fields", () => {
    checkFull(parsePublishBody(fixture("probe-full")));
    checkMin(parsePublishBody(fixture("probe_min")));
  });

  test("probe-full's index line", () => {
    const publish = parsePublishBody(fixture("probe-full"));
    assert.equal(
      indexLine(publish.name, publish.version, publish.resolution, "0".repeat(64), false),
      `{"name":"probe-full","vers":"0.1.0-rc.1+build.5","deps":[{"name":"builder","req":"=2.0.0","features":[],"optional":false,"default_features":true,"target":null,"kind":"build"},{"name":"dep1","req":"^1.2","features":[],"optional":true,"default_features":true,"target":null,"kind":"normal","package":"real-dep"},{"name":"devy","req":">=1.1, <2","features":[],"optional":false,"default_features":true,"target":null,"kind":"dev"},{"name":"libc","req":"^0.2","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"${CRATES_IO}"},{"name":"local","req":"^0.1.0","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"},{"name":"plain","req":"^0.3","features":["extra"],"optional":false,"default_features":false,"target":null,"kind":"normal"},{"name":"unixy","req":"^1","features":[],"optional":false,"default_features":true,"target":"cfg(unix)","kind":"normal"}],"cksum":"${"0".repeat(64)}","features":{"default":["plain/extra"],"plainer":[]},"features2":{"chain":["fx"],"fx":["dep:dep1","dep1?/zz"]},"yanked":false,"links":"probe","rust_version":"1.70","v":2}`,
    );
  });
});

describe("publish bodies from the cargo on this machine", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let registry: FakeSparseRegistry;
  before(async () => {
    dir = await tempDir();
    registry = await startProbeRegistry();
  });
  after(async () => {
    await registry.close();
    await dir[Symbol.asyncDispose]();
  });

  test("cargo publishes both probes, seeing each version through the line indexLine made", async () => {
    const crates = await writeProbeCrates(dir.path);
    for (const crateDir of [crates.full, crates.min]) {
      const result = await cargoPublish(crateDir, registry, dir.path);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Published probe/);
      assert.doesNotMatch(result.stderr, /timed out|warning: .*index entry is invalid/);
    }
    assert.equal(registry.bodies.length, 2);
    checkFull(parsePublishBody(registry.bodies[0]));
    checkMin(parsePublishBody(registry.bodies[1]));
  });

  test("cargo resolves through the published line: features2, renames, yanked versions skipped", async () => {
    const crate = parsePublishBody(registry.bodies[0]).crate;
    const lock = async (features: string[]) => {
      const app = join(dir.path, `app-${features.length}`);
      await mkdir(join(app, "src"), { recursive: true });
      await writeFile(join(app, "src", "lib.rs"), "");
      await writeFile(
        join(app, "Cargo.toml"),
        `[package]\nname = "app"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nprobe-full = { version = "=0.1.0-rc.1", registry = "${REGISTRY_NAME}", features = ${JSON.stringify(features)} }\n`,
      );
      const result = await runCargo(["generate-lockfile"], app, registry, dir.path);
      assert.equal(result.code, 0, result.stderr);
      const { package: packages } = parseToml(await readFile(join(app, "Cargo.lock"), "utf8")) as {
        package: { name: string; version: string; checksum?: string }[];
      };
      return new Map(packages.map((p) => [p.name, p]));
    };
    const plain = await lock([]);
    assert.equal(plain.get("probe-full")?.version, "0.1.0-rc.1+build.5");
    assert.equal(plain.get("probe-full")?.checksum, sha256Hex(crate));
    assert.equal(plain.get("plain")?.version, "0.3.1", "the yanked 0.3.9 is skipped");
    assert.deepEqual(
      [...plain.keys()].sort(),
      ["app", "builder", "libc", "local", "plain", "probe-full", "unixy"],
      "no optional or dev dependency",
    );
    const chained = await lock(["chain"]);
    assert.equal(
      chained.get("real-dep")?.version,
      "1.2.5",
      "chain → fx → dep:dep1 (renamed real-dep)",
    );
  });
});

/** A body around `json` (a string or bytes) and `crate`, with lengths that tell the truth unless given. */
function frame(
  json: string | Uint8Array,
  crate: Uint8Array,
  lengths: { json?: number; crate?: number } = {},
): Buffer {
  const metadata = typeof json === "string" ? Buffer.from(json) : Buffer.from(json);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(lengths.json ?? metadata.length);
  const mid = Buffer.alloc(4);
  mid.writeUInt32LE(lengths.crate ?? crate.length);
  return Buffer.concat([head, metadata, mid, crate]);
}

function pieces(body: Buffer): { meta: Record<string, unknown>; crate: Buffer } {
  const n = body.readUInt32LE(0);
  return { meta: JSON.parse(body.subarray(4, 4 + n).toString()), crate: body.subarray(8 + n) };
}

describe("hostile publish bodies", () => {
  const full = fixture("probe-full");
  const { meta, crate } = pieces(full);
  const withMeta = (change: Record<string, unknown>) =>
    frame(JSON.stringify({ ...meta, ...change }), crate);
  const withDep = (change: Record<string, unknown>) =>
    withMeta({ deps: [{ ...(meta.deps as Record<string, unknown>[])[0], ...change }] });

  test("every truncation is a bad body", () => {
    for (let n = 0; n < full.length; n++)
      assert.throws(() => parsePublishBody(full.subarray(0, n)), code("bad-body"), `cut at ${n}`);
  });

  test("lying lengths, trailing bytes, huge lengths", () => {
    assert.throws(
      () => parsePublishBody(frame("{}", crate, { json: crate.length + 100 })),
      code("bad-body"),
    );
    // A metadata length one byte long reads a crate length from the wrong place.
    assert.throws(() => parsePublishBody(frame("{}", crate, { json: 3 })), code("too-large"));
    assert.throws(
      () => parsePublishBody(frame(JSON.stringify(meta), crate, { crate: crate.length + 1 })),
      code("bad-body"),
    );
    assert.throws(
      () => parsePublishBody(frame(JSON.stringify(meta), crate, { crate: crate.length - 1 })),
      code("bad-body"),
    );
    assert.throws(
      () => parsePublishBody(Buffer.concat([full, Buffer.from([0])])),
      code("bad-body"),
    );
    assert.throws(
      () => parsePublishBody(frame("{}", crate, { json: 0xffffffff })),
      code("too-large"),
    );
    assert.throws(
      () => parsePublishBody(frame(JSON.stringify(meta), crate, { crate: 0xffffffff })),
      code("too-large"),
    );
    const big = Buffer.alloc(DEFAULT_PUBLISH_LIMITS.maxCrateBytes + 1);
    assert.throws(() => parsePublishBody(frame(JSON.stringify(meta), big)), code("too-large"));
    assert.equal(maxPublishBodyBytes(), 8 + 1024 * 1024 + 10 * 1024 * 1024);
  });

  test("metadata that is not UTF-8, not JSON, not an object, too deep, or with lone surrogates", () => {
    for (const json of [
      Buffer.from([0x7b, 0xff, 0x7d]),
      Buffer.from('{"name":"\xc3\x28"}', "latin1"),
      "{",
      "[]",
      "null",
      '"x"',
      `${"[".repeat(100)}${"]".repeat(100)}`,
      '{"name":"\\ud800"}',
      '{"__proto__":{}}',
      '{"n":1e400}',
    ])
      assert.throws(() => parsePublishBody(frame(json, crate)), code("bad-body"), String(json));
  });

  test("crates.io's metadata checks, each with its code", () => {
    const cases: [Buffer, string][] = [
      [withMeta({ name: "1probe" }), "bad-name"],
      [withMeta({ name: "pro be" }), "bad-name"],
      [withMeta({ name: "a".repeat(65) }), "bad-name"],
      [withMeta({ name: "Compiler_Builtins" }), "reserved-name"],
      [withMeta({ name: 7 }), "bad-metadata"],
      [withMeta({ vers: "1.0" }), "bad-version"],
      [withMeta({ vers: "v1.0.0" }), "bad-version"],
      [withMeta({ vers: `1.0.0+${"a".repeat(150)}` }), "bad-version"],
      [withMeta({ description: null }), "bad-metadata"],
      [withMeta({ description: "" }), "bad-metadata"],
      [withMeta({ description: "x".repeat(1001) }), "bad-metadata"],
      [withMeta({ license: null, license_file: null }), "bad-metadata"],
      [withMeta({ keywords: ["a", "b", "c", "d", "e", "f"] }), "bad-metadata"],
      [withMeta({ keywords: ["a".repeat(21)] }), "bad-metadata"],
      [withMeta({ keywords: ["-dash"] }), "bad-metadata"],
      [withMeta({ keywords: "probe" }), "bad-metadata"],
      [withMeta({ categories: ["a", "b", "c", "d", "e", "f"] }), "bad-metadata"],
      [withMeta({ homepage: "ftp://example.org" }), "bad-metadata"],
      [withMeta({ repository: "http://" }), "bad-metadata"],
      [withMeta({ links: "" }), "bad-metadata"],
      [withMeta({ rust_version: "^1.70" }), "bad-metadata"],
      [withMeta({ rust_version: "1.70.0-beta" }), "bad-metadata"],
      [withMeta({ badges: [] }), "bad-metadata"],
      [withMeta({ features: { "-bad": [] } }), "bad-feature"],
      [withMeta({ features: { ok: ["bad value"] } }), "bad-feature"],
      [withMeta({ features: { ok: "x" } }), "bad-feature"],
      [
        withMeta({
          features: Object.fromEntries(Array.from({ length: 301 }, (_, i) => [`f${i}`, []])),
        }),
        "too-large",
      ],
      [withMeta({ features: { f: Array.from({ length: 301 }, () => "g") } }), "too-large"],
      [
        withMeta({ deps: Array.from({ length: 501 }, () => (meta.deps as unknown[])[0]) }),
        "too-large",
      ],
      [withMeta({ deps: {} }), "bad-dependency"],
      [withDep({ name: "1dep" }), "bad-name"],
      [withDep({ explicit_name_in_toml: "-x" }), "bad-name"],
      [withDep({ version_req: "*" }), "bad-dependency"],
      [withDep({ version_req: "latest" }), "bad-version-req"],
      [withDep({ version_req: 1 }), "bad-dependency"],
      [withDep({ registry: "" }), "bad-dependency"],
      [withDep({ registry: "not a url" }), "bad-dependency"],
      [withDep({ kind: "peer" }), "bad-dependency"],
      [withDep({ target: "" }), "bad-dependency"],
      [withDep({ artifact: ["bin"] }), "bad-dependency"],
      [withDep({ features: ["a b"] }), "bad-feature"],
      [withDep({ optional: "yes" }), "bad-dependency"],
    ];
    for (const [body, expected] of cases)
      assert.throws(
        () => parsePublishBody(body),
        code(expected),
        `${expected}: ${pieces(body).meta.name}`,
      );
  });

  test("what an alternative registry may relax", () => {
    const relaxed = {
      ...DEFAULT_PUBLISH_LIMITS,
      requireDescriptionAndLicense: false,
      allowWildcardRequirements: true,
    };
    assert.equal(
      parsePublishBody(withMeta({ description: null, license: null }), relaxed).description
        .description,
      undefined,
    );
    assert.equal(
      parsePublishBody(withDep({ version_req: "*" }), relaxed).resolution.deps[0].req,
      "*",
    );
    const onlyCratesIo = {
      ...DEFAULT_PUBLISH_LIMITS,
      allowRegistry: (url: string) => url === CRATES_IO,
    };
    parsePublishBody(full, onlyCratesIo);
    assert.throws(
      () => parsePublishBody(withDep({ registry: "sparse+https://other.example/" }), onlyCratesIo),
      code("bad-dependency"),
    );
  });

  test("random byte changes give a publish or a CargoError, never anything else", () => {
    let seed = 17;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let parsed = 0;
    for (let round = 0; round < 3000; round++) {
      const body = Buffer.from(full);
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--)
        body[Math.floor(random() * Math.min(body.length, 4 + 8 + 900))] = Math.floor(
          random() * 256,
        );
      try {
        parsePublishBody(body);
        parsed++;
      } catch (err) {
        assert.ok(err instanceof CargoError, String(err));
      }
    }
    assert.ok(parsed > 0, "some changes keep the body valid");
  });
});
