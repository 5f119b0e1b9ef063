/**
 * What a publish or import entry carries of an npm manifest: the fields
 * resolution needs, the search fields, and the LAN-sharing opt-out.
 */
import type { JsonValue } from "../../registry/canonical-json.ts";
import {
  MAX_DESCRIPTION_LENGTH,
  MAX_KEYWORD_LENGTH,
  MAX_KEYWORDS,
} from "../../registry/entries.ts";
import { RESOLUTION_FIELDS } from "./resolution.ts";

/** The search fields a publish or import entry carries, bounded as the entry format requires. */
export function searchFields(manifest: Record<string, unknown>) {
  const fields: { description?: string; keywords?: string[] } = {};
  if (typeof manifest.description === "string" && manifest.description !== "") {
    // Cut at a character boundary: never half of a surrogate pair.
    const cut = manifest.description.toWellFormed().slice(0, MAX_DESCRIPTION_LENGTH);
    fields.description = /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
  }
  const keywords = Array.isArray(manifest.keywords) ? manifest.keywords : [];
  const words = keywords.filter(
    (k): k is string =>
      typeof k === "string" && k !== "" && k.length <= MAX_KEYWORD_LENGTH && k.isWellFormed(),
  );
  if (words.length > 0) fields.keywords = [...new Set(words)].slice(0, MAX_KEYWORDS);
  return fields;
}

/**
 * `{share: false}` when the manifest opts its package out of LAN sharing
 * with `"cairn": {"share": false}` (exactly the boolean false); else nothing,
 * as absent means shareable.
 */
export function shareField(manifest: Record<string, unknown>): { share?: false } {
  const cairn = manifest.cairn;
  const optedOut =
    typeof cairn === "object" && cairn !== null && (cairn as { share?: unknown }).share === false;
  return optedOut ? { share: false } : {};
}

function hasInstallScript(manifest: Record<string, unknown>): boolean {
  const scripts = manifest.scripts;
  if (typeof scripts !== "object" || scripts === null) return false;
  return ["preinstall", "install", "postinstall"].some((s) => s in scripts);
}

/** The part of a manifest a publish entry carries: what resolving and installing need. */
export function resolutionOf(manifest: Record<string, unknown>): Record<string, JsonValue> {
  const resolution: Record<string, JsonValue> = {};
  for (const field of RESOLUTION_FIELDS) {
    if (manifest[field] !== undefined) resolution[field] = manifest[field] as JsonValue;
  }
  if (hasInstallScript(manifest)) resolution.hasInstallScript = true;
  return resolution;
}
