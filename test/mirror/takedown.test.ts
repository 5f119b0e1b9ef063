import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { auditTree } from "../../src/client/audit.ts";
import { HttpSource } from "../../src/log/index.ts";
import { treeUrl } from "../../src/log/urls.ts";
import { Mirror } from "../../src/mirror/mirror.ts";
import { type RunningMirror, startMirror } from "../../src/mirror/server.ts";
import { checkStoredTree } from "../../src/origin/tree-health.ts";
import { withheldHashes } from "../../src/registry/withheld.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { type CountingProxy, startCountingProxy } from "../helpers/counting-proxy.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function mirrorOf(from: string, origin: TestOrigin, dataDir: string): Promise<RunningMirror> {
  const mirror = await startMirror({
    from,
    verifier: origin.key.verifier,
    dataDir,
    durable: false,
    host: "127.0.0.1",
    port: 0,
    intervalMs: 0,
  });
  await mirror.firstSync;
  return mirror;
}

/** The blob requests a proxy forwarded since `since`, as hashes. */
function blobsAsked(proxy: CountingProxy, since = 0): string[] {
  return proxy.requests
    .slice(since)
    .map((r) => /\/blob\/sha256\/([0-9a-f]{64})$/.exec(r)?.[1])
    .filter((hex) => hex !== undefined);
}

const takedown = (origin: TestOrigin, kind: "takedown" | "restore", reason: string) =>
  origin.registry.takedown({
    kind,
    actor: "carol",
    ecosystem: "npm",
    name: "evil",
    version: "1.1.0",
    reason,
  });

describe("mirrors obey takedowns", () => {
  test("mirrors synced before and after a takedown never ask for its bytes, hold none, answer 451, and fetch them again after a restore", async () => {
    await using origin = await startTestOrigin();
    await origin.publish("evil", "1.0.0");
    await origin.publish("evil", "1.1.0", {}, [
      { name: "package/index.js", data: "steal(process.env)\n" },
    ]);
    await using proxy = await startCountingProxy(origin.url);
    await using dirs = await tempDir("cairn-takedown-mirrors-");
    const before = await mirrorOf(proxy.url, origin, join(dirs.path, "before"));
    // A file only the version to be taken down lists.
    const ownFile = sha256Hex("steal(process.env)\n");
    const fileStatus = (m: RunningMirror) =>
      fetch(new URL(`-/cairn/blob/sha256/${ownFile}`, m.url)).then((r) => r.status);
    assert.equal(await fileStatus(before), 200);
    let audits = 0;
    try {
      const { index } = await takedown(origin, "takedown", "Malware: steals secrets");
      const withheld = withheldHashes(origin.registry.state.sql);
      assert.ok(withheld.length >= 2);
      for (const hex of withheld)
        assert.equal(await exists(join(before.mirror.treeDir, "blob", "sha256", hex)), true);

      // The mirror synced before: deletes its copies, asks for none of them.
      let mark = proxy.requests.length;
      await before.sync();
      assert.deepEqual(
        blobsAsked(proxy, mark).filter((hex) => withheld.includes(hex)),
        [],
      );
      // One synced from zero after it: never asks for them either.
      mark = proxy.requests.length;
      const after = await mirrorOf(proxy.url, origin, join(dirs.path, "after"));
      try {
        assert.ok(blobsAsked(proxy, mark).length > 0, "the new mirror copied the other blobs");
        assert.deepEqual(
          blobsAsked(proxy, mark).filter((hex) => withheld.includes(hex)),
          [],
        );
        // The mirror that held the file deletes it and answers 451; the new one never had it.
        assert.equal(await fileStatus(before), 451);
        assert.notEqual(await fileStatus(after), 200);
        for (const m of [before, after])
          assert.equal(await exists(join(m.mirror.treeDir, "blob", "sha256", ownFile)), false);
        for (const m of [before, after]) {
          for (const hex of withheld) {
            assert.equal(await exists(join(m.mirror.treeDir, "blob", "sha256", hex)), false);
            const res = await fetch(new URL(`-/cairn/blob/sha256/${hex}`, m.url));
            assert.equal(res.status, 451);
            assert.equal(
              res.headers.get("link"),
              `<${m.url.replace(/\/$/, "")}/>; rel="blocked-by"`,
            );
            const body = (await res.json()) as { reason: string; entry: number };
            assert.deepEqual([body.reason, body.entry], ["Malware: steals secrets", index]);
          }
          assert.equal((await fetch(new URL("evil/-/evil-1.1.0.tgz", m.url))).status, 451);
          // The public list, from the mirror's own replay: the blocked-by target names the reason.
          const list = (await (await fetch(new URL("-/cairn/takedowns", m.url))).json()) as {
            takedowns: { name: string; version: string; entry: number }[];
          };
          assert.deepEqual(
            list.takedowns.map((t) => [t.name, t.version, t.entry]),
            [["evil", "1.1.0", index]],
          );
          const packument = (await (await fetch(new URL("evil", m.url))).json()) as {
            versions: Record<string, unknown>;
          };
          assert.deepEqual(Object.keys(packument.versions), ["1.0.0"]);
          // Its tree check counts the withheld blobs as expected-absent, not damage.
          const health = await checkStoredTree(m.mirror.treeDir, origin.key.verifier, {
            hashBlobs: true,
            isWithheld: (hex) => m.mirror.withholding(hex) !== undefined,
          });
          assert.deepEqual(
            health.damage.filter((d) => withheld.some((hex) => d.path.endsWith(hex))),
            [],
          );
        }

        // cairn verify over HTTP: the 451s are the log's own takedowns, so nothing is wrong.
        for (const url of [origin.url, before.url, after.url]) {
          const audited = await auditTree(new HttpSource(treeUrl(url)), origin.key.verifier, {
            stateDir: join(dirs.path, `audit-${audits++}`),
          });
          assert.deepEqual(
            audited.problems.map((p) => p.message),
            [],
          );
        }
        // A restore: both fetch the bytes again and serve them.
        await takedown(origin, "restore", "False positive");
        for (const m of [before, after]) {
          mark = proxy.requests.length;
          await m.sync();
          const asked = blobsAsked(proxy, mark);
          for (const hex of withheld.filter((h) => !asked.includes(h)))
            assert.fail(`the mirror did not fetch ${hex} again`);
          assert.equal((await fetch(new URL("evil/-/evil-1.1.0.tgz", m.url))).status, 200);
          assert.equal(await fileStatus(m), 200);
        }
      } finally {
        await after.close();
      }
    } finally {
      await before.close();
    }
  });

  test("a mirror refuses an upstream's 451 for a blob the log does not withhold", async () => {
    await using origin = await startTestOrigin();
    await origin.publish("good", "1.0.0");
    const doc = origin.registry.state.table("npm").document("good");
    const tarball = doc?.versions["1.0.0"].artifact?.sha256 as string;
    await using liar = await startCountingProxy(origin.url, {
      answerInstead: (_method, path) =>
        path.endsWith(`/blob/sha256/${tarball}`)
          ? { status: 451, body: JSON.stringify({ error: "taken down", reason: "lies" }) }
          : undefined,
    });
    await using dir = await tempDir("cairn-lying-upstream-");
    const mirror = await Mirror.open({
      from: liar.url,
      verifier: origin.key.verifier,
      dataDir: dir.path,
      durable: false,
    });
    try {
      await assert.rejects(mirror.sync(), { code: "upstream-withheld" });
      assert.equal(mirror.checkpoint, undefined);
      // cairn verify of the liar: its 451 is reported, as the log takes nothing down.
      const audited = await auditTree(new HttpSource(treeUrl(liar.url)), origin.key.verifier, {
        stateDir: join(dir.path, "audit"),
      });
      assert.deepEqual(
        audited.problems.map((p) => p.code),
        ["blob"],
      );
      assert.match(audited.problems[0].message, /451/);
    } finally {
      mirror.close();
    }
  });
});
