import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { PublishError, parsePublish } from "../../src/npm/publish.ts";
import { inspectTarball } from "../../src/npm/tarball.ts";
import { DEFAULT_TARBALL_LIMITS } from "../../src/registry/tarball-limits.ts";
import { corpusTarball } from "../helpers/corpus.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

const code = (c: string) => (e: unknown) => e instanceof PublishError && e.code === c;

describe("npm publish bodies", () => {
  test("a real package's publish parses, with the registry's own integrity", async () => {
    const tgz = readFileSync(await corpusTarball("accepts-1.3.8.tgz"));
    const manifest = (await inspectTarball(tgz)).manifest as { name: string; version: string };
    const parsed = await parsePublish("accepts", publishBody(manifest, tgz));
    assert.deepEqual([parsed.name, parsed.version, parsed.tag], ["accepts", "1.3.8", "latest"]);
    assert.match(parsed.integrity, /^sha512-[A-Za-z0-9+/]{86}==$/);
    assert.equal(parsed.manifest.dist, undefined);
  });

  test("scoped names and custom tags", async () => {
    const tgz = rawTgz([packageJson("@scope/pkg", "2.0.0-beta.1")]);
    const parsed = await parsePublish(
      "@scope/pkg",
      publishBody({ name: "@scope/pkg", version: "2.0.0-beta.1" }, tgz, "next"),
    );
    assert.deepEqual([parsed.name, parsed.tag], ["@scope/pkg", "next"]);
  });

  test("invalid names and versions are refused", async () => {
    for (const name of [
      "UpperCase",
      "../evil",
      "has space",
      "node_modules",
      ".hidden",
      "",
      "a".repeat(215),
      "@scope/",
      "ünïcode",
    ]) {
      await assert.rejects(() => parsePublish(name, {}), code("invalid-name"), name);
    }
    for (const version of ["1.0", "v1.0.0", "01.0.0", "1.0.0 ", "latest"]) {
      const tgz = rawTgz([packageJson("pkg", version)]);
      await assert.rejects(
        () => parsePublish("pkg", publishBody({ name: "pkg", version }, tgz)),
        code("invalid-version"),
        version,
      );
    }
  });

  test("bodies that do not add up are refused", async () => {
    const tgz = rawTgz([packageJson("pkg", "1.0.0")]);
    // Loosely typed on purpose: each mutation breaks the body's shape in its own way.
    // biome-ignore lint/suspicious/noExplicitAny: see above
    type Body = Record<string, any>;
    const good = () => publishBody({ name: "pkg", version: "1.0.0" }, tgz) as Body;
    const mutations: [string, (b: Body) => unknown][] = [
      ["bad-request", (b) => ({ ...b, name: "other" })],
      ["bad-request", (b) => ({ ...b, "dist-tags": { latest: "9.9.9" } })],
      ["bad-request", (b) => ({ ...b, "dist-tags": { "^1.0.0": "1.0.0" } })],
      ["bad-request", (b) => ({ ...b, versions: { ...b.versions, "1.0.1": b.versions["1.0.0"] } })],
      ["bad-request", (b) => ({ ...b, _attachments: {} })],
      [
        "bad-request",
        (b) => ({ ...b, _attachments: { "pkg-1.0.0.tgz": { data: "not base64!" } } }),
      ],
      [
        "bad-request",
        (b) => ({
          ...b,
          _attachments: { "pkg-1.0.0.tgz": { ...b._attachments["pkg-1.0.0.tgz"], length: 1 } },
        }),
      ],
      [
        "bad-request",
        (b) => ({ ...b, _attachments: { "other-1.0.0.tgz": b._attachments["pkg-1.0.0.tgz"] } }),
      ],
      [
        "integrity-mismatch",
        (b) => {
          b.versions["1.0.0"].dist.integrity = `sha512-${"A".repeat(86)}==`;
          return b;
        },
      ],
      [
        "integrity-mismatch",
        (b) => {
          b.versions["1.0.0"].dist.shasum = "0".repeat(40);
          return b;
        },
      ],
      ["bad-request", () => []],
    ];
    for (const [expected, mutate] of mutations) {
      await assert.rejects(
        () => parsePublish("pkg", mutate(good())),
        code(expected),
        mutate.toString(),
      );
    }
  });

  test("attachment data must be canonical standard base64", async () => {
    const tgz = rawTgz([packageJson("pkg", "1.0.0")]);
    const good = tgz.toString("base64");
    assert.ok(good.endsWith("="), "the test needs a padded encoding");
    const stray = `${good.slice(0, -2)}${good.at(-2) === "A" ? "B" : "A"}=`;
    const mid = 8;
    for (const data of [
      `${good.slice(0, mid)}-${good.slice(mid + 1)}`,
      `${good.slice(0, mid)}_${good.slice(mid + 1)}`,
      `${good.slice(0, mid)} ${good.slice(mid + 1)}`,
      `${good.slice(0, mid)}=${good.slice(mid + 1)}`,
      `${good}\n`,
      `${good}AAA=`,
      stray,
    ]) {
      const body = publishBody({ name: "pkg", version: "1.0.0" }, tgz);
      body._attachments["pkg-1.0.0.tgz"] = {
        content_type: "application/octet-stream",
        data,
        length: tgz.length,
      };
      const { dist: _dist, ...version } = body.versions["1.0.0"];
      body.versions["1.0.0"] = version as (typeof body.versions)["1.0.0"];
      await assert.rejects(
        parsePublish("pkg", body),
        code("bad-request"),
        JSON.stringify(data.slice(-6)),
      );
    }
  });

  test("a tarball for another package or version, or a malicious one, is refused", async () => {
    const other = rawTgz([packageJson("other", "1.0.0")]);
    await assert.rejects(
      () => parsePublish("pkg", publishBody({ name: "pkg", version: "1.0.0" }, other)),
      code("bad-tarball"),
    );
    const older = rawTgz([packageJson("pkg", "0.9.0")]);
    await assert.rejects(
      () => parsePublish("pkg", publishBody({ name: "pkg", version: "1.0.0" }, older)),
      code("bad-tarball"),
    );
    const escaping = rawTgz([packageJson("pkg", "1.0.0"), { name: "package/../../x", data: "x" }]);
    await assert.rejects(
      () => parsePublish("pkg", publishBody({ name: "pkg", version: "1.0.0" }, escaping)),
      code("bad-tarball"),
    );
  });

  test("a body or a tarball package.json nested past the limit is refused, not a stack overflow", async () => {
    let deep: unknown = "pkg";
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const tgz = rawTgz([packageJson("pkg", "1.0.0")]);
    const body = publishBody({ name: "pkg", version: "1.0.0" }, tgz);
    // Each of these fields is quoted in the message of the check it fails.
    for (const bad of [
      { ...body, name: deep },
      { ...body, "dist-tags": { latest: deep } },
      { ...body, versions: { "1.0.0": { ...body.versions["1.0.0"], dist: { integrity: deep } } } },
    ])
      await assert.rejects(() => parsePublish("pkg", bad), code("bad-request"));
    const deepName = rawTgz([
      {
        name: "package/package.json",
        data: `{"name":${"[".repeat(20_000)}${"]".repeat(20_000)},"version":"1.0.0"}`,
      },
    ]);
    await assert.rejects(
      () => parsePublish("pkg", publishBody({ name: "pkg", version: "1.0.0" }, deepName)),
      code("bad-tarball"),
    );
  });
});

describe("npm publish bodies: the manifest is the tarball's", () => {
  const publishOf = (
    inTarball: Record<string, unknown>,
    declared: Record<string, unknown>,
    files: Parameters<typeof rawTgz>[0] = [],
  ) => {
    const tgz = rawTgz([packageJson("pkg", "1.0.0", inTarball), ...files]);
    return parsePublish("pkg", publishBody({ name: "pkg", version: "1.0.0", ...declared }, tgz));
  };

  test("a declared manifest that hides a dependency and an install script is refused, naming both", async () => {
    const hidden = { dependencies: { evil: "1.0.0" }, scripts: { postinstall: "node steal.js" } };
    await assert.rejects(publishOf(hidden, { dependencies: {} }), (err: unknown) => {
      assert.ok(code("manifest-mismatch")(err));
      assert.match((err as Error).message, /dependencies, scripts$/);
      return true;
    });
  });

  test("every install-relevant field is compared", async () => {
    const fields: Record<string, [unknown, unknown]> = {
      dependencies: [{ a: "^1.0.0" }, { a: "^2.0.0" }],
      devDependencies: [{ a: "1" }, {}],
      optionalDependencies: [{ a: "1" }, undefined],
      peerDependencies: [{ react: "18" }, { react: "*" }],
      peerDependenciesMeta: [{ react: { optional: true } }, undefined],
      bundleDependencies: [["a"], []],
      bin: [{ x: "x.js" }, { x: "y.js" }],
      directories: [{ lib: "lib" }, undefined],
      engines: [{ node: ">=20" }, { node: "*" }],
      os: [["linux"], ["darwin"]],
      cpu: [["x64"], undefined],
      libc: [["glibc"], ["musl"]],
      scripts: [{ install: "make" }, { build: "make" }],
    };
    for (const [field, [inTarball, declared]] of Object.entries(fields)) {
      await assert.rejects(
        publishOf({ [field]: inTarball }, { [field]: declared }),
        code("manifest-mismatch"),
        field,
      );
    }
    // A dependency group that is not a map is a claim as well, not an absence.
    for (const field of ["dependencies", "peerDependencies", "optionalDependencies"])
      await assert.rejects(
        publishOf({}, { [field]: [{ a: "1" }] }),
        code("manifest-mismatch"),
        field,
      );
    await assert.rejects(publishOf({}, { hasInstallScript: true }), code("manifest-mismatch"));
    await assert.rejects(publishOf({}, { _hasShrinkwrap: true }), code("manifest-mismatch"));
  });

  test("what npm normalises is accepted, and the log keeps the tarball's fields", async () => {
    const inTarball = {
      bin: "./cli.js",
      bundledDependencies: ["a"],
      dependencies: { a: "1", b: "2", gh: "user/repo" },
      optionalDependencies: { b: "2" },
      scripts: { test: "node test.js", prepare: "node_modules/.bin/tsc" },
    };
    // What npm sends for it: bin as a map, bundleDependencies, optional ones out of
    // dependencies, the git shorthand as a URL, an install script for binding.gyp.
    const declared = {
      bin: { pkg: "cli.js" },
      bundleDependencies: ["a"],
      dependencies: { a: "1", gh: "git+ssh://git@github.com/user/repo.git" },
      optionalDependencies: { b: "2" },
      scripts: { test: "node test.js", prepare: "tsc", install: "node-gyp rebuild" },
      gypfile: true,
      gitHead: "0123456789abcdef0123456789abcdef01234567",
      readme: "# pkg",
      _npmVersion: "11.0.0",
    };
    const parsed = await publishOf(inTarball, declared, [
      { name: "package/binding.gyp", data: "{}" },
      { name: "package/npm-shrinkwrap.json", data: "{}" },
    ]);
    const { manifest } = parsed;
    assert.deepEqual(manifest.bin, { pkg: "cli.js" });
    assert.deepEqual(manifest.dependencies, inTarball.dependencies);
    assert.deepEqual(manifest.bundleDependencies, ["a"]);
    assert.equal(manifest.bundledDependencies, undefined);
    assert.equal((manifest.scripts as Record<string, string>).install, "node-gyp rebuild");
    assert.equal(manifest._hasShrinkwrap, true);
    assert.deepEqual([manifest.gitHead, manifest.readme], [declared.gitHead, declared.readme]);
  });

  test("a tarball over the limit is refused as too large, naming the limit", async () => {
    const tgz = rawTgz([
      packageJson("pkg", "1.0.0"),
      { name: "package/x", data: randomBytes(4096) },
    ]);
    const body = publishBody({ name: "pkg", version: "1.0.0" }, tgz);
    const limits = { ...DEFAULT_TARBALL_LIMITS, maxCompressedBytes: 2048 };
    await assert.rejects(parsePublish("pkg", body, limits), (err: unknown) => {
      assert.ok(code("too-large")(err));
      assert.match((err as Error).message, /2048 bytes/);
      return true;
    });
  });
});
