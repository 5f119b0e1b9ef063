/**
 * npm's package-lock.json text, byte for byte: arborist's Shrinkwrap
 * writes `json-stringify-nice(data, swKeyOrder, indent)`, which at every
 * level of the document puts scalars (arrays count as scalars) before
 * objects, and within each group the keys of swKeyOrder first in that
 * order, then the rest by `localeCompare(…, "en")`. Writing the same way
 * keeps `npm install` after `cairn install` from reordering anything.
 *
 * Example: `{"packages": {}, "zeta": 1, "version": "1.0.0", "a": [2]}`
 * becomes, with indent 2,
 * `{\n  "version": "1.0.0",\n  "a": [\n    2\n  ],\n  "zeta": 1,\n  "packages": {}\n}\n`.
 */

/** arborist's swKeyOrder (lib/shrinkwrap.js). */
const PREFERRED = [
  "name",
  "version",
  "lockfileVersion",
  "resolved",
  "integrity",
  "requires",
  "packages",
  "dependencies",
];

const collator = new Intl.Collator("en");

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function compareKeys(a: string, b: string): number {
  const ia = PREFERRED.indexOf(a);
  const ib = PREFERRED.indexOf(b);
  if (ia >= 0 || ib >= 0) return ia < 0 ? 1 : ib < 0 ? -1 : ia - ib;
  return collator.compare(a, b);
}

function sorted(value: Record<string, unknown>): Record<string, unknown> {
  const entries = Object.entries(value).sort(([ak, av], [bk, bv]) =>
    isObject(av) === isObject(bv) ? compareKeys(ak, bk) : isObject(av) ? 1 : -1,
  );
  return Object.fromEntries(entries);
}

/** The text npm writes for `data` (indent 2 and a final newline unless told otherwise). */
export function npmStringify(data: unknown, indent: string | number = 2, newline = "\n"): string {
  const text = JSON.stringify(
    data,
    (_key, value) => (isObject(value) ? sorted(value) : value),
    indent,
  );
  const withNewline = indent === 0 || indent === "" ? text : `${text}\n`;
  return newline === "\n" ? withNewline : withNewline.replace(/\n/g, newline);
}
