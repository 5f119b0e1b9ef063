/**
 * Where a crate's index file lives in a sparse index, as cargo asks for it
 * (cargo-util's `make_dep_path` on the lowercased name): `1/a`, `2/ab`,
 * `3/a/abc`, `se/rd/serde`. The file holds the crate under its published
 * spelling; the path is always lowercase, and `-`/`_` are kept as written,
 * so `serde-json` and `serde_json` have different paths even though they
 * are one crate to crates.io.
 */
import { CargoError } from "./errors.ts";
import { checkCrateName } from "./name.ts";

export function indexPath(name: string): string {
  const lower = name.toLowerCase();
  switch (lower.length) {
    case 1:
      return `1/${lower}`;
    case 2:
      return `2/${lower}`;
    case 3:
      return `3/${lower[0]}/${lower}`;
    default:
      return `${lower.slice(0, 2)}/${lower.slice(2, 4)}/${lower}`;
  }
}

/**
 * The lowercase crate name an index request path asks for (`se/rd/serde`
 * gives `serde`), refusing any path cargo would not make: upper case, a
 * wrong prefix folder, a name crates.io would not accept. A server serves
 * a crate at that path only when the published spelling lowercases to
 * exactly this name (so not `serde-json` at `se/rd/serde_json`).
 */
export function crateOfIndexPath(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const fail = () =>
    new CargoError("bad-index-path", `${JSON.stringify(path)} is not a crate's index path`);
  if (name !== name.toLowerCase()) throw fail();
  try {
    checkCrateName(name);
  } catch {
    throw fail();
  }
  if (indexPath(name) !== path) throw fail();
  return name;
}
