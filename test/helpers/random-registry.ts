/**
 * Random small registries for comparing the resolver with the real cargo:
 * crates `c0`..`cN` whose versions depend only on later crates (no
 * cycles), with requirements drawn from the versions the target has (so
 * most resolve), exact pins, ranges, pre-releases, yanked versions,
 * `links`, renamed, optional, build, dev and target-specific dependencies,
 * `dep:`, `x/f`, `x?/f` and default features. A seed gives the same
 * registry every run.
 */
import type { RegistrySpec, VersionSpec } from "./resolve-registry.ts";

const VERSIONS = ["0.0.3", "0.1.0", "0.1.1", "0.2.0", "1.0.0", "1.1.0", "1.2.0", "1.3.0-beta.1"];
const MORE_VERSIONS = ["2.0.0", "2.1.0"];

type Dep = NonNullable<VersionSpec["deps"]>[number];

export function randomRegistry(
  seed: number,
  crates = 8,
  maxDeps = 3,
): { registry: RegistrySpec; root: string } {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const chance = (p: number) => random() < p;
  const req = (versions: readonly string[]) => {
    const v = pick(versions);
    const [major, minor] = v.split(".");
    return pick([
      `^${v}`,
      `=${v}`,
      `>=${v}, <${Number(major) + 1}.0.0`,
      `~${major}.${minor}`,
      major,
      "*",
      `>=${v}`,
    ]);
  };

  const all = [...VERSIONS, ...MORE_VERSIONS];
  const versionsOf = Array.from({ length: crates }, () => [
    ...new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(all))),
  ]);
  const registry: RegistrySpec = {};
  for (let i = 0; i < crates; i++) {
    registry[`c${i}`] = {};
    for (const version of versionsOf[i]) {
      const deps: Dep[] = [];
      const features: Record<string, string[]> = { fx: [] };
      for (let d = Math.floor(random() * maxDeps); d > 0 && i + 1 < crates; d--) {
        const target = i + 1 + Math.floor(random() * (crates - i - 1));
        const crate = `c${target}`;
        if (deps.some((dep) => (dep.package ?? dep.name) === crate)) continue;
        const key = chance(0.2) ? `r_${crate}` : crate;
        const optional = chance(0.3);
        deps.push({
          name: key,
          ...(key !== crate ? { package: crate } : {}),
          req: req(versionsOf[target]),
          optional,
          kind: pick(["normal", "normal", "normal", "build", "dev"] as const),
          target: chance(0.2) ? "cfg(windows)" : null,
          default_features: chance(0.8),
          features: chance(0.2) ? ["fx"] : [],
        });
        if (optional)
          features[`use_${crate}`] = [pick([`dep:${key}`, `${key}?/fx`, `${key}/fx`, key])];
      }
      if (chance(0.3)) features.default = [pick(Object.keys(features))];
      registry[`c${i}`][version] = {
        deps,
        features,
        yanked: chance(0.1),
        ...(chance(0.1) ? { links: "native" } : {}),
      };
    }
  }
  const root = [
    `c0 = "${req(versionsOf[0])}"`,
    `c1 = { version = "${req(versionsOf[1])}", features = ["fx"] }`,
    ...(chance(0.5) ? [`c2 = "${req(versionsOf[2])}"`] : []),
  ];
  return { registry, root: `[dependencies]\n${root.join("\n")}\n` };
}
