/**
 * JSON from anyone, parsed only when it can be stored and hashed as
 * canonical JSON: nesting deeper than `maxDepth` is refused before parsing
 * (a recursive walk over 4,000 levels overflows the stack), and so are
 * numbers beyond a double (`1e400` parses as Infinity), lone surrogates in
 * strings or keys, and `__proto__` keys. Each refusal is the caller's own
 * error, built by `invalid` from a reason, so it needs no translation.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = new Set([0x5b, 0x7b]);
const CLOSE = new Set([0x5d, 0x7d]);

/** The deepest nesting of arrays and objects in `text`, stopping once it passes `limit`. */
function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Jump to the closing quote: one that an even number of backslashes precedes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i === -1) return deepest;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
      }
    } else if (OPEN.has(c)) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (CLOSE.has(c)) {
      depth--;
    }
  }
  return deepest;
}

export function parseStrictJson(
  text: string,
  maxDepth: number,
  invalid: (reason: string) => Error,
): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) throw invalid(`nested deeper than ${maxDepth} levels`);
  const revive = (key: string, value: unknown): unknown => {
    if (key === "__proto__") throw invalid('a key may not be "__proto__"');
    if (!key.isWellFormed()) throw invalid("a key is not valid Unicode (a lone surrogate)");
    if (typeof value === "string" && !value.isWellFormed())
      throw invalid("a string is not valid Unicode (a lone surrogate)");
    if (typeof value === "number" && !Number.isFinite(value))
      throw invalid("a number is too large for a double");
    return value;
  };
  try {
    return JSON.parse(text, revive);
  } catch (err) {
    if (err instanceof SyntaxError) throw invalid(err.message);
    throw err;
  }
}
