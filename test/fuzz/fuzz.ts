/**
 * Shared pieces of the parser fuzz tests: how many runs, byte and text
 * mutations of valid inputs, and the property every parser must keep: an
 * input either parses to a value that re-encodes to exactly the same bytes,
 * or is refused with its domain's coded error, quickly.
 *
 * `npm test` runs each property a few hundred times; `npm run fuzz` sets
 * CAIRN_FUZZ_RUNS to run them for minutes.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import fc from "fast-check";
import type { CodedError } from "../../src/util/coded-error.ts";

const runsFromEnv = Number(process.env.CAIRN_FUZZ_RUNS);
const seedFromEnv = Number(process.env.CAIRN_FUZZ_SEED);

/**
 * fast-check parameters for a property: `quick` runs in `npm test`;
 * CAIRN_FUZZ_RUNS (times `scale`, for slow properties) in a fuzz run; and
 * CAIRN_FUZZ_SEED replays the seed a failure printed.
 */
export function fuzzRuns(quick: number, scale = 1): fc.Parameters<unknown> {
  const numRuns =
    Number.isSafeInteger(runsFromEnv) && runsFromEnv > 0
      ? Math.max(1, Math.ceil(runsFromEnv * scale))
      : quick;
  return Number.isSafeInteger(seedFromEnv) ? { numRuns, seed: seedFromEnv } : { numRuns };
}

/** A parse (or check) of one input takes less than this, however hostile the input. */
export const MAX_CALL_MS = 2000;

/** Tokens that make canonical parsers stumble: non-canonical numbers, spaces, Unicode, separators. */
const TOKENS = [
  "0",
  "00",
  "01",
  "+1",
  "-0",
  "-1",
  "1e3",
  "1.0",
  "0x10",
  "9007199254740993",
  "99999999999999999999999",
  " ",
  "  ",
  "\t",
  "\r",
  "\r\n",
  "\n",
  "\n\n",
  "\0",
  "\u00a0",
  "\ufeff",
  "\u2028",
  "\u200b",
  "\u0301",
  "é",
  "\u{1f600}",
  "—",
  "– ",
  "+",
  "/",
  "=",
  "==",
  "x",
  "x000/",
  ".p/",
  "A",
  "AAAA",
  "__proto__",
  "constructor",
];

/** Raw bytes that are not UTF-8: a lone surrogate (WTF-8), an overlong NUL, stray continuation bytes. */
const RAW_BYTES = ["\xed\xa0\x80", "\xc0\x80", "\xff", "\x80", "\xef\xbb\xbf"];

export type Mutation =
  | { readonly op: "flip"; readonly at: number; readonly bit: number }
  | { readonly op: "truncate"; readonly at: number }
  | { readonly op: "delete"; readonly at: number; readonly length: number }
  | { readonly op: "insert"; readonly at: number; readonly token: number; readonly raw: boolean }
  | { readonly op: "duplicate-line"; readonly line: number }
  | { readonly op: "swap-lines"; readonly line: number }
  | { readonly op: "number"; readonly which: number; readonly variant: number }
  | { readonly op: "repeat"; readonly at: number; readonly length: number; readonly times: number };

const position = fc.nat({ max: 1 << 20 });

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: position }),
  fc.record({
    op: fc.constant("delete" as const),
    at: position,
    length: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    op: fc.constant("insert" as const),
    at: position,
    token: fc.nat({ max: TOKENS.length + RAW_BYTES.length - 1 }),
    raw: fc.boolean(),
  }),
  fc.record({ op: fc.constant("duplicate-line" as const), line: fc.nat({ max: 64 }) }),
  fc.record({ op: fc.constant("swap-lines" as const), line: fc.nat({ max: 64 }) }),
  fc.record({
    op: fc.constant("number" as const),
    which: fc.nat({ max: 16 }),
    variant: fc.nat({ max: 7 }),
  }),
  fc.record({
    op: fc.constant("repeat" as const),
    at: position,
    length: fc.integer({ min: 1, max: 64 }),
    times: fc.integer({ min: 2, max: 20000 }),
  }),
);

/** One to three mutations, applied in order. */
export const mutations = fc.array(mutation, { minLength: 1, maxLength: 3 });

const NUMBER_VARIANTS = [
  (n: string) => `0${n}`,
  (n: string) => `+${n}`,
  (n: string) => ` ${n}`,
  (n: string) => `${n} `,
  (n: string) => `${n}.0`,
  (n: string) => `${n}e0`,
  (n: string) => `-${n}`,
  (n: string) => `${n}${"9".repeat(20)}`,
];

/**
 * Applies mutations to a "binary string" (one char per byte, latin1) or to
 * text. In binary mode inserted tokens are UTF-8 encoded and raw non-UTF-8
 * bytes may be inserted; in text mode tokens go in as they are, and a raw
 * token becomes a lone surrogate.
 */
function apply(input: string, m: Mutation, binary: boolean): string {
  const at = (n: number) => (input.length === 0 ? 0 : n % (input.length + 1));
  switch (m.op) {
    case "flip": {
      if (input.length === 0) return input;
      const i = m.at % input.length;
      const code = input.charCodeAt(i) ^ (1 << m.bit);
      return input.slice(0, i) + String.fromCharCode(code) + input.slice(i + 1);
    }
    case "truncate":
      return input.slice(0, at(m.at));
    case "delete":
      return input.slice(0, at(m.at)) + input.slice(at(m.at) + m.length);
    case "insert": {
      let token: string;
      if (m.token < TOKENS.length) {
        token = binary ? Buffer.from(TOKENS[m.token]).toString("latin1") : TOKENS[m.token];
      } else {
        const raw = RAW_BYTES[m.token - TOKENS.length];
        token = binary ? raw : m.raw ? "\ud800" : "\udc00";
      }
      return input.slice(0, at(m.at)) + token + input.slice(at(m.at));
    }
    case "duplicate-line":
    case "swap-lines": {
      const lines = input.split("\n");
      const i = m.line % lines.length;
      if (m.op === "duplicate-line") lines.splice(i, 0, lines[i]);
      else if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1], lines[i]];
      return lines.join("\n");
    }
    case "number": {
      const numbers = [...input.matchAll(/[0-9]+/g)];
      if (numbers.length === 0) return input;
      const found = numbers[m.which % numbers.length];
      const start = found.index;
      const variant = NUMBER_VARIANTS[m.variant % NUMBER_VARIANTS.length](found[0]);
      return input.slice(0, start) + variant + input.slice(start + found[0].length);
    }
    case "repeat": {
      const start = at(m.at);
      const piece = input.slice(start, start + m.length);
      return input.slice(0, start) + piece.repeat(m.times) + input.slice(start);
    }
  }
}

export function mutateText(text: string, ms: readonly Mutation[]): string {
  return ms.reduce((s, m) => apply(s, m, false), text);
}

export function mutateBytes(bytes: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  const binary = ms.reduce((s, m) => apply(s, m, true), Buffer.from(bytes).toString("latin1"));
  return Buffer.from(binary, "latin1");
}

/** Runs `fn`, failing if it takes longer than MAX_CALL_MS (a hang shows up as a failure, not a stuck run). */
export function timed<T>(fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    const took = performance.now() - start;
    assert.ok(took < MAX_CALL_MS, `one call took ${took.toFixed(0)} ms`);
  }
}

export async function timedAsync<T>(fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    const took = performance.now() - start;
    assert.ok(took < MAX_CALL_MS, `one call took ${took.toFixed(0)} ms`);
  }
}

type ErrorClass = abstract new (...args: never[]) => CodedError<string>;

/** Fails unless `err` is the domain's coded error (never a TypeError, RangeError or stack overflow). */
export function assertCoded(err: unknown, domain: ErrorClass): void {
  if (err instanceof domain && typeof err.code === "string" && err.code.length > 0) return;
  throw new assert.AssertionError({
    message: `expected a ${domain.name} with a code, got ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`,
  });
}

/**
 * The canonical-parsing property: `parse(input)` either returns a value
 * whose `encode` is exactly `input`, or throws `domain`'s coded error.
 * Returns the value (undefined when refused).
 */
export function parsesCanonically<I extends string | Uint8Array, T>(
  input: I,
  parse: (input: I) => T,
  encode: (value: T) => I,
  domain: ErrorClass,
): T | undefined {
  let value: T;
  try {
    value = timed(() => parse(input));
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assertCoded(err, domain);
    return undefined;
  }
  const again = encode(value);
  if (typeof input === "string") assert.equal(again, input, "the value re-encodes to other text");
  else
    assert.ok(Buffer.from(again).equals(Buffer.from(input)), "the value re-encodes to other bytes");
  return value;
}

/** Throws `domain`'s coded error or fails; returns the error's code. */
export function refusedWith<T>(fn: () => T, domain: ErrorClass): string {
  try {
    timed(fn);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assertCoded(err, domain);
    return (err as CodedError<string>).code;
  }
  assert.fail("the input was accepted");
}
