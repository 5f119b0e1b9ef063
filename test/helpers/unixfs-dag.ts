/**
 * UnixFS file DAGs made by the reference IPFS libraries, as test oracles:
 * the importer under the IPIP-0499 `unixfs-v1-2025` profile (1 MiB raw
 * leaves, balanced, 1024 links) and the exporter that reads a file back
 * from blocks.
 */
import { createHash } from "node:crypto";
import { MemoryBlockstore } from "blockstore-core";
import { exporter } from "ipfs-unixfs-exporter";
import { importer } from "ipfs-unixfs-importer";
import type { CID } from "multiformats/cid";
import type { TestOrigin } from "./origin.ts";

async function concat(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The root CID of `content` as a UnixFS file, and the bytes of every block of its DAG. */
export async function unixfsDag(content: Uint8Array): Promise<{ root: CID; blocks: Buffer[] }> {
  const store = new MemoryBlockstore();
  let root: CID | undefined;
  for await (const entry of importer([{ content }], store, { profile: "unixfs-v1-2025" }))
    root = entry.cid;
  if (!root) throw new Error("the importer made no root");
  const blocks: Buffer[] = [];
  for await (const pair of store.getAll()) blocks.push(await concat(pair.bytes));
  return { root, blocks };
}

/** The file a DAG holds, read back by the exporter from these blocks alone. */
export async function exportFile(
  root: CID,
  blocks: Iterable<{ readonly cid: CID; readonly bytes: Uint8Array }>,
): Promise<Buffer> {
  const store = new MemoryBlockstore();
  for (const block of blocks) await store.put(block.cid, block.bytes);
  const entry = await exporter(root, store);
  if (entry.type !== "file" && entry.type !== "raw") throw new Error(`not a file: ${entry.type}`);
  return concat(entry.content());
}

let recorded = 0;

/**
 * Stores `content` whole with its DAG's blocks on a test origin and logs it
 * as a version of the package `large` whose artifact names the DAG's root
 * (a submitted entry is not checked against tarball contents, as an
 * import's is not), then waits until the origin's gateway knows its leaves
 * and nodes.
 */
export async function recordLarge(
  origin: TestOrigin,
  content: Buffer,
): Promise<{ root: CID; version: string }> {
  const { root, blocks } = await unixfsDag(content);
  const { registry } = origin;
  await registry.blobs.putMany([content, ...blocks]);
  const version = `1.0.${recorded++}`;
  await registry.submit({
    v: 1,
    kind: "publish",
    ecosystem: "npm",
    name: "large",
    version,
    time: new Date().toISOString(),
    actor: "alice",
    artifact: {
      sha256: createHash("sha256").update(content).digest("hex"),
      size: content.length,
      sha512: createHash("sha512").update(content).digest("base64"),
      sha1: createHash("sha1").update(content).digest("hex"),
      unixfs: root.toString(),
    },
    manifest: await registry.blobs.put(Buffer.from(JSON.stringify({ version }))),
    resolution: {},
  });
  await origin.blocksIdle();
  return { root, version };
}
