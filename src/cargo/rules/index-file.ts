/**
 * A crate's sparse index file as a pure function of its package document:
 * one line per version in publish (log) order, as crates.io appends them,
 * each ending in "\n". A yanked version stays, marked; so does one taken
 * down (the package not taken down as a whole): cargo passes a yanked
 * version by when it resolves, and a build locked to it asks for its
 * download and prints the 451 with the reason. An unpublished version is
 * gone. The file is what cargo reads at the crate's index path and what
 * the signed names-file names by its SHA-256.
 */
import type { PackageDocument } from "../../registry/package-document.ts";
import { isWithdrawn } from "../../registry/takedown.ts";
import { CARGO } from "./ecosystem.ts";
import { type CrateResolution, indexLine } from "./index-line.ts";

/** The index file's bytes, or undefined when no version is left to list (cargo then gets a 404). */
export function indexFile(doc: PackageDocument): Uint8Array | undefined {
  if (doc.ecosystem !== CARGO || isWithdrawn(doc)) return undefined;
  const lines: { index: number; line: string }[] = [];
  for (const [version, v] of Object.entries(doc.versions)) {
    if (v.unpublished !== undefined || !("artifact" in v) || !v.artifact) continue;
    const yanked =
      (v as { readonly yanked?: string }).yanked !== undefined || v.takenDown !== undefined;
    const line = indexLine(
      doc.name,
      version,
      v.resolution as unknown as CrateResolution,
      v.artifact.sha256,
      yanked,
    );
    lines.push({ index: v.index, line });
  }
  if (lines.length === 0) return undefined;
  lines.sort((a, b) => a.index - b.index);
  return new TextEncoder().encode(lines.map((l) => `${l.line}\n`).join(""));
}
