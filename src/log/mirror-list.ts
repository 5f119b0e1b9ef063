/**
 * The mirror list: a signed note the origin publishes at `mirrors` in its
 * static tree, naming the base URLs of known mirrors. Signed with the log's
 * key, so any mirror can relay it and a client can still trust it:
 *
 *   cairn-mirrors/v1
 *   origin example.com/cairn
 *   updated 2026-11-21T06:00:00.000Z
 *   mirror https://mirror-a.example/
 *   mirror https://mirror-b.example/
 */

import { CodedError } from "../util/coded-error.ts";
import { type NoteSigner, type NoteVerifier, openNote, signNote } from "./note.ts";
import { normalizeBaseUrl } from "./urls.ts";

export const MIRROR_LIST_PATH = "mirrors";
const HEADER = "cairn-mirrors/v1";
/** A list is a few lines per mirror; anything bigger is refused. */
export const MAX_MIRROR_LIST_BYTES = 256 * 1024;

export type MirrorListErrorCode =
  /** A list that is not exactly what formatMirrorList writes. */
  | "malformed-mirror-list"
  /** A list, signed by the log key, that names another log. */
  | "wrong-log";

/** What is wrong with a mirror list; a bad signature is the note's LogError. */
export class MirrorListError extends CodedError<MirrorListErrorCode> {
  override name = "MirrorListError";
}

export interface MirrorList {
  /** The log the list belongs to (its checkpoint origin line). */
  readonly origin: string;
  readonly updated: string;
  readonly mirrors: readonly string[];
}

export function formatMirrorList(list: MirrorList): string {
  const lines = [HEADER, `origin ${list.origin}`, `updated ${list.updated}`];
  for (const url of list.mirrors) lines.push(`mirror ${normalizeBaseUrl(url)}`);
  return `${lines.join("\n")}\n`;
}

export function parseMirrorList(text: string): MirrorList {
  const bad = (why: string) =>
    new MirrorListError("malformed-mirror-list", `malformed mirror list: ${why}`);
  if (!text.endsWith("\n")) throw bad("it must end in a newline");
  const [header, originLine, updatedLine, ...rest] = text.slice(0, -1).split("\n");
  if (header !== HEADER) throw bad(`the first line must be ${HEADER}`);
  if (!originLine?.startsWith("origin ")) throw bad("the second line must be origin <name>");
  if (!updatedLine?.startsWith("updated ")) throw bad("the third line must be updated <time>");
  const origin = originLine.slice("origin ".length);
  const updated = updatedLine.slice("updated ".length);
  if (origin.length === 0) throw bad("the origin is empty");
  if (!isCanonicalTime(updated))
    throw bad(`${JSON.stringify(updated)} is not an ISO 8601 UTC time`);
  const mirrors = rest.map((line) => {
    if (!line.startsWith("mirror ")) throw bad(`unexpected line ${JSON.stringify(line)}`);
    const url = line.slice("mirror ".length);
    if (!isNormalizedBaseUrl(url)) throw bad(`${JSON.stringify(url)} is not a normalized base URL`);
    return url;
  });
  if (new Set(mirrors).size !== mirrors.length) throw bad("a mirror is listed twice");
  return { origin, updated, mirrors };
}

/** As Date's toISOString writes it, so that the time has one spelling. */
function isCanonicalTime(text: string): boolean {
  const time = Date.parse(text);
  return Number.isFinite(time) && new Date(time).toISOString() === text;
}

function isNormalizedBaseUrl(url: string): boolean {
  try {
    return normalizeBaseUrl(url) === url;
  } catch {
    return false;
  }
}

export function signMirrorList(list: MirrorList, signer: NoteSigner): string {
  return signNote(formatMirrorList(list), [signer]);
}

/** Verifies the list's signature by the origin key and that it names this log. */
export function openMirrorList(note: string | Uint8Array, verifier: NoteVerifier): MirrorList {
  const list = parseMirrorList(openNote(note, [verifier]).text);
  if (list.origin !== verifier.name)
    throw new MirrorListError(
      "wrong-log",
      `the mirror list is for ${list.origin}, not ${verifier.name}`,
    );
  return list;
}
