import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { PublishError, parsePublish } from "../../src/npm/publish.ts";
import { inspectTarball } from "../../src/npm/tarball.ts";
import { corpusTarball } from "../helpers/corpus.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

const code = (c: string) => (e: unknown) => e instanceof PublishError && e.code === c;

describe("npm publish bodies", () => {
  test("a real package's publish parses, with the registry's own integrity", async () => {
    const tgz = readFileSync(await corpusTarball("accepts-1.3.8.tgz"));
    const manifest = inspectTarball(tgz).manifest as { name: string; version: string };
    const parsed = parsePublish("accepts", publishBody(manifest, tgz));
    assert.deepEqual([parsed.name, parsed.version, parsed.tag], ["accepts", "1.3.8", "latest"]);
    assert.match(parsed.integrity, /^sha512-[A-Za-z0-9+/]{86}==$/);
    assert.equal(parsed.manifest.dist, undefined);
  });

  test("scoped names and custom tags", () => {
    const tgz = rawTgz([packageJson("@scope/pkg", "2.0.0-beta.1")]);
    const parsed = parsePublish(
      "@scope/pkg",
      publishBody({ name: "@scope/pkg", version: "2.0.0-beta.1" }, tgz, "next"),
    );
    assert.deepEqual([parsed.name, parsed.tag], ["@scope/pkg", "next"]);
  });

  test("invalid names and versions are refused", () => {
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
      assert.throws(() => parsePublish(name, {}), code("invalid-name"), name);
    }
    for (const version of ["1.0", "v1.0.0", "01.0.0", "1.0.0 ", "latest"]) {
      const tgz = rawTgz([packageJson("pkg", version)]);
      assert.throws(
        () => parsePublish("pkg", publishBody({ name: "pkg", version }, tgz)),
        code("invalid-version"),
        version,
      );
    }
  });

  test("bodies that do not add up are refused", () => {
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
      assert.throws(() => parsePublish("pkg", mutate(good())), code(expected), mutate.toString());
    }
  });

  test("a tarball for another package or version, or a malicious one, is refused", () => {
    const other = rawTgz([packageJson("other", "1.0.0")]);
    assert.throws(
      () => parsePublish("pkg", publishBody({ name: "pkg", version: "1.0.0" }, other)),
      code("bad-tarball"),
    );
    const older = rawTgz([packageJson("pkg", "0.9.0")]);
    assert.throws(
      () => parsePublish("pkg", publishBody({ name: "pkg", version: "1.0.0" }, older)),
      code("bad-tarball"),
    );
    const escaping = rawTgz([packageJson("pkg", "1.0.0"), { name: "package/../../x", data: "x" }]);
    assert.throws(
      () => parsePublish("pkg", publishBody({ name: "pkg", version: "1.0.0" }, escaping)),
      code("bad-tarball"),
    );
  });
});
