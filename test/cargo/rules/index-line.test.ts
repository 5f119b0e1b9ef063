/**
 * Index lines against crates.io's own expected output (the index snapshots
 * of its publish tests, src/tests/krate/publish/snapshots/*.snap, and the
 * split_features tests of crates/crates_io_index/src/features.rs, at
 * rust-lang/crates.io 57fa00066), compacted as crates.io writes them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CargoError } from "../../../src/cargo/rules/errors.ts";
import {
  type CrateResolution,
  checkResolution,
  compareDependencies,
  type IndexDependency,
  indexLine,
  splitFeatures,
} from "../../../src/cargo/rules/index-line.ts";

const code = (c: string) => (e: unknown) => e instanceof CargoError && e.code === c;

const dep = (name: string, extra: Partial<IndexDependency> = {}): IndexDependency => ({
  name,
  req: ">0",
  features: [],
  optional: false,
  default_features: true,
  target: null,
  kind: "normal",
  ...extra,
});

describe("index lines, golden from crates.io", () => {
  test("features_version_2: features2 and v: 2", () => {
    const line = indexLine(
      "foo",
      "1.0.0",
      {
        deps: [dep("bar")],
        features: { old_feat: [] },
        features2: { new_feat: ["dep:bar", "bar?/feat"] },
      },
      "2afc013f11f59e88e299edb2e6e1c173435b91a164e19e74842a096bca9f68f8",
      false,
    );
    assert.equal(
      line,
      '{"name":"foo","vers":"1.0.0","deps":[{"name":"bar","req":">0","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"cksum":"2afc013f11f59e88e299edb2e6e1c173435b91a164e19e74842a096bca9f68f8","features":{"old_feat":[]},"features2":{"new_feat":["dep:bar","bar?/feat"]},"yanked":false,"v":2}',
    );
  });

  test("new_with_renamed_dependency: package after kind", () => {
    const line = indexLine(
      "new-krate",
      "1.0.0",
      { deps: [dep("my-name", { package: "package-name" })], features: {} },
      "f45e830a39be59e75f1d5c63a3c05856e0d68da52e0e00006b865327edd33431",
      false,
    );
    assert.equal(
      line,
      '{"name":"new-krate","vers":"1.0.0","deps":[{"name":"my-name","req":">0","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","package":"package-name"}],"cksum":"f45e830a39be59e75f1d5c63a3c05856e0d68da52e0e00006b865327edd33431","features":{},"yanked":false}',
    );
  });

  test("crate_with_links_field, and a yanked prerelease (index_metadata-2)", () => {
    assert.equal(
      indexLine(
        "foo",
        "1.0.0",
        { deps: [], features: {}, links: "git2" },
        "b2c9e153a8860ce92ba7cbdea7b718409d181c08f4c6c5c2a612919dcb155af2",
        false,
      ),
      '{"name":"foo","vers":"1.0.0","deps":[],"cksum":"b2c9e153a8860ce92ba7cbdea7b718409d181c08f4c6c5c2a612919dcb155af2","features":{},"yanked":false,"links":"git2"}',
    );
    assert.equal(
      indexLine("bar", "1.0.0-beta.1", { deps: [], features: {} }, "0".repeat(64), true),
      `{"name":"bar","vers":"1.0.0-beta.1","deps":[],"cksum":"${"0".repeat(64)}","features":{},"yanked":true}`,
    );
  });

  test("rust_version after links, registry before package, feature keys in byte order", () => {
    const line = indexLine(
      "c2",
      "0.1.0",
      {
        deps: [
          dep("dep1", {
            req: "^1.2",
            optional: true,
            package: "real-dep",
            registry: "sparse+https://r.example/index/",
          }),
        ],
        features: { b: [], a: [] },
        links: "foo",
        rust_version: "1.70",
      },
      "b08177c35dd3aa12a64bc0e377537d4936217a36c6f77a454dfd8804af15ece0",
      false,
    );
    assert.equal(
      line,
      '{"name":"c2","vers":"0.1.0","deps":[{"name":"dep1","req":"^1.2","features":[],"optional":true,"default_features":true,"target":null,"kind":"normal","registry":"sparse+https://r.example/index/","package":"real-dep"}],"cksum":"b08177c35dd3aa12a64bc0e377537d4936217a36c6f77a454dfd8804af15ece0","features":{"a":[],"b":[]},"yanked":false,"links":"foo","rust_version":"1.70"}',
    );
  });

  test("a bad checksum or version is refused", () => {
    assert.throws(
      () => indexLine("a", "1.0.0", { deps: [], features: {} }, "A".repeat(64), false),
      code("bad-metadata"),
    );
    assert.throws(
      () => indexLine("a", "1.0", { deps: [], features: {} }, "0".repeat(64), false),
      code("bad-version"),
    );
  });
});

describe("splitFeatures (crates_io_index features.rs tests)", () => {
  test("no deps, with deps, mixed, nested, nested mixed", () => {
    const cases: [Record<string, string[]>, Record<string, string[]>, Record<string, string[]>][] =
      [
        [
          { feature1: ["val1", "val2"], feature2: ["val3"] },
          { feature1: ["val1", "val2"], feature2: ["val3"] },
          {},
        ],
        [
          { feature1: ["dep:val1", "val2"], feature2: ["val3", "val4?/val5"] },
          {},
          { feature1: ["dep:val1", "val2"], feature2: ["val3", "val4?/val5"] },
        ],
        [
          { feature1: ["val1", "val2"], feature2: ["dep:val3"], feature3: ["val4", "val5?/val6"] },
          { feature1: ["val1", "val2"] },
          { feature2: ["dep:val3"], feature3: ["val4", "val5?/val6"] },
        ],
        [
          { feature1: ["feature2"], feature2: [], feature3: ["feature1"] },
          { feature1: ["feature2"], feature2: [], feature3: ["feature1"] },
          {},
        ],
        [
          { feature1: ["feature2"], feature2: ["feature3"], feature3: ["dep:foo"] },
          {},
          { feature1: ["feature2"], feature2: ["feature3"], feature3: ["dep:foo"] },
        ],
      ];
    for (const [all, features, features2] of cases)
      assert.deepEqual(splitFeatures(all), { features, features2 });
  });

  test("clap's features", () => {
    const clap = {
      env: ["clap_builder/env"],
      std: ["clap_builder/std"],
      help: ["clap_builder/help"],
      cargo: ["clap_builder/cargo"],
      color: ["clap_builder/color"],
      debug: ["clap_builder/debug", "clap_derive?/debug"],
      usage: ["clap_builder/usage"],
      derive: ["dep:clap_derive"],
      string: ["clap_builder/string"],
      default: ["std", "color", "help", "usage", "error-context", "suggestions"],
      unicode: ["clap_builder/unicode"],
      wrap_help: ["clap_builder/wrap_help"],
      deprecated: ["clap_builder/deprecated", "clap_derive?/deprecated"],
      suggestions: ["clap_builder/suggestions"],
      "unstable-v5": ["clap_builder/unstable-v5", "clap_derive?/unstable-v5", "deprecated"],
      "unstable-doc": ["clap_builder/unstable-doc", "derive"],
      "unstable-ext": ["clap_builder/unstable-ext"],
      "error-context": ["clap_builder/error-context"],
      "unstable-styles": ["clap_builder/unstable-styles"],
    };
    const { features, features2 } = splitFeatures(clap);
    assert.deepEqual(Object.keys(features), [
      "cargo",
      "color",
      "default",
      "env",
      "error-context",
      "help",
      "std",
      "string",
      "suggestions",
      "unicode",
      "unstable-ext",
      "unstable-styles",
      "usage",
      "wrap_help",
    ]);
    assert.deepEqual(Object.keys(features2), [
      "debug",
      "deprecated",
      "derive",
      "unstable-doc",
      "unstable-v5",
    ]);
  });
});

describe("resolutions as a log entry holds them", () => {
  const good: CrateResolution = {
    deps: [
      dep("a", { kind: "normal" }),
      dep("a", { kind: "dev" }),
      dep("b", { package: "real-b" }),
    ],
    features: { default: ["x"], x: [] },
    features2: { y: ["dep:b"] },
    links: "z",
    rust_version: "1.70.0",
  };

  test("a canonical one passes", () => {
    checkResolution(good);
    checkResolution({ deps: [], features: {} });
  });

  test("crates.io's dependency order: name, then normal < build < dev", () => {
    const sorted = [
      dep("b"),
      dep("a", { kind: "dev" }),
      dep("a", { kind: "build" }),
      dep("a"),
    ].sort(compareDependencies);
    assert.deepEqual(
      sorted.map((d) => `${d.name}:${d.kind}`),
      ["a:normal", "a:build", "a:dev", "b:normal"],
    );
  });

  test("anything else is refused, with the code of what is wrong", () => {
    const cases: [unknown, string][] = [
      [null, "bad-metadata"],
      [{ deps: [] }, "bad-metadata"],
      [{ ...good, extra: 1 }, "bad-metadata"],
      [{ ...good, deps: [...good.deps].reverse() }, "bad-dependency"],
      [{ ...good, deps: [{ ...dep("a"), public: true }] }, "bad-dependency"],
      [{ ...good, deps: [dep("a", { req: "latest" })] }, "bad-version-req"],
      [{ ...good, deps: [dep("1a")] }, "bad-name"],
      [{ ...good, deps: [dep("a", { kind: "weird" as "dev" })] }, "bad-dependency"],
      [{ ...good, deps: [dep("a", { registry: "ftp://x" })] }, "bad-dependency"],
      [{ ...good, deps: [dep("a", { target: "" })] }, "bad-dependency"],
      [{ ...good, deps: Array.from({ length: 501 }, () => dep("a")) }, "too-large"],
      [{ ...good, features: { ...good.features, y: [] } }, "bad-feature"],
      [{ ...good, features: { default: ["x"], x: [], z: ["y"] } }, "bad-feature"],
      [{ ...good, features2: {} }, "bad-feature"],
      [{ ...good, features2: undefined, features: { y: ["dep:b"] } }, "bad-feature"],
      [{ ...good, features: { "-x": [] } }, "bad-feature"],
      [{ ...good, links: "" }, "bad-metadata"],
      [{ ...good, rust_version: "^1.70" }, "bad-metadata"],
      [{ ...good, rust_version: "1.70-beta" }, "bad-metadata"],
    ];
    for (const [value, expected] of cases) {
      const clean = JSON.parse(JSON.stringify(value));
      assert.throws(
        () => checkResolution(clean),
        code(expected),
        JSON.stringify(value).slice(0, 200),
      );
    }
  });
});
