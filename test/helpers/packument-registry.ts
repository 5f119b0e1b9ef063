/**
 * A tiny npm registry on loopback serving made-up packages: a packument per
 * name and a tarball per version holding its package.json (and, for a
 * package with bundleDependencies, each bundled package's latest version
 * under its node_modules, and a file for each bin), so real npm can be asked what it would plan for
 * the packages a planner test hands to planTree.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { ResolvablePackage } from "../../src/client/resolve.ts";
import { normalizeBin } from "../../src/install/bin-links.ts";
import { listenOnLoopback } from "./loopback.ts";
import { type RawTarEntry, rawTgz } from "./tar.ts";

type Manifest = Record<string, unknown>;

function manifestOf(pkg: ResolvablePackage, version: string): Manifest | undefined {
  const v = pkg.versions.find((x) => x.version === version);
  if (!v) return undefined;
  const deprecated = v.deprecated ? { deprecated: v.deprecated } : {};
  return { ...v.resolution, name: pkg.name, version: v.version, ...deprecated };
}

export interface PackumentRegistry {
  readonly url: string;
  /** Serves these packages from now on (a version keeps its tarball). */
  setPackages(packages: readonly ResolvablePackage[]): void;
  close(): Promise<void>;
}

export async function servePackuments(
  packages: readonly ResolvablePackage[],
): Promise<PackumentRegistry> {
  let byName = new Map(packages.map((p) => [p.name, p]));
  const tarballs = new Map<string, Buffer>();
  const tarballOf = (pkg: ResolvablePackage, version: string): [string, Buffer] => {
    const path = `${pkg.name}/-/${pkg.name.replace(/^@[^/]+\//, "")}-${version}.tgz`;
    let tgz = tarballs.get(path);
    if (!tgz) {
      const manifest = manifestOf(pkg, version) as Manifest;
      const entries: RawTarEntry[] = [
        { name: "package/package.json", data: JSON.stringify(manifest) },
      ];
      // Each bin's file, so a real install can link it.
      for (const file of normalizeBin(manifest).values()) {
        entries.push({ name: `package/${file}`, data: "#!/usr/bin/env node\n" });
      }
      const bundled = manifest.bundleDependencies;
      for (const name of Array.isArray(bundled) ? bundled : []) {
        const inner = byName.get(String(name));
        const latest = inner && manifestOf(inner, inner.distTags.latest);
        if (latest) {
          const data = JSON.stringify(latest);
          entries.push({ name: `package/node_modules/${name}/package.json`, data });
        }
      }
      tgz = rawTgz(entries);
      tarballs.set(path, tgz);
    }
    return [path, tgz];
  };
  let url = "";
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").slice(1));
    const tarball = tarballs.get(path);
    const pkg = byName.get(path);
    if (tarball) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(tarball);
    } else if (pkg) {
      const versions = Object.fromEntries(
        pkg.versions.map(({ version }) => {
          const [file, tgz] = tarballOf(pkg, version);
          const integrity = `sha512-${createHash("sha512").update(tgz).digest("base64")}`;
          const dist = { tarball: `${url}${file}`, integrity };
          return [version, { ...manifestOf(pkg, version), dist }];
        }),
      );
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ name: pkg.name, "dist-tags": pkg.distTags, versions }));
    } else {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":"Not found"}');
    }
  });
  const listening = await listenOnLoopback(server);
  url = listening.url;
  return {
    url,
    setPackages: (next) => {
      byName = new Map(next.map((p) => [p.name, p]));
    },
    close: listening.close,
  };
}
