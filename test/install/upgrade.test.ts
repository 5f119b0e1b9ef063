/**
 * Upgrades and repairs that fetch only what changed: a store holding one
 * version of a package takes the next by its file index, a per-file delta
 * for each changed file and the blob of each new one, never the tarball;
 * and every byte of that is checked, so a mirror that alters an index, a
 * delta or a file is refused and the origin gives the right bytes.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { VerifyingReader } from "../../src/client/verifying-reader.ts";
import { install } from "../../src/install/install.ts";
import { RegistrySource } from "../../src/install/registry-source.ts";
import { PackageStore } from "../../src/install/store.ts";
import { shapeKey } from "../../src/install/up-to-date.ts";
import { type CountingProxy, startCountingProxy } from "../helpers/counting-proxy.ts";
import { tempDir } from "../helpers/log.ts";
import { type Attack, startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { noiseText } from "../helpers/noise-text.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";

const CORE = noiseText(1, 200_000);
const shared = Array.from({ length: 8 }, (_, i) => ({
  name: `package/lib/shared-${i}.js`,
  data: noiseText(100 + i, 20_000),
}));
const v1Files = [
  { name: "package/lib/core.js", data: CORE },
  { name: "package/lib/removed.js", data: noiseText(7, 5_000) },
  ...shared,
];
// 1.1.0: one line of the big file changed, one file gone, one new.
const v2Files = [
  { name: "package/lib/core.js", data: CORE.replace(/\n[^\n]*\n/, "\nchanged-line\n") },
  { name: "package/lib/added.js", data: noiseText(9, 2_000) },
  ...shared,
];

describe("upgrades fetch only what changed", () => {
  let origin: TestOrigin;
  let counting: CountingProxy;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let tarballSize: number;
  let tarballPath: string;

  before(async () => {
    origin = await startTestOrigin();
    dir = await tempDir("cairn-upgrade-");
    await origin.publish("big", "1.0.0", { main: "lib/core.js" }, v1Files);
    await origin.publish("big", "1.1.0", { main: "lib/core.js" }, v2Files);
    await origin.publish("big", "1.2.0", { main: "lib/core.js" }, v2Files);
    await origin.deltasIdle();
    const doc = origin.registry.state.table("npm").document("big");
    const artifact = doc?.versions["1.1.0"]?.artifact;
    assert.ok(artifact);
    tarballSize = artifact.size;
    tarballPath = `blob/sha256/${artifact.sha256}`;
    counting = await startCountingProxy(origin.url);
  });

  after(async () => {
    await counting.close();
    await origin[Symbol.asyncDispose]();
    await dir[Symbol.asyncDispose]();
  });

  let count = 0;
  async function project(version: string): Promise<string> {
    const path = join(dir.path, `project-${count++}`);
    await mkdir(path, { recursive: true });
    await writeFile(
      join(path, "package.json"),
      JSON.stringify({ name: "app", version: "1.0.0", dependencies: { big: version } }),
    );
    return path;
  }

  async function openReader(originUrl: string, mirrors: string[] = []) {
    const problems: string[] = [];
    const reader = await VerifyingReader.open({
      origin: originUrl,
      verifier: origin.key.verifier,
      dataDir: join(dir.path, `reader-${count++}`),
      mirrors,
      useMirrorList: false,
      cacheTarballs: false,
      onProblem: (err) => problems.push(err.message),
    });
    await reader.update();
    return { reader, problems };
  }

  function run(projectDir: string, reader: VerifyingReader, store: PackageStore) {
    return install({
      projectDir,
      store,
      source: new RegistrySource(reader),
      stampOptions: shapeKey({ frozen: false, omit: [], layout: "hoisted", ignoreScripts: true }),
      ignoreScripts: true,
    });
  }

  /** Every file under a folder with its bytes and mode, by path. */
  async function files(folder: string): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const name of await readdir(folder, { recursive: true })) {
      const path = join(folder, name);
      const st = await stat(path);
      if (st.isFile())
        found.set(name, `${(st.mode & 0o111) !== 0}:${(await readFile(path)).toString("base64")}`);
    }
    return found;
  }

  async function cleanInstall(): Promise<Map<string, string>> {
    const { reader } = await openReader(origin.url);
    try {
      const projectDir = await project("1.1.0");
      await run(projectDir, reader, await PackageStore.open(join(dir.path, `store-${count++}`)));
      return files(join(projectDir, "node_modules", "big"));
    } finally {
      await reader.close();
    }
  }

  test("an upgrade takes deltas and new files, not the tarball, and equals a clean install", async () => {
    const { reader } = await openReader(counting.url);
    try {
      const store = await PackageStore.open(join(dir.path, "store-upgrade"));
      await run(await project("1.0.0"), reader, store);
      const before = { requests: counting.requests.length, bytes: counting.responseBytes() };
      const projectDir = await project("1.1.0");
      const report = await run(projectDir, reader, store);
      const requests = counting.requests.slice(before.requests);
      const wire = counting.responseBytes() - before.bytes;

      assert.equal(report.fetched, 1);
      assert.ok(!requests.some((r) => r.includes(tarballPath)), "the tarball was not fetched");
      // The index, core.js and package.json changed: a delta each; added.js is new: its blob.
      assert.equal(requests.filter((r) => r.includes("/delta/sha256/")).length, 3);
      assert.equal(requests.filter((r) => r.includes("/blob/sha256/")).length, 1);
      assert.ok(report.fetchedBytes < tarballSize / 10, `${report.fetchedBytes} of ${tarballSize}`);
      // Everything that crossed the wire, the log's proofs and the document included.
      assert.ok(wire < tarballSize / 4, `${wire} bytes on the wire, tarball ${tarballSize}`);
      assert.deepEqual(await files(join(projectDir, "node_modules", "big")), await cleanInstall());
    } finally {
      await reader.close();
    }
  });

  test("an upgrade that skips a version takes the tarball: the origin made no deltas from the one held", async () => {
    const { reader } = await openReader(counting.url);
    try {
      const store = await PackageStore.open(join(dir.path, "store-skip"));
      await run(await project("1.0.0"), reader, store);
      const from = counting.requests.length;
      await run(await project("1.2.0"), reader, store);
      const requests = counting.requests.slice(from);
      const artifact = origin.registry.state.table("npm").document("big")?.versions[
        "1.2.0"
      ]?.artifact;
      assert.ok(artifact);
      assert.ok(requests.some((r) => r.endsWith(`/blob/sha256/${artifact.sha256}`)));
      assert.ok(!requests.some((r) => r.includes("/delta/")), requests.join("\n"));
    } finally {
      await reader.close();
    }
  });

  test("a damaged store file is repaired by fetching that file alone", async () => {
    const { reader } = await openReader(counting.url);
    try {
      const store = await PackageStore.open(join(dir.path, "store-repair"));
      await run(await project("1.1.0"), reader, store);
      await damageAddedFile(store);
      const added = (await store.findIndex("big", "1.1.0"))?.files.get("lib/added.js");
      assert.ok(added);
      const from = counting.requests.length;
      const projectDir = await project("1.1.0");
      await run(projectDir, reader, store);
      const requests = counting.requests.slice(from);
      assert.ok(requests.some((r) => r.endsWith(`/blob/sha256/${added.sha256}`)));
      assert.ok(!requests.some((r) => r.includes(tarballPath)), "the tarball was not fetched");
      assert.equal(
        await readFile(join(projectDir, "node_modules", "big", "lib", "added.js"), "utf8"),
        v2Files[1].data,
      );
    } finally {
      await reader.close();
    }
  });

  test("a damaged base file in the store is not used for a delta, and no source is blamed", async () => {
    const { reader, problems } = await openReader(origin.url);
    try {
      const store = await PackageStore.open(join(dir.path, "store-damaged-base"));
      await run(await project("1.0.0"), reader, store);
      const core = (await store.findIndex("big", "1.0.0"))?.files.get("lib/core.js");
      assert.ok(core);
      await chmod(store.filePath(core), 0o644);
      await writeFile(store.filePath(core), "y".repeat(core.size));
      const projectDir = await project("1.1.0");
      await run(projectDir, reader, store);
      assert.deepEqual(problems, []);
      assert.deepEqual(await files(join(projectDir, "node_modules", "big")), await cleanInstall());
    } finally {
      await reader.close();
    }
  });

  /** Makes the store's copy of 1.1.0's added.js wrong, so the next install must repair it. */
  async function damageAddedFile(store: PackageStore): Promise<void> {
    const index = await store.findIndex("big", "1.1.0");
    const added = index?.files.get("lib/added.js");
    assert.ok(added);
    await chmod(store.filePath(added), 0o644);
    await writeFile(store.filePath(added), "x".repeat(added.size));
  }

  // A delta or a file in an upgrade; the whole index in a repair (an upgrade takes it as a delta).
  for (const attack of ["delta-byte", "file-byte", "index-byte"] as Attack[]) {
    test(`a mirror's ${attack} is refused, named, and fetched from the origin`, async () => {
      await using liar = await startMaliciousMirror({ treeDir: origin.treeDir });
      const { reader, problems } = await openReader(origin.url, [liar.url]);
      try {
        const store = await PackageStore.open(join(dir.path, `store-${attack}`));
        const repair = attack === "index-byte";
        await run(await project(repair ? "1.1.0" : "1.0.0"), reader, store);
        if (repair) await damageAddedFile(store);
        liar.attack = attack;
        const projectDir = await project("1.1.0");
        await run(projectDir, reader, store);
        assert.ok(
          problems.some((p) => p.includes(liar.url)),
          `the liar is named: ${problems.join("; ")}`,
        );
        assert.deepEqual(
          await files(join(projectDir, "node_modules", "big")),
          await cleanInstall(),
        );
      } finally {
        await reader.close();
      }
    });
  }
});
