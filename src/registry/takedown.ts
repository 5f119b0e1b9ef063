/**
 * What `takedown` and `restore` entries do to a package document. A
 * takedown marks the version (or, with no version, the package and every
 * version it has) `takenDown: {index, reason, time}`, drops its tags as an
 * unpublish does, and from then on every copy withholds its bytes
 * (withheld.ts) and answers 451 with the reason. A restore removes the mark
 * it names; tags do not come back. Both stay in the log for good, so what
 * was removed, when and why is public.
 *
 * Distinct from `unpublished` (an owner's act, no reason, bytes kept):
 * both may hold at once, and a restore never undoes an unpublish.
 */
import { CodedError } from "../util/coded-error.ts";
import type { Ecosystem } from "./ecosystem.ts";
import { EntryError, type TakedownEntry, uplinkOfActor } from "./entries.ts";
import type { PackageDocument, VersionDocument } from "./package-document.ts";

export interface TakenDown {
  /** Who took it down: a moderator, the operator, or `uplink:<name>`. */
  readonly actor: string;
  /** Log index of the takedown entry. */
  readonly index: number;
  readonly reason: string;
  readonly time: string;
}

type Versions = Readonly<Record<string, VersionDocument>>;

/** A version nobody resolves or fetches: unpublished by its owner, or taken down. */
export function isWithdrawn(doc: {
  readonly unpublished?: string;
  readonly takenDown?: TakenDown;
}): boolean {
  return doc.unpublished !== undefined || doc.takenDown !== undefined;
}

function cannot(message: string): EntryError {
  return new EntryError("cannot-apply", message);
}

/** Refuses a new version of a package taken down as a whole. */
export function checkNotTakenDown(doc: PackageDocument | undefined, name: string): void {
  if (doc?.takenDown !== undefined)
    throw cannot(`${name} is taken down (log entry ${doc.takenDown.index})`);
}

/**
 * The document after a takedown or restore at log index `index`. `touched`
 * is `base` with `updated` and `modified` set; `withVersion` sets one
 * version (in place when the caller owns the versions object).
 */
export function foldTakedown(
  base: PackageDocument,
  touched: PackageDocument,
  entry: TakedownEntry,
  index: number,
  rules: Ecosystem,
  withVersion: (versions: Versions, version: string, next: VersionDocument) => Versions,
): PackageDocument {
  if (Object.keys(base.versions).length === 0) throw cannot(`${entry.name} has no versions`);
  const mark: TakenDown = { actor: entry.actor, index, reason: entry.reason, time: entry.time };
  // An uplink undoes only its own withdrawals; a moderator's takedown is a moderator's to restore.
  const restorable = (down: TakenDown) =>
    uplinkOfActor(entry.actor) === undefined || down.actor === entry.actor;
  if (entry.version === undefined) {
    if (entry.kind === "takedown") {
      if (base.takenDown !== undefined) throw cannot(`${entry.name} is already taken down`);
      const versions = mapVersions(base.versions, (d) =>
        d.takenDown === undefined ? { ...d, takenDown: mark } : d,
      );
      return { ...touched, takenDown: mark, distTags: {}, versions };
    }
    const standing = base.takenDown;
    if (standing === undefined) throw cannot(`${entry.name} is not taken down`);
    if (!restorable(standing))
      throw cannot(`${entry.name} was taken down by ${standing.actor}, not ${entry.actor}`);
    // Versions taken down on their own before the package stay so.
    const versions = mapVersions(base.versions, (d) =>
      d.takenDown?.index === standing.index ? withoutMark(d) : d,
    );
    const { takenDown: _, ...rest } = touched;
    const distTags: Record<string, string> = {};
    rules.afterVersionRemoved(distTags, versions);
    return { ...rest, distTags, versions };
  }
  const current = Object.hasOwn(base.versions, entry.version)
    ? base.versions[entry.version]
    : undefined;
  if (current === undefined) throw cannot(`${entry.name}@${entry.version} does not exist`);
  if (entry.kind === "takedown") {
    if (current.takenDown !== undefined)
      throw cannot(`${entry.name}@${entry.version} is already taken down`);
    const versions = withVersion(base.versions, entry.version, { ...current, takenDown: mark });
    const distTags = Object.fromEntries(
      Object.entries(base.distTags).filter(([, v]) => v !== entry.version),
    );
    rules.afterVersionRemoved(distTags, versions);
    return { ...touched, distTags, versions };
  }
  if (current.takenDown === undefined)
    throw cannot(`${entry.name}@${entry.version} is not taken down`);
  if (base.takenDown !== undefined)
    throw cannot(`${entry.name} is taken down as a whole: restore the package`);
  if (!restorable(current.takenDown))
    throw cannot(
      `${entry.name}@${entry.version} was taken down by ${current.takenDown.actor}, not ${entry.actor}`,
    );
  const versions = withVersion(base.versions, entry.version, withoutMark(current));
  const distTags = { ...base.distTags };
  rules.afterVersionRemoved(distTags, versions);
  return { ...touched, distTags, versions };
}

function withoutMark(doc: VersionDocument): VersionDocument {
  const { takenDown: _, ...rest } = doc;
  return rest as VersionDocument;
}

function mapVersions(versions: Versions, f: (doc: VersionDocument) => VersionDocument): Versions {
  return Object.fromEntries(Object.entries(versions).map(([v, d]) => [v, f(d)]));
}

/** Checks a `takenDown` field of a stored document: `{actor, index, reason, time}`. */
export function isTakenDownShape(value: unknown): value is TakenDown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    Object.keys(v).sort().join() === "actor,index,reason,time" &&
    typeof v.actor === "string" &&
    Number.isSafeInteger(v.index) &&
    (v.index as number) >= 0 &&
    typeof v.reason === "string" &&
    typeof v.time === "string"
  );
}

export type TakedownErrorCode = "taken-down";

/**
 * A read of something taken down: servers answer it 451 (RFC 7725) with the
 * reason and the log entry, clients refuse it with the same. `details` is
 * the public body beside `error` and `code`.
 */
export class TakedownError extends CodedError<TakedownErrorCode> {
  override name = "TakedownError";
  readonly details: {
    readonly name: string;
    readonly version?: string;
    readonly reason: string;
    readonly entry: number;
    readonly time: string;
  };

  constructor(name: string, version: string | undefined, mark: TakenDown) {
    const what = version === undefined ? name : `${name}@${version}`;
    super(
      "taken-down",
      `${what} was taken down: ${mark.reason} (log entry ${mark.index}, ${mark.time})`,
    );
    this.details = {
      name,
      ...(version !== undefined ? { version } : {}),
      reason: mark.reason,
      entry: mark.index,
      time: mark.time,
    };
  }
}

/**
 * RFC 7725's headers on a 451: the server that blocks names itself with
 * rel="blocked-by" (the body names the log entry, so anyone can check the
 * origin's reason), and the answer is cached only briefly, as a restore
 * must be able to undo it. `base` is the server's own URL as the client
 * reached it.
 */
export function blockedByHeaders(base: string): Record<string, string> {
  return {
    link: `<${base.replace(/\/+$/, "")}/>; rel="blocked-by"`,
    "cache-control": "public, max-age=300",
  };
}
