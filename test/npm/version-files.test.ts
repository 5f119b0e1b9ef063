import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import { auditTree } from "../../src/client/audit.ts";
import { LogClient } from "../../src/client/log-client.ts";
import { SnapshotReader } from "../../src/client/snapshot-reader.ts";
import { PackageStore } from "../../src/install/store.ts";
import { DirectorySource } from "../../src/log/sources.ts";
import { applyDelta } from "../../src/npm/file-deltas.ts";
import { formatFileIndex, parseFileIndex } from "../../src/npm/file-index.ts";
import { importTarballs } from "../../src/npm/import.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import { checkFilesClaim } from "../../src/npm/version-files.ts";
import type { PublishEntry } from "../../src/registry/entries.ts";
import { deltaPath } from "../../src/store/delta-path.ts";
import { packageEntries } from "../helpers/entries.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { putJson, signUp } from "../helpers/registry-client.ts";
import { syncedMirror } from "../helpers/synced-mirror.ts";
import { packageJson, type RawTarEntry, rawTgz } from "../helpers/tar.ts";

const readIndex = (bytes: Uint8Array) => parseFileIndex(Buffer.from(bytes).toString("utf8"));
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const integrity = (tgz: Uint8Array) =>
  `sha512-${createHash("sha512").update(tgz).digest("base64")}`;

/** A few hundred bytes of text that a small change leaves mostly alike. */
const LIB = Array.from({ length: 200 }, (_, i) => `export const value${i} = ${i * 7};`).join("\n");

const BIN = { bin: { tool: "bin/tool.js" } };

function tarball(name: string, version: string, files: readonly RawTarEntry[]): Buffer {
  return rawTgz([packageJson(name, version, BIN), ...files]);
}

function body(version: string, tgz: Buffer) {
  return publishBody({ name: "pkg", version, ...BIN }, tgz);
}

async function publishOverHttp(origin: TestOrigin, token: string, tgz: Buffer, version: string) {
  const res = await putJson(origin.url, "/pkg", token, body(version, tgz));
  assert.equal(res.status, 201, await res.text());
}

async function treeGet(origin: TestOrigin, path: string): Promise<Response> {
  return fetch(new URL(`-/cairn/${path}`, origin.url));
}

/** The bytes of the file index the publish entry of `version` names, as the origin serves them. */
async function servedIndex(origin: TestOrigin, version: string): Promise<Buffer> {
  const { files } = await publishEntryOf(origin, version);
  assert.ok(files, `the publish of ${version} names a file index`);
  const res = await treeGet(origin, `blob/sha256/${files.sha256}`);
  assert.equal(res.status, 200);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(bytes.length, files.size);
  return bytes;
}

async function publishEntryOf(origin: TestOrigin, version: string): Promise<PublishEntry> {
  const entries = await packageEntries(origin.treeDir, origin.key.verifier);
  const entry = entries.find((e) => e.kind === "publish" && e.version === version);
  assert.ok(entry?.kind === "publish");
  return entry;
}

const V1: RawTarEntry[] = [
  { name: "package/lib.js", data: LIB },
  { name: "package/same.txt", data: "unchanged\n" },
  { name: "package/bin/tool.js", data: "#!/usr/bin/env node\n" },
  { name: "package/.gitignore", data: "node_modules\n" },
];
const V2: RawTarEntry[] = [
  { name: "package/lib.js", data: LIB.replace("value100 = 700", "value100 = 701") },
  { name: "package/same.txt", data: "unchanged\n" },
  { name: "package/bin/tool.js", data: "#!/usr/bin/env node\n" },
  { name: "package/added.txt", data: "new in 1.1.0\n" },
];

describe("a version's files, published", () => {
  test("a publish names the installer's own index, serves every file, and deltas the changed ones", async () => {
    await using origin = await startTestOrigin();
    await using home = await tempDir();
    const token = await signUp(origin.url, "alice", "correct horse battery");
    const first = tarball("pkg", "1.0.0", V1);
    await publishOverHttp(origin, token, first, "1.0.0");
    // The index served is, byte for byte, the one the installer's store writes for the tarball.
    const served = await servedIndex(origin, "1.0.0");
    const store = await PackageStore.open(home.path);
    const stored = await store.addTarball(first, { integrity: integrity(first) });
    assert.ok(served.equals(await readFile(store.indexPath(stored.tarball.integrity))));
    const index = readIndex(served);
    assert.deepEqual(
      [...index.files.keys()],
      ["bin/tool.js", "lib.js", "package.json", ".npmignore", "same.txt"].sort(),
    );
    // Every file it lists is a blob of its raw bytes.
    for (const [path, file] of index.files) {
      const blob = await treeGet(origin, `blob/sha256/${file.sha256}`);
      assert.equal(blob.status, 200, path);
      const bytes = Buffer.from(await blob.arrayBuffer());
      assert.equal(sha256(bytes), file.sha256, path);
    }

    // A client reading the package document through the signed snapshot learns the index.
    await using state = await tempDir();
    const client = await LogClient.open({
      origin: origin.url,
      verifier: origin.key.verifier,
      stateDir: state.path,
      useMirrorList: false,
    });
    await client.refresh();
    const doc = await new SnapshotReader(client).document("npm", "pkg");
    assert.deepEqual(doc?.versions["1.0.0"].files, (await publishEntryOf(origin, "1.0.0")).files);

    await publishOverHttp(origin, token, tarball("pkg", "1.1.0", V2), "1.1.0");
    await origin.deltasIdle();
    const next = readIndex(await servedIndex(origin, "1.1.0"));
    const base = index.files.get("lib.js")?.sha256 as string;
    const target = next.files.get("lib.js")?.sha256 as string;
    assert.notEqual(base, target);
    const delta = await treeGet(origin, deltaPath(base, target));
    assert.equal(delta.status, 200);
    assert.equal(delta.headers.get("cache-control"), "public, max-age=31536000, immutable");
    const deltaBytes = Buffer.from(await delta.arrayBuffer());
    const baseBytes = Buffer.from(LIB);
    const targetBytes = Buffer.from(V2[0].data as string);
    assert.ok(deltaBytes.length < targetBytes.length / 4, `a ${deltaBytes.length}-byte delta`);
    // Plain node:zlib with the old file as the dictionary gives the new file.
    assert.ok(zstdDecompressSync(deltaBytes, { dictionary: baseBytes }).equals(targetBytes));
    assert.ok(applyDelta(baseBytes, deltaBytes).equals(targetBytes));
    // No delta where nothing changed, nor for a path the old version lacked.
    const same = index.files.get("same.txt")?.sha256 as string;
    const absent = await treeGet(origin, deltaPath(same, same));
    assert.equal(absent.status, 404);
    assert.equal(((await absent.json()) as { code: string }).code, "not-found");
  });

  test("a tarball that holds a path as a file and a folder is refused at publish, and changes nothing", async () => {
    await using origin = await startTestOrigin();
    const token = await signUp(origin.url, "alice", "correct horse battery");
    const blobs = join(origin.treeDir, "blob", "sha256");
    const before = { size: origin.registry.appender.size, blobs: (await readdir(blobs)).sort() };
    const tgz = tarball("pkg", "1.0.0", [
      { name: "package/lib", data: "a file" },
      { name: "package/lib/index.js", data: "and a folder" },
    ]);
    const res = await putJson(origin.url, "/pkg", token, body("1.0.0", tgz));
    assert.equal(res.status, 422);
    assert.equal(((await res.json()) as { code: string }).code, "hostile-entry");
    const after = { size: origin.registry.appender.size, blobs: (await readdir(blobs)).sort() };
    assert.deepEqual(after, before);
  });

  test("the previous version is the highest lower one, so a backport deltas against its own line", async () => {
    await using origin = await startTestOrigin();
    const lib = (n: number) => [{ name: "package/lib.js", data: `${LIB}\n// ${n}\n` }];
    await origin.publish("pkg", "1.0.0", {}, lib(1));
    await origin.publish("pkg", "2.0.0", {}, lib(2));
    await origin.publish("pkg", "1.1.0", {}, lib(3));
    await origin.deltasIdle();
    const hash = (n: number) => sha256(`${LIB}\n// ${n}\n`);
    assert.equal((await treeGet(origin, deltaPath(hash(1), hash(2)))).status, 200);
    assert.equal((await treeGet(origin, deltaPath(hash(1), hash(3)))).status, 200);
    assert.equal((await treeGet(origin, deltaPath(hash(2), hash(3)))).status, 404);
  });

  test("cairn import names the files of each version it imports", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    const file = join(dir.path, "pkg-1.0.0.tgz");
    const tgz = tarball("pkg", "1.0.0", V1);
    await writeFile(file, tgz);
    const result = await importTarballs(origin.registry, "alice", [file]);
    assert.equal(result.published, 1);
    const served = await servedIndex(origin, "1.0.0");
    const parsed = await parsePublish("pkg", body("1.0.0", tgz));
    assert.ok(served.equals(Buffer.from(parsed.files.index)));
  });
});

describe("a mirror and a version's files", () => {
  test("a mirror copies the index and derives every file from the tarball", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    await origin.publish("pkg", "1.0.0", {}, V1);
    using mirror = await syncedMirror(origin, dir.path);
    const entry = await publishEntryOf(origin, "1.0.0");
    const index = await mirror.blobs.get(entry.files?.sha256 as string);
    assert.ok(index);
    for (const [path, file] of readIndex(index).files)
      assert.ok(await mirror.blobs.has(file.sha256), path);
  });

  test("an origin whose index is not its tarball's is refused, and the mirror stays where it was", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir();
    await origin.publish("pkg", "1.0.0", {}, V1);
    using mirror = await syncedMirror(origin, dir.path);
    const held = mirror.checkpoint?.size;
    // The origin signs an index that leaves a file out: well-formed, and a lie.
    const tgz = tarball("pkg", "1.1.0", V2);
    const parsed = await parsePublish("pkg", body("1.1.0", tgz));
    const lie = readIndex(parsed.files.index);
    const files = new Map(lie.files);
    files.delete("added.txt");
    const index = Buffer.from(formatFileIndex({ ...lie, files }));
    await publishNpm(origin.registry, {
      actor: "alice",
      ...parsed,
      files: { ...parsed.files, index },
    });
    await assert.rejects(mirror.sync(), { name: "PackageFilesError", code: "index-mismatch" });
    assert.equal(mirror.checkpoint?.size, held);
    // A monitor's audit (cairn verify) finds it too, and nothing else.
    const audit = await auditTree(new DirectorySource(origin.treeDir), origin.key.verifier, {
      stateDir: join(dir.path, "audit"),
      checkEntry: checkFilesClaim,
    });
    assert.deepEqual(
      audit.problems.map((p) => p.code),
      ["blob"],
    );
    assert.match(audit.problems[0].message, /pkg@1\.1\.0/);
  });
});
