/**
 * Bad input over HTTP: each request gets the right status and a clear
 * message, and the log, the database and the blob store are left exactly
 * as they were.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { tempDir } from "../helpers/log.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { hugeUpload, publish, putJson, signUp } from "../helpers/registry-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";
import { gzipBomb, packageJson, rawTgz } from "../helpers/tar.ts";

describe("bad input changes nothing", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: ServeProcess;
  let alice: string;
  let bob: string;

  const snapshot = async () => ({
    checkpoint: await (await fetch(new URL("-/cairn/checkpoint", server.url))).text(),
    packument: await (await fetch(new URL("pkg", server.url))).text(),
    blobs: (await readdir(join(dir.path, "data", "tree", "blob", "sha256"))).sort(),
  });

  before(async () => {
    dir = await tempDir();
    server = await startServe(["--data", join(dir.path, "data")]);
    alice = await signUp(server.url, "alice", "pw-alice");
    bob = await signUp(server.url, "bob", "pw-bob");
    assert.equal((await publish(server.url, alice, "pkg", "1.0.0")).status, 201);
  });

  after(async () => {
    await server.stop();
    await dir[Symbol.asyncDispose]();
  });

  const cases: [string, number, RegExp, () => Promise<Response | number>][] = [
    [
      "no token",
      401,
      /authentication required/,
      () => publish(server.url, undefined, "pkg", "2.0.0"),
    ],
    [
      "a wrong token",
      401,
      /authentication required/,
      () => publish(server.url, "cairn_forged", "pkg", "2.0.0"),
    ],
    [
      "another user's package",
      403,
      /not publish pkg/,
      () => publish(server.url, bob, "pkg", "2.0.0"),
    ],
    [
      "a version that exists",
      409,
      /already published/,
      () => publish(server.url, alice, "pkg", "1.0.0"),
    ],
    ["malformed JSON", 400, /JSON/i, () => putJson(server.url, "/pkg", alice, '{"name": "pkg", ')],
    [
      "an invalid name",
      400,
      /invalid package name/,
      () => publish(server.url, alice, "Bad_Name!", "1.0.0"),
    ],
    ["an invalid version", 400, /invalid version/, () => publish(server.url, alice, "pkg", "1.0")],
    [
      "a tarball that does not match its integrity",
      422,
      /does not match the tarball/,
      () => {
        const body = publishBody(
          { name: "pkg", version: "2.0.0" },
          rawTgz([packageJson("pkg", "2.0.0")]),
        );
        (body.versions["2.0.0"].dist as { integrity: string }).integrity =
          `sha512-${"A".repeat(86)}==`;
        return putJson(server.url, "/pkg", alice, body);
      },
    ],
    [
      "a tarball with ../ paths",
      422,
      /escapes the package/,
      () => publish(server.url, alice, "pkg", "2.0.0", [{ name: "package/../../evil", data: "x" }]),
    ],
    [
      "a tarball with a symlink out",
      422,
      /points out of the package/,
      () =>
        publish(server.url, alice, "pkg", "2.0.0", [
          { name: "package/evil", type: "2", linkname: "../../../etc/passwd" },
        ]),
    ],
    [
      "a tarball for another package",
      422,
      /tarball's package.json/,
      () =>
        putJson(
          server.url,
          "/pkg",
          alice,
          publishBody({ name: "pkg", version: "2.0.0" }, rawTgz([packageJson("other", "2.0.0")])),
        ),
    ],
    [
      "a manifest that hides the tarball's dependency and install script",
      422,
      /disagrees .* in dependencies, scripts$/,
      () => {
        const inTarball = { dependencies: { evil: "1.0.0" }, scripts: { postinstall: "x" } };
        const tgz = rawTgz([packageJson("pkg", "2.0.0", inTarball)]);
        const body = publishBody({ name: "pkg", version: "2.0.0", dependencies: {} }, tgz);
        return putJson(server.url, "/pkg", alice, body);
      },
    ],
    [
      "a tarball with two package.json files",
      422,
      /twice/,
      () => publish(server.url, alice, "pkg", "2.0.0", [packageJson("pkg", "2.0.0")]),
    ],
    [
      "a tarball with a link through a link",
      422,
      /passes through the symbolic link/,
      () =>
        publish(server.url, alice, "pkg", "2.0.0", [
          { name: "package/a/b", type: "2", linkname: ".." },
          { name: "package/a/c", type: "2", linkname: "b/.." },
        ]),
    ],
    [
      "a gzip bomb",
      422,
      /inflates over 100 times/,
      () => {
        const bomb = gzipBomb("pkg", "2.0.0", 480);
        return putJson(
          server.url,
          "/pkg",
          alice,
          publishBody({ name: "pkg", version: "2.0.0" }, bomb),
        );
      },
    ],
    ["a 2 GB body", 413, /.*/, () => hugeUpload(server.url, "/pkg", 2 * 1024 ** 3)],
  ];

  for (const [what, status, message, send] of cases) {
    test(`${what}: ${status}`, async () => {
      const before = await snapshot();
      const res = await send();
      if (typeof res === "number") {
        assert.equal(res, status);
      } else {
        const text = await res.text();
        assert.equal(res.status, status, text);
        assert.match(
          (JSON.parse(text) as { error?: string; message?: string }).error ?? "",
          message,
        );
      }
      assert.deepEqual(await snapshot(), before);
    });
  }
});
