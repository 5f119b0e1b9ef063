import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { corpusTarball } from "../helpers/corpus.ts";
import { tempDir } from "../helpers/log.ts";
import { startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { startServe } from "../helpers/serve.ts";

const SOME_TARBALLS = ["accepts-1.3.8.tgz", "mime-types-2.1.35.tgz", "negotiator-0.6.3.tgz"];

describe("cairn mirror, mirrors and verify", () => {
  test("a one-shot mirror copies the origin; verify and mirrors check vouch for it", async () => {
    await using dir = await tempDir();
    const data = join(dir.path, "origin");
    const imported = await cairn([
      "import",
      "--user",
      "alice",
      "--data",
      data,
      ...(await Promise.all(SOME_TARBALLS.map(corpusTarball))),
    ]);
    assert.equal(imported.code, 0, imported.stderr);
    // No SQLite snapshot: the counts below are of the imported packages alone.
    await using server = await startServe([
      "--data",
      data,
      "--no-durable",
      "--database-interval",
      "0",
    ]);
    const key = server.verifierKey;
    const state = join(dir.path, "state");

    const mirrorOnce = () =>
      cairn([
        "mirror",
        "--once",
        "--from",
        server.url,
        "--key",
        key,
        "--data",
        join(dir.path, "mirror"),
        "--no-durable",
      ]);
    const once = await mirrorOnce();
    assert.equal(once.code, 0, once.stderr);
    // Three publishes, each with its registry signature (after the key set, in the first batch),
    // and a snapshot entry after each batch the import made; per publish a manifest, a tarball
    // and a file index (the files themselves are made from the tarball).
    const synced = /size 0 -> (\d+): (\d+) entries, 1 bundles, 1 tiles, 9 blobs/.exec(once.stdout);
    assert.ok(synced, once.stdout);
    const size = Number(synced[1]);
    assert.ok(size >= 8 && size <= 10 && synced[2] === synced[1], once.stdout);
    const idle = await mirrorOnce();
    assert.match(idle.stdout, new RegExp(`up to date at size ${size}\\b`));

    const verifyOrigin = await cairn(["verify", server.url, "--key", key, "--state", state]);
    assert.equal(verifyOrigin.code, 0, verifyOrigin.stderr);
    assert.match(
      verifyOrigin.stdout,
      // The 6 blobs the entries name, and the latest snapshot's root, shard and 3 documents.
      new RegExp(`^ok: .* size ${size}: .* 1 entry bundles with their tiles and 14 blobs verified`),
    );
    const verifyCopy = await cairn([
      "verify",
      join(dir.path, "mirror", "tree"),
      "--key",
      key,
      "--state",
      state,
    ]);
    assert.equal(verifyCopy.code, 0, verifyCopy.stderr);

    // The copy served by a plain web server, and a listed mirror that does not answer.
    await using copy = await startMaliciousMirror({ treeDir: join(dir.path, "mirror", "tree") });
    const add = await cairn(["mirrors", "add", copy.url, "--data", data]);
    assert.equal(add.code, 0, add.stderr);
    await cairn(["mirrors", "add", "http://127.0.0.1:9/", "--data", data]);
    const list = await cairn(["mirrors", "list", "--data", data]);
    assert.deepEqual(list.stdout.trim().split("\n"), [copy.url, "http://127.0.0.1:9/"]);

    const check = await cairn([
      "mirrors",
      "check",
      "--origin",
      server.url,
      "--key",
      key,
      "--state",
      state,
      "--timeout",
      "30000",
    ]);
    assert.equal(check.code, 1, check.stdout);
    const rows = check.stdout.split("\n");
    const row = (url: string) => rows.find((r) => r.startsWith(url)) ?? "";
    assert.match(row(copy.url), new RegExp(`yes \\(\\d+ ms\\)\\s+${size}\\s+0\\s+0\\s+yes$`));
    assert.match(row("http://127.0.0.1:9/"), /no \(unavailable\)\s+-\s+-\s+-\s+unknown$/);
    assert.match(check.stderr, /1 of 2 mirror\(s\) failed the check/);

    const rm = await cairn(["mirrors", "rm", "http://127.0.0.1:9", "--data", data]);
    assert.equal(rm.code, 0, rm.stderr);
    const checkAgain = await cairn([
      "mirrors",
      "check",
      "--origin",
      server.url,
      "--key",
      key,
      "--state",
      state,
    ]);
    assert.equal(checkAgain.code, 0, checkAgain.stderr);
    const missing = await cairn(["mirrors", "rm", "http://127.0.0.1:9/", "--data", data]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /is not on the mirror list/);

    const tampered = await cairn(["verify", copy.url, "--key", key, "--state", state]);
    assert.equal(tampered.code, 0, tampered.stderr);
    copy.attack = "tarball-byte";
    const caught = await cairn(["verify", copy.url, "--key", key, "--state", state]);
    assert.equal(caught.code, 1);
    assert.match(
      caught.stderr,
      new RegExp(
        `${copy.url}-/cairn/: blob check failed: blob/sha256/[0-9a-f]{64}: blob bytes do not hash to`,
      ),
    );
  });
});
