import assert from "node:assert/strict";
import { access, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { startOrigin } from "../../src/npm/origin-server.ts";
import type { RestoredBytes } from "../../src/origin/registry.ts";
import { checkStoredTree } from "../../src/origin/tree-health.ts";
import { withholdingOf } from "../../src/registry/withheld.ts";
import { cidOf } from "../../src/store/cid.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { startTestOrigin, testOriginConfig } from "../helpers/origin.ts";
import { signUp } from "../helpers/registry-client.ts";
import { recordLarge } from "../helpers/unixfs-dag.ts";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

function moderate(url: string, method: "PUT" | "DELETE", token: string, body: unknown) {
  return fetch(new URL("-/cairn/takedown", url), {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("takedowns on the origin", () => {
  test("a moderator's takedown answers 451 with the reason everywhere, and a restore undoes it", async () => {
    await using origin = await startTestOrigin({ settings: { moderators: ["carol"] } });
    await origin.publish("evil", "1.0.0");
    await origin.publish("evil", "1.1.0");
    const carol = await signUp(origin.url, "carol", "correct horse battery");
    const mallory = await signUp(origin.url, "mallory", "correct horse battery");
    const doc = origin.registry.state.table("npm").document("evil");
    const tarball = doc?.versions["1.1.0"].artifact?.sha256 as string;
    const blobUrl = new URL(`-/cairn/blob/sha256/${tarball}`, origin.url);
    assert.equal((await fetch(blobUrl)).status, 200);

    // Not a moderator: refused, nothing changes.
    const size = origin.registry.appender.size;
    const refused = await moderate(origin.url, "PUT", mallory, { name: "evil", reason: "no" });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { code: string }).code, "forbidden");
    assert.equal(origin.registry.appender.size, size);
    // Hostile or mistaken bodies get a coded refusal and change nothing.
    for (const [body, status, code] of [
      [{ name: "evil", version: "1.1.0", reason: "a\nb" }, 400, "bad-field"],
      [{ name: "evil", version: "1.1.0", reason: "" }, 400, "bad-request"],
      [{ name: "evil", version: "1.1.0", reason: "x", extra: 1 }, 400, "bad-request"],
      [{ name: "evil", version: "9.9.9", reason: "x" }, 404, "not-found"],
      [{ name: "nobody", reason: "x" }, 404, "not-found"],
      [{ name: "evil", reason: "x", ecosystem: "nope" }, 400, "bad-field"],
      ["not an object", 400, "bad-request"],
    ] as const) {
      const res = await moderate(origin.url, "PUT", carol, body);
      const answer = (await res.json()) as { code: string };
      assert.deepEqual([res.status, answer.code], [status, code], JSON.stringify(body));
    }
    assert.equal(origin.registry.appender.size, size);

    const reason = "Malware: reads ~/.npmrc (report #123)";
    const put = await moderate(origin.url, "PUT", carol, {
      name: "evil",
      version: "1.1.0",
      reason,
    });
    assert.equal(put.status, 200, await put.clone().text());
    const { entry } = (await put.json()) as { entry: number };

    // The blob: 451, Link rel=blocked-by naming this server, the reason and the entry.
    const blocked = await fetch(blobUrl);
    assert.equal(blocked.status, 451);
    assert.equal(
      blocked.headers.get("link"),
      `<${origin.url.replace(/\/$/, "")}/>; rel="blocked-by"`,
    );
    assert.match(blocked.headers.get("cache-control") ?? "", /max-age=300/);
    const body = (await blocked.json()) as Record<string, unknown>;
    assert.equal(body.code, "taken-down");
    assert.equal(body.reason, reason);
    assert.equal(body.entry, entry);
    assert.equal(body.version, "1.1.0");
    // The IPFS gateway, for the tarball's raw block.
    const block = await fetch(new URL(`ipfs/${cidOf(tarball)}`, origin.url), {
      headers: { accept: "application/vnd.ipld.raw" },
    });
    assert.equal(block.status, 451);
    assert.equal(((await block.json()) as { reason: string }).reason, reason);
    // The npm tarball route too.
    const tgz = await fetch(new URL("evil/-/evil-1.1.0.tgz", origin.url));
    assert.equal(tgz.status, 451);
    assert.equal(((await tgz.json()) as { reason: string }).reason, reason);
    // The packument leaves the version out, moves latest back, and lists the reason.
    const packument = (await (await fetch(new URL("evil", origin.url))).json()) as {
      versions: Record<string, unknown>;
      "dist-tags": Record<string, string>;
      takedowns: Record<string, { reason: string; entry: number; time: string }>;
    };
    assert.deepEqual(Object.keys(packument.versions), ["1.0.0"]);
    assert.equal(packument["dist-tags"].latest, "1.0.0");
    const { time, ...record } = packument.takedowns["1.1.0"];
    assert.deepEqual(record, { reason, entry });
    assert.equal(typeof time, "string");
    // The public list.
    const list = (await (await fetch(new URL("-/cairn/takedowns", origin.url))).json()) as {
      takedowns: { name: string; version: string; reason: string; entry: number }[];
    };
    assert.deepEqual(
      list.takedowns.map(({ name, version, reason: r, entry: e }) => [name, version, r, e]),
      [["evil", "1.1.0", reason, entry]],
    );
    // The web page: 451, a banner with the reason and a link to the log entry.
    const page = await fetch(new URL("-/web/package/evil/v/1.1.0", origin.url), {
      headers: { accept: "text/html" },
    });
    assert.equal(page.status, 451);
    const text = await page.text();
    assert.ok(text.includes("Taken down."), text.slice(0, 300));
    assert.ok(text.includes(reason) && text.includes(`/-/web/entry/${entry}`));
    // The file browser of the version is withheld too; the live version's page is not.
    const files = await fetch(new URL("-/web/package/evil/v/1.1.0/files", origin.url), {
      headers: { accept: "text/html" },
    });
    assert.equal(files.status, 451);
    assert.equal((await fetch(new URL("-/web/package/evil/v/1.0.0", origin.url))).status, 200);
    // The log page names the entry and its reason.
    const changes = await (
      await fetch(new URL(`-/web/changes/${entry}/${entry + 1}`, origin.url))
    ).text();
    assert.ok(changes.includes("took down") && changes.includes(reason), changes.slice(0, 500));
    // The bytes left the served tree and wait aside; the tree is still whole.
    assert.equal(await exists(join(origin.treeDir, "blob", "sha256", tarball)), false);
    assert.equal(await exists(join(origin.dataDir, "withheld", tarball)), true);
    const isWithheld = (hex: string) => withholdingOf(origin.registry.state.sql, hex) !== undefined;
    const health = await checkStoredTree(origin.treeDir, origin.key.verifier, {
      hashBlobs: true,
      isWithheld,
    });
    assert.deepEqual(health.damage, []);
    assert.equal(origin.health.damaged, false);

    // Restore: the bytes come back and are served again.
    const del = await moderate(origin.url, "DELETE", carol, {
      name: "evil",
      version: "1.1.0",
      reason: "Report withdrawn",
    });
    assert.equal(del.status, 200, await del.clone().text());
    assert.equal((await fetch(blobUrl)).status, 200);
    assert.equal((await fetch(new URL("evil/-/evil-1.1.0.tgz", origin.url))).status, 200);
    const raw = { headers: { accept: "application/vnd.ipld.raw" } };
    assert.equal((await fetch(new URL(`ipfs/${cidOf(tarball)}`, origin.url), raw)).status, 200);
    assert.equal(await exists(join(origin.treeDir, "blob", "sha256", tarball)), true);
    // A second restore does not apply.
    const again = await moderate(origin.url, "DELETE", carol, {
      name: "evil",
      version: "1.1.0",
      reason: "twice",
    });
    assert.equal(again.status, 409);
  });

  test("the nodes and leaves of a taken-down tarball over 1 MiB answer 451; a leaf a live tarball shares does not", async () => {
    await using origin = await startTestOrigin();
    const MiB = 1024 * 1024;
    const shared = Buffer.alloc(MiB, 7);
    const own = Buffer.alloc(MiB + 5, 9);
    const evil = Buffer.concat([shared, own]);
    const live = Buffer.concat([shared, Buffer.alloc(MiB + 5, 3)]);
    const down = await recordLarge(origin, evil);
    await recordLarge(origin, live);
    const raw = { headers: { accept: "application/vnd.ipld.raw" } };
    const get = (cid: string) => fetch(new URL(`ipfs/${cid}`, origin.url), raw);
    const root = down.root.toString();
    const ownLeaf = cidOf(sha256Hex(own.subarray(0, MiB)));
    const sharedLeaf = cidOf(sha256Hex(shared));
    for (const cid of [root, ownLeaf, sharedLeaf]) assert.equal((await get(cid)).status, 200, cid);
    const reason = "Illegal content (court order 42)";
    await origin.registry.takedown({
      kind: "takedown",
      actor: "carol",
      ecosystem: "npm",
      name: "large",
      version: down.version,
      reason,
    });
    for (const cid of [root, ownLeaf]) {
      const res = await get(cid);
      assert.equal(res.status, 451, cid);
      const body = (await res.json()) as { code: string; reason: string; version: string };
      assert.deepEqual(
        [body.code, body.reason, body.version],
        ["taken-down", reason, down.version],
      );
    }
    assert.equal((await get(sharedLeaf)).status, 200);
  });

  test("a taken-down version withholds the files no live version lists, and the deltas from or to them", async () => {
    await using origin = await startTestOrigin();
    const LICENSE = "MIT License, shared by everyone\n";
    const file = (name: string, data: string) => ({ name: `package/${name}`, data });
    await origin.publish("evil", "1.0.0", {}, [
      file("LICENSE", LICENSE),
      file("index.js", "ok()\n"),
    ]);
    await origin.publish("evil", "1.1.0", {}, [
      file("LICENSE", LICENSE),
      file("index.js", "steal()\n"),
    ]);
    await origin.publish("other", "1.0.0", {}, [
      file("LICENSE", LICENSE),
      file("x.js", "steal()\n"),
      file("y.js", "own()\n"),
    ]);
    await origin.deltasIdle();
    const blob = (data: string) =>
      fetch(new URL(`-/cairn/blob/sha256/${sha256Hex(data)}`, origin.url)).then((r) => r.status);
    const delta = fetch(
      new URL(`-/cairn/delta/sha256/${sha256Hex("ok()\n")}/${sha256Hex("steal()\n")}`, origin.url),
    ).then((r) => r.status);
    assert.equal(await delta, 200);
    const takedown = (name: string, kind: "takedown" | "restore") =>
      origin.registry.takedown({
        kind,
        actor: "carol",
        ecosystem: "npm",
        name,
        version: "1.0.0",
        reason: "Malware",
      });
    await takedown("other", "takedown");
    // Its own file is withheld; the files a live version also lists are not.
    assert.deepEqual(
      [await blob("own()\n"), await blob("steal()\n"), await blob(LICENSE)],
      [451, 200, 200],
    );
    assert.equal(await exists(join(origin.treeDir, "blob", "sha256", sha256Hex("own()\n"))), false);
    await takedown("evil", "takedown");
    assert.deepEqual([await blob("ok()\n"), await blob(LICENSE)], [451, 200]);
    // The delta from a withheld file to a live one is withheld too.
    const refused = await fetch(
      new URL(`-/cairn/delta/sha256/${sha256Hex("ok()\n")}/${sha256Hex("steal()\n")}`, origin.url),
    );
    assert.equal(refused.status, 451);
    assert.equal(((await refused.json()) as { code: string }).code, "taken-down");
    await takedown("other", "restore");
    await takedown("evil", "restore");
    assert.deepEqual(
      [await blob("own()\n"), await blob("ok()\n"), await blob("steal()\n")],
      [200, 200, 200],
    );
  });

  test("a withheld file back in the tree after a crash is moved aside again at the next start", async () => {
    const origin = await startTestOrigin();
    const { dataDir, treeDir } = origin;
    await origin.publish("other", "1.0.0", {}, [{ name: "package/own.js", data: "own()\n" }]);
    await origin.registry.takedown({
      kind: "takedown",
      actor: "carol",
      ecosystem: "npm",
      name: "other",
      version: "1.0.0",
      reason: "Malware",
    });
    await origin.close();
    const own = sha256Hex("own()\n");
    const served = join(treeDir, "blob", "sha256", own);
    // As if the origin stopped between the entry and the move.
    await rename(join(dataDir, "withheld", own), served);
    const again = await startOrigin(testOriginConfig(dataDir));
    try {
      assert.equal(await exists(served), false);
      assert.equal(await exists(join(dataDir, "withheld", own)), true);
      const res = await fetch(new URL(`-/cairn/blob/sha256/${own}`, again.url));
      assert.equal(res.status, 451);
    } finally {
      await again.close();
      await rm(dirname(dataDir), { recursive: true, force: true });
    }
  });

  test("versions published before the reverse index are added to it at start, so their files stay live", async () => {
    const origin = await startTestOrigin();
    const { dataDir } = origin;
    const shared = { name: "package/shared.js", data: "shared()\n" };
    await origin.publish("good", "1.0.0", {}, [shared]);
    await origin.publish("evil", "1.0.0", {}, [shared]);
    // As an origin that recorded good@1.0.0 before the index existed.
    origin.registry.state.sql("DELETE FROM file_versions WHERE name = 'good'").run();
    await origin.close();
    const again = await startOrigin(testOriginConfig(dataDir));
    try {
      await again.registry.takedown({
        kind: "takedown",
        actor: "carol",
        ecosystem: "npm",
        name: "evil",
        version: "1.0.0",
        reason: "Malware",
      });
      const res = await fetch(new URL(`-/cairn/blob/sha256/${sha256Hex(shared.data)}`, again.url));
      assert.equal(res.status, 200);
    } finally {
      await again.close();
      await rm(dirname(dataDir), { recursive: true, force: true });
    }
  });

  test("a whole package taken down answers its packument 451 and refuses new publishes", async () => {
    await using origin = await startTestOrigin({ settings: { moderators: ["carol"] } });
    await origin.publish("evil", "1.0.0");
    const carol = await signUp(origin.url, "carol", "correct horse battery");
    const reason = "Court order 2026-17";
    const put = await moderate(origin.url, "PUT", carol, { name: "evil", reason });
    assert.equal(put.status, 200, await put.clone().text());
    const res = await fetch(new URL("evil", origin.url));
    assert.equal(res.status, 451);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.reason, reason);
    assert.equal(body.version, undefined);
    // Even its owner gets a coded refusal, before the sequencer, not a fold failure.
    await assert.rejects(origin.publish("evil", "2.0.0"), { code: "forbidden" });
  });

  test("a purged takedown deletes the bytes; a restore needs them again, checked against the entry before anything is appended", async () => {
    await using origin = await startTestOrigin();
    await origin.publish("illegal", "1.0.0");
    const version = origin.registry.state.table("npm").document("illegal")?.versions["1.0.0"];
    const artifact = version?.artifact as { sha256: string };
    const held = async (sha256: string | undefined) =>
      (await origin.registry.blobs.get(sha256 as string)) as Uint8Array;
    const tarball = await held(artifact.sha256);
    const manifest = await held(version?.manifest.sha256);
    const index = await held(version?.files?.sha256);
    const request = {
      actor: "carol",
      ecosystem: "npm",
      name: "illegal",
      version: "1.0.0",
    } as const;
    await origin.registry.takedown({
      ...request,
      kind: "takedown",
      reason: "Court order",
      purge: true,
    });
    assert.equal(await exists(join(origin.treeDir, "blob", "sha256", artifact.sha256)), false);
    assert.equal(await exists(join(origin.dataDir, "withheld", artifact.sha256)), false);
    const size = origin.registry.appender.size;
    const restore = (bytes?: RestoredBytes) =>
      origin.registry.takedown({
        ...request,
        kind: "restore",
        reason: "Order lifted",
        ...(bytes ? { bytes } : {}),
      });
    const files = { index, contents: [] };
    const altered = Buffer.from(tarball);
    altered[altered.length - 1] ^= 1;
    for (const [bytes, code] of [
      [{ tarball: altered, manifest, files }, "invalid"],
      [{ tarball, manifest: Buffer.from("{}"), files }, "invalid"],
      [{ tarball, manifest }, "purged"],
      [{ manifest, files }, "purged"],
      [undefined, "purged"],
    ] as const) {
      await assert.rejects(restore(bytes), { code });
      assert.equal(origin.registry.appender.size, size);
      assert.equal(
        (await fetch(new URL(`-/cairn/blob/sha256/${artifact.sha256}`, origin.url))).status,
        451,
      );
    }
    const { index: entry } = await restore({ tarball, manifest, files });
    assert.ok(entry >= size);
    const doc = origin.registry.state.table("npm").document("illegal");
    assert.equal(doc?.versions["1.0.0"].takenDown, undefined);
    const tgz = await fetch(new URL("illegal/-/illegal-1.0.0.tgz", origin.url));
    assert.equal(tgz.status, 200);
    assert.deepEqual(Buffer.from(await tgz.arrayBuffer()), Buffer.from(tarball));
    for (const blob of [manifest, index])
      assert.equal(
        (await fetch(new URL(`-/cairn/blob/sha256/${sha256Hex(blob)}`, origin.url))).status,
        200,
      );
  });
});
