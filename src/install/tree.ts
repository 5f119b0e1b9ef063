/**
 * A project's installed tree, as the installer plans it and its lockfile
 * records it: every package by its location under the project, the way
 * the `packages` section of npm's package-lock.json (v3) keys them.
 */

/** How a package is reached from the project's own dependencies, as npm's lockfile flags say. */
export interface ReachFlags {
  /** Only through devDependencies. */
  readonly dev?: boolean;
  /** Only through optionalDependencies. */
  readonly optional?: boolean;
  /** Only through edges each of which is dev or optional (npm's `devOptional`). */
  readonly devOptional?: boolean;
  /** Only through peerDependencies. */
  readonly peer?: boolean;
  /** Reached by nothing (or only by an optional peer edge): npm still records it, flagged. */
  readonly extraneous?: boolean;
}

/** One package placed in the tree. */
export interface PlacedPackage extends ReachFlags {
  /**
   * Where it sits, relative to the project root, with forward slashes:
   * `node_modules/a`, `node_modules/a/node_modules/@s/b`; a workspace's own
   * folder (`packages/x`) for a workspace.
   */
  readonly location: string;
  readonly name: string;
  readonly version: string;
  /** Subresource integrity of its tarball (`sha512-…`); absent for links and workspaces. */
  readonly integrity?: string;
  /** Hex SHA-256 of its tarball, as the registry's log binds it. */
  readonly sha256?: string;
  /** Index of the log entry that binds that tarball. */
  readonly logIndex?: number;
  /** A symlink to another location (a workspace under `node_modules/`): that location. */
  readonly link?: string;
  /** Shipped inside a parent's tarball (bundleDependencies): never fetched alone. */
  readonly inBundle?: boolean;
  /** Its tarball holds an npm-shrinkwrap.json (npm's `hasShrinkwrap`). */
  readonly hasShrinkwrap?: boolean;
  /**
   * The manifest fields installing it needs and npm's lockfile repeats:
   * dependencies, optionalDependencies, peerDependencies,
   * peerDependenciesMeta, bin, engines, os, cpu, libc, license,
   * hasInstallScript, deprecated (any may be absent).
   */
  readonly manifest: Readonly<Record<string, unknown>>;
}

/**
 * The project itself. `name` and `version` are the lockfile's top-level
 * ones (npm names a project without a package name after its folder);
 * `manifest` is the root package.json as npm's lockfile records it (its
 * `packages[""]` entry: name, version, dependency fields, workspaces, …).
 */
export interface ProjectRoot {
  readonly name?: string;
  readonly version?: string;
  readonly manifest: Readonly<Record<string, unknown>>;
}

export interface ProjectTree {
  readonly root: ProjectRoot;
  /** Every placed package, keyed by location, in location order. */
  readonly packages: ReadonlyMap<string, PlacedPackage>;
}
