/**
 * The origin signs every version it binds with its npm registry key, in the
 * batch that binds it, and serves the key set at /-/npm/v1/keys and the
 * signatures in dist.signatures; an origin started on a log from before
 * signatures signs what it holds, and a rotated key re-signs everything.
 */
import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import { dataPaths } from "../../src/origin/data-paths.ts";
import { loadOrCreateKey } from "../../src/origin/keys.ts";
import { Registry } from "../../src/origin/registry.ts";
import { retireRegistryKey } from "../../src/origin/registry-signer.ts";
import type { Entry, RegistryKey } from "../../src/registry/entries.ts";
import { treeEntries } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

const ABBREVIATED = "application/vnd.npm.install-v1+json";

async function keysOf(url: string): Promise<{ status: number; keys?: RegistryKey[] }> {
  const res = await fetch(new URL("-/npm/v1/keys", url));
  const body = (await res.json()) as { keys?: RegistryKey[] };
  return { status: res.status, keys: body.keys };
}

interface Dist {
  integrity: string;
  signatures?: { keyid: string; sig: string }[];
}

async function distOf(url: string, name: string, version: string, accept = "application/json") {
  const res = await fetch(new URL(name.replace("/", "%2f"), url), { headers: { accept } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    versions: Record<string, { dist: Dist }>;
    time?: Record<string, string>;
  };
  return { dist: body.versions[version].dist, time: body.time?.[version] };
}

/** pacote's check, step by step: every signature's key listed, not expired at the version's time, verifying. */
function pacoteVerifies(
  keys: readonly RegistryKey[],
  name: string,
  version: string,
  dist: Dist,
  time: string,
): void {
  assert.ok(dist.signatures && dist.signatures.length > 0, `${name}@${version} is signed`);
  for (const sig of dist.signatures) {
    const key = keys.find((k) => k.keyid === sig.keyid);
    assert.ok(key, `key ${sig.keyid} is listed`);
    if (key.expires) assert.ok(Date.parse(time) < Date.parse(key.expires), "not expired");
    const pem = `-----BEGIN PUBLIC KEY-----\n${key.key}\n-----END PUBLIC KEY-----`;
    const message = `${name}@${version}:${dist.integrity}`;
    assert.ok(verify("SHA256", Buffer.from(message), pem, Buffer.from(sig.sig, "base64")));
  }
}

async function entriesOf(origin: TestOrigin): Promise<Entry[]> {
  const key = await loadOrCreateKey(join(origin.dataDir, "key"));
  return treeEntries(origin.treeDir, key.verifier);
}

describe("registry signatures on the origin", () => {
  test("a publish is signed in its own batch; keys and both packuments carry it; a restart adds nothing", async () => {
    await using dir = await tempDir("cairn-signed-");
    const dataDir = join(dir.path, "data");
    let origin: TestOrigin | undefined = await startTestOrigin({ dataDir });
    try {
      assert.equal((await keysOf(origin.url)).status, 404, "no keys before anything is signed");
      await origin.publish("plain", "1.0.0");
      await origin.publish("@scope/pkg", "1.0.0-beta.1");
      const { status, keys } = await keysOf(origin.url);
      assert.equal(status, 200);
      assert.equal(keys?.length, 1);
      assert.equal(keys?.[0].expires, null);
      for (const [name, version] of [
        ["plain", "1.0.0"],
        ["@scope/pkg", "1.0.0-beta.1"],
      ]) {
        const full = await distOf(origin.url, name, version);
        pacoteVerifies(keys ?? [], name, version, full.dist, full.time ?? "");
        const abbreviated = await distOf(origin.url, name, version, ABBREVIATED);
        assert.deepEqual(abbreviated.dist.signatures, full.dist.signatures);
      }
      const kinds = (await entriesOf(origin)).map((e) => e.kind);
      // Each publish's batch: the publish, (the first key set,) its signature, the snapshot.
      assert.deepEqual(kinds, [
        "publish",
        "registry-keys",
        "signature",
        "snapshot",
        "publish",
        "signature",
        "snapshot",
      ]);
      const size = origin.registry.appender.size;
      await origin.close();
      origin = undefined;
      const again = await startTestOrigin({ dataDir });
      origin = again;
      assert.equal(again.registry.appender.size, size, "nothing left to sign");
    } finally {
      await origin?.close();
    }
  });

  test("an origin started on a log from before signatures signs every version it holds", async () => {
    await using dir = await tempDir("cairn-unsigned-");
    const dataDir = join(dir.path, "data");
    const key = await loadOrCreateKey(dataPaths(dataDir).key, "test.cairn.example/origin");
    const old = await Registry.open({ dataDir, key, durable: false });
    for (const version of ["1.0.0", "1.1.0"]) {
      const tgz = rawTgz([packageJson("old", version, {})]);
      await publishNpm(old, {
        actor: "alice",
        ...(await parsePublish("old", publishBody({ name: "old", version }, tgz))),
      });
    }
    await old.close();
    const origin = await startTestOrigin({ dataDir });
    try {
      const { keys } = await keysOf(origin.url);
      for (const version of ["1.0.0", "1.1.0"]) {
        const { dist, time } = await distOf(origin.url, "old", version);
        pacoteVerifies(keys ?? [], "old", version, dist, time ?? "");
      }
    } finally {
      await origin.close();
    }
  });

  test("a rotated key expires the old one in the log and signs every version again", async () => {
    await using dir = await tempDir("cairn-rotated-");
    const dataDir = join(dir.path, "data");
    const first = await startTestOrigin({ dataDir });
    await first.publish("rot", "1.0.0");
    const before = (await keysOf(first.url)).keys ?? [];
    await first.close();
    await retireRegistryKey(dataPaths(dataDir).registryKey);
    const origin = await startTestOrigin({ dataDir });
    try {
      await origin.publish("rot", "2.0.0");
      const { keys = [] } = await keysOf(origin.url);
      assert.equal(keys.length, 2);
      assert.equal(keys[0].keyid, before[0].keyid);
      assert.notEqual(keys[0].expires, null, "the old key expired");
      assert.equal(keys[1].expires, null);
      const old = await distOf(origin.url, "rot", "1.0.0");
      assert.deepEqual(
        old.dist.signatures?.map((s) => s.keyid).sort(),
        keys.map((k) => k.keyid).sort(),
      );
      pacoteVerifies(keys, "rot", "1.0.0", old.dist, old.time ?? "");
      const fresh = await distOf(origin.url, "rot", "2.0.0");
      assert.deepEqual(
        fresh.dist.signatures?.map((s) => s.keyid),
        [keys[1].keyid],
      );
      pacoteVerifies(keys, "rot", "2.0.0", fresh.dist, fresh.time ?? "");
    } finally {
      await origin.close();
    }
  });
});
