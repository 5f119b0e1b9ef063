/**
 * What an audit (`cairn verify`) makes of a server's 451 for a blob: it is
 * expected only for a blob of a version the log itself takes down, as the
 * log stands at the audited checkpoint. Bundles are audited in parallel and
 * out of order, so the claims are kept and judged at the end, when every
 * takedown and restore entry has been seen; the rule is the fold's
 * (src/registry/takedown.ts): a version is down if it, or its whole
 * package, is taken down and not restored since.
 */
import { ECOSYSTEMS } from "../ecosystems/index.ts";
import type { Entry } from "../registry/entries.ts";

/** A blob a server answered 451 for, and the version whose entry names it. */
interface Claim {
  readonly sha256: string;
  readonly ecosystem: string;
  readonly name: string;
  readonly version: string;
}

interface Moderation {
  readonly index: number;
  readonly key: string;
  readonly down: boolean;
}

function keyOf(ecosystem: string, name: string, version?: string): string {
  const keyName = ECOSYSTEMS.get(ecosystem)?.keyName(name) ?? name;
  return version === undefined ? `${ecosystem}/${keyName}` : `${ecosystem}/${keyName}@${version}`;
}

export class WithheldClaims {
  readonly #claims: Claim[] = [];
  readonly #moderations: Moderation[] = [];

  /** Notes a takedown or restore entry at log index `index`. */
  noteEntry(index: number, entry: Entry | { readonly kind: "void" }): void {
    if (entry.kind !== "takedown" && entry.kind !== "restore") return;
    const key = keyOf(entry.ecosystem, entry.name, entry.version);
    this.#moderations.push({ index, key, down: entry.kind === "takedown" });
  }

  /** Keeps a 451 for a blob the entry `named` by (a version's) names, to judge at the end. */
  claim(sha256: string, named: Entry | { readonly kind: "void" }): boolean {
    if (named.kind !== "publish" && named.kind !== "import" && named.kind !== "artifact")
      return false;
    const { ecosystem, name, version } = named;
    this.#claims.push({ sha256, ecosystem, name, version });
    return true;
  }

  /** The claims the log does not back: blobs withheld from versions no takedown in force covers. */
  unbacked(): readonly Claim[] {
    const down = new Map<string, boolean>();
    for (const m of [...this.#moderations].sort((a, b) => a.index - b.index))
      down.set(m.key, m.down);
    return this.#claims.filter(
      (c) =>
        down.get(keyOf(c.ecosystem, c.name, c.version)) !== true &&
        down.get(keyOf(c.ecosystem, c.name)) !== true,
    );
  }
}
