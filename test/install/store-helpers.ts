/** Shared by the store tests: tarballs' integrity, their files read independently, and folder listings. */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";
import { Parser, type ReadEntry } from "tar";

export function integrityOf(bytes: Uint8Array): string {
  return `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
}

/** A tarball's regular files as node-tar reads them (top folder stripped), with their tar modes. */
export function tarFiles(tgz: Uint8Array): Map<string, { data: Buffer; mode: number }> {
  const files = new Map<string, { data: Buffer; mode: number }>();
  const parser = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on("data", (c: Buffer) => chunks.push(c));
      entry.on("end", () => {
        if (entry.type === "File")
          files.set(entry.path.split("/").slice(1).join("/"), {
            data: Buffer.concat(chunks),
            mode: entry.mode ?? 0,
          });
      });
    },
  });
  parser.end(gunzipSync(tgz));
  return files;
}

/** Every regular file under `dir`, by relative path (read synchronously: thousands of small files). */
export function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out.set(relative(dir, path), readFileSync(path));
  }
  return out;
}

/** Every regular file under `dir` (absent: none). */
export async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

export async function inode(path: string): Promise<number> {
  return (await stat(path)).ino;
}
