/**
 * What cargo's resolver keeps while it searches, in its own terms: the
 * activated versions (`Summary`), the context of activations, links,
 * features and edges (copied at each choice that may be undone), the
 * frames of dependencies still to resolve (`RemainingDeps`) and the
 * candidates left for one dependency (`RemainingCandidates`).
 */
import { type FeatureTable, featureTable, resolutionProblem } from "./crate-features.ts";
import type { CrateResolution, IndexDependency } from "./index-line.ts";
import { type CargoVersion, parseVersion } from "./version.ts";

export interface PackageRef {
  readonly name: string;
  readonly version: string;
}

export interface Summary extends PackageRef {
  readonly id: string;
  readonly parsed: CargoVersion;
  /** Crates of one name and semver-compatible versions share it: at most one is active. */
  readonly activationKey: string;
  readonly links: string | undefined;
  readonly resolution: CrateResolution;
  readonly table: FeatureTable;
  /** Why cargo would never use this version (an invalid index line); undefined when usable. */
  readonly problem: string | undefined;
}

export interface Candidates {
  readonly dep: IndexDependency;
  readonly list: readonly Summary[];
  readonly features: ReadonlySet<string>;
}

/** What activation built: every structure is replaced, never changed, once a copy may share it. */
export interface Context {
  activations: Map<string, Summary>;
  links: Map<string, string>;
  features: Map<string, ReadonlySet<string>>;
  /** Package id to the ids it depends on. */
  edges: Map<string, ReadonlySet<string>>;
  /** Activations so far; a package's age is the count when it was activated. */
  age: number;
  ages: Map<string, number>;
}

export const copyContext = (c: Context): Context => ({
  activations: new Map(c.activations),
  links: new Map(c.links),
  features: new Map(c.features),
  edges: new Map(c.edges),
  age: c.age,
  ages: new Map(c.ages),
});

export const emptyContext = (): Context => ({
  activations: new Map(),
  links: new Map(),
  features: new Map(),
  edges: new Map(),
  age: 0,
  ages: new Map(),
});

/**
 * cargo's `is_conflicting`: when `parent` and every package of `conflicts`
 * are still active, the age of the youngest; otherwise undefined.
 */
export function conflictAge(
  cx: Context,
  parent: Summary,
  conflicts: ReadonlyMap<string, Conflict>,
): number | undefined {
  let max = 0;
  for (const id of [parent.id, ...conflicts.keys()]) {
    const age = cx.ages.get(id);
    if (age === undefined) return undefined;
    max = Math.max(max, age);
  }
  return max;
}

interface Frame {
  readonly parent: Summary;
  readonly deps: readonly Candidates[];
  next: number;
  readonly time: number;
}

/** cargo's `RemainingDeps`: the frame whose next dependency has the fewest candidates goes first. */
export class RemainingDeps {
  #frames: Frame[];
  #time: number;
  constructor(frames: Frame[] = [], time = 0) {
    this.#frames = frames;
    this.#time = time;
  }

  copy(): RemainingDeps {
    return new RemainingDeps(
      this.#frames.map((f) => ({ ...f })),
      this.#time,
    );
  }

  push(parent: Summary, deps: readonly Candidates[]): void {
    this.#frames.push({ parent, deps, next: 0, time: this.#time++ });
  }

  pop(): [Summary, Candidates] | undefined {
    for (;;) {
      let best = -1;
      let bestCount = 0;
      for (let i = 0; i < this.#frames.length; i++) {
        const f = this.#frames[i];
        const count = f.next < f.deps.length ? f.deps[f.next].list.length : 0;
        if (
          best < 0 ||
          count < bestCount ||
          (count === bestCount && f.time < this.#frames[best].time)
        ) {
          best = i;
          bestCount = count;
        }
      }
      if (best < 0) return undefined;
      const frame = this.#frames[best];
      if (frame.next < frame.deps.length) {
        const sibling = frame.deps[frame.next];
        frame.next++;
        return [frame.parent, sibling];
      }
      this.#frames.splice(best, 1);
    }
  }
}

/** Why an active package rules a candidate out (`feature`: the parent asked for what the candidate lacks). */
export type Conflict = "semver" | "links" | "feature";

/** cargo's `RemainingCandidates`: hands out candidates that fit the context, one ahead to know if another remains. */
export class RemainingCandidates {
  readonly list: readonly Summary[];
  #at: number;
  #held: Summary | undefined;
  constructor(list: readonly Summary[], at = 0, held: Summary | undefined = undefined) {
    this.list = list;
    this.#at = at;
    this.#held = held;
  }

  copy(): RemainingCandidates {
    return new RemainingCandidates(this.list, this.#at, this.#held);
  }

  next(cx: Context, conflicts: Map<string, Conflict>): [Summary, boolean] | undefined {
    while (this.#at < this.list.length) {
      const b = this.list[this.#at++];
      const active = cx.activations.get(b.activationKey);
      if (active !== undefined && active !== b) {
        if (!conflicts.has(active.id)) conflicts.set(active.id, "semver");
        continue;
      }
      const claimed = b.links === undefined ? undefined : cx.links.get(b.links);
      if (claimed !== undefined && claimed !== b.id) {
        if (!conflicts.has(claimed)) conflicts.set(claimed, "links");
        continue;
      }
      const previous = this.#held;
      this.#held = b;
      if (previous !== undefined) return [previous, true];
    }
    const last = this.#held;
    this.#held = undefined;
    return last === undefined ? undefined : [last, false];
  }
}

function semverCompatibility(v: CargoVersion): string {
  if (v.major !== "0") return v.major;
  if (v.minor !== "0") return `0.${v.minor}`;
  return `0.0.${v.patch}`;
}

/** `source` tells the root apart from a registry crate of the same name, as cargo's source ids do. */
export function summaryOf(
  name: string,
  version: string,
  resolution: CrateResolution,
  source = "registry",
): Summary {
  const parsed = parseVersion(version);
  return {
    id: `${name} ${version} ${source}`,
    name,
    version,
    parsed,
    activationKey: `${name} ${semverCompatibility(parsed)} ${source}`,
    links: resolution.links,
    resolution,
    table: featureTable(resolution),
    problem: resolutionProblem(resolution),
  };
}
