/** Hand-built tar archives, to make the malformed and malicious tarballs tests need. */
import { gzipSync } from "node:zlib";

export interface RawTarEntry {
  name: string;
  /** "0" file, "1" hard link, "2" symlink, "3" char device, "5" directory, "6" FIFO. */
  type?: string;
  data?: string | Uint8Array;
  linkname?: string;
}

function field(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value.slice(0, length), offset, length, "utf8");
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, "0")}\0`;
}

/** The 512-byte ustar header of an entry whose data is `size` bytes. */
function tarHeader(e: RawTarEntry, size: number): Buffer {
  const header = Buffer.alloc(512);
  field(header, 0, 100, e.name);
  field(header, 100, 8, octal(0o644, 8));
  field(header, 108, 8, octal(0, 8));
  field(header, 116, 8, octal(0, 8));
  field(header, 124, 12, octal(size, 12));
  field(header, 136, 12, octal(0, 12));
  field(header, 148, 8, "        ");
  field(header, 156, 1, e.type ?? "0");
  field(header, 157, 100, e.linkname ?? "");
  field(header, 257, 6, "ustar\0");
  field(header, 263, 2, "00");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(header, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

export function rawTar(entries: RawTarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === "string" ? Buffer.from(e.data) : Buffer.from(e.data ?? []);
    blocks.push(tarHeader(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/**
 * A gzip bomb: package `name@version` with a file of `mebibytes` MiB of
 * zeros, about 1,000 times smaller than it inflates.
 */
export function gzipBomb(name: string, version: string, mebibytes: number): Buffer {
  return gzipBombOf([packageJson(name, version)], "package/zeros", mebibytes);
}

/**
 * The entries `head`, then a file at `path` of `mebibytes` MiB of zeros.
 * Made of gzip members (one per MiB, all the same), so building it costs
 * nothing.
 */
export function gzipBombOf(head: RawTarEntry[], path: string, mebibytes: number): Buffer {
  const mib = 1024 * 1024;
  const zeros = gzipSync(Buffer.alloc(mib));
  return Buffer.concat([
    gzipSync(rawTar(head).subarray(0, -1024)),
    gzipSync(tarHeader({ name: path }, mebibytes * mib)),
    ...Array.from({ length: mebibytes }, () => zeros),
    gzipSync(Buffer.alloc(1024)),
  ]);
}

export function rawTgz(entries: RawTarEntry[]): Buffer {
  return gzipSync(rawTar(entries));
}

export function packageJson(
  name: string,
  version: string,
  extra: Record<string, unknown> = {},
): RawTarEntry {
  return { name: "package/package.json", data: JSON.stringify({ name, version, ...extra }) };
}
