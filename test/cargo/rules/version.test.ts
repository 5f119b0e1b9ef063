/**
 * Versions and requirements against the `semver` crate's own test vectors
 * (semver 1.0.14, tests/test_version.rs and tests/test_version_req.rs, as
 * Debian's librust-semver-dev ships them), ported as data: each case is the
 * crate's, with its expected display string where the crate asserts one.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CargoError } from "../../../src/cargo/rules/errors.ts";
import {
  compareVersionStrings,
  formatVersion,
  isVersion,
  parseVersion,
  sameIgnoringBuild,
  withoutBuild,
} from "../../../src/cargo/rules/version.ts";
import {
  formatVersionReq,
  isVersionReq,
  matchesReq,
  parseVersionReq,
} from "../../../src/cargo/rules/version-req.ts";

const code = (c: string) => (e: unknown) => e instanceof CargoError && e.code === c;

describe("versions (semver crate test_version.rs)", () => {
  test("test_parse: refusals", () => {
    for (const text of ["", "  ", "1", "1.2", "1.2.3-", "a.b.c", "1.2.3 abc", "1.2.3-01"])
      assert.throws(() => parseVersion(text), code("bad-version"), text);
  });

  test("test_parse: accepted, and printed back unchanged (test_display)", () => {
    const cases: [string, string, string, string, string[], string][] = [
      ["1.2.3", "1", "2", "3", [], ""],
      ["1.2.3-alpha1", "1", "2", "3", ["alpha1"], ""],
      ["1.2.3+build5", "1", "2", "3", [], "build5"],
      ["1.2.3+5build", "1", "2", "3", [], "5build"],
      ["1.2.3-alpha1+build5", "1", "2", "3", ["alpha1"], "build5"],
      ["1.2.3-1.alpha1.9+build5.7.3aedf", "1", "2", "3", ["1", "alpha1", "9"], "build5.7.3aedf"],
      [
        "1.2.3-0a.alpha1.9+05build.7.3aedf",
        "1",
        "2",
        "3",
        ["0a", "alpha1", "9"],
        "05build.7.3aedf",
      ],
      ["0.4.0-beta.1+0851523", "0", "4", "0", ["beta", "1"], "0851523"],
      ["1.1.0-beta-10", "1", "1", "0", ["beta-10"], ""],
      ["1.2.3+build.42", "1", "2", "3", [], "build.42"],
    ];
    for (const [text, major, minor, patch, pre, build] of cases) {
      const v = parseVersion(text);
      assert.deepEqual(v, { major, minor, patch, pre, build }, text);
      assert.equal(formatVersion(v), text);
    }
  });

  test("test_eq / test_ne", () => {
    for (const v of ["1.2.3", "1.2.3-alpha1", "1.2.3+build.42", "1.2.3-alpha1+42"])
      assert.equal(compareVersionStrings(v, v), 0);
    for (const [a, b] of [
      ["0.0.0", "0.0.1"],
      ["0.0.0", "0.1.0"],
      ["0.0.0", "1.0.0"],
      ["1.2.3-alpha", "1.2.3-beta"],
    ])
      assert.notEqual(compareVersionStrings(a, b), 0, `${a} ${b}`);
  });

  test("test_lt / test_gt / test_spec_order", () => {
    const less: [string, string][] = [
      ["0.0.0", "1.2.3-alpha2"],
      ["1.0.0", "1.2.3-alpha2"],
      ["1.2.0", "1.2.3-alpha2"],
      ["1.2.3-alpha1", "1.2.3"],
      ["1.2.3-alpha1", "1.2.3-alpha2"],
    ];
    for (const [a, b] of less) {
      assert.ok(compareVersionStrings(a, b) < 0, `${a} < ${b}`);
      assert.ok(compareVersionStrings(b, a) > 0, `${b} > ${a}`);
    }
    const spec = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
    ];
    for (let i = 1; i < spec.length; i++)
      assert.ok(compareVersionStrings(spec[i - 1], spec[i]) < 0, `${spec[i - 1]} < ${spec[i]}`);
  });

  test("build metadata is ignored for order, unlike the crate's Ord (1.2.3+23 < 1.2.3+42 there)", () => {
    assert.equal(compareVersionStrings("1.2.3+23", "1.2.3+42"), 0);
    assert.ok(sameIgnoringBuild("1.0.7", "1.0.7+extra"));
    assert.ok(!sameIgnoringBuild("1.0.7", "1.0.7-extra"));
    assert.equal(withoutBuild("1.0.7-rc.1+x.y"), "1.0.7-rc.1");
  });

  test("numbers: u64, no leading zeros, no v prefix, no whitespace", () => {
    assert.ok(isVersion("18446744073709551615.0.0"));
    for (const text of [
      "18446744073709551616.0.0",
      "01.0.0",
      "1.00.0",
      "v1.0.0",
      " 1.0.0",
      "1.0.0 ",
      "1.0.0+",
      "1.0.0-a..b",
      "1.0.0+a+b",
      "1.0.0-é",
    ])
      assert.ok(!isVersion(text), text);
    assert.ok(isVersion("1.0.0-0"), "a lone zero is not a leading zero");
    assert.ok(compareVersionStrings("1.0.0-2", "1.0.0-10") < 0, "numeric identifiers by value");
    assert.ok(compareVersionStrings("1.0.0-10", "1.0.0-a") < 0, "numeric below alphanumeric");
    assert.ok(compareVersionStrings("10.0.0", "9.0.0") > 0);
  });
});

/** The crate's `assert_match_all` / `assert_match_none` cases: [req, display or null, matching, not matching]. */
const MATCHES: [string, string | null, string[], string[]][] = [
  // test_basic
  [
    "1.0.0",
    "^1.0.0",
    ["1.0.0", "1.1.0", "1.0.1"],
    ["0.9.9", "0.10.0", "0.1.0", "1.0.0-pre", "1.0.1-pre"],
  ],
  // test_exact
  ["=1.0.0", "=1.0.0", ["1.0.0"], ["1.0.1", "0.9.9", "0.10.0", "0.1.0", "1.0.0-pre"]],
  ["=0.9.0", "=0.9.0", ["0.9.0"], ["0.9.1", "1.9.0", "0.0.9", "0.9.0-pre"]],
  ["=0.0.2", "=0.0.2", ["0.0.2"], ["0.0.1", "0.0.3", "0.0.2-pre"]],
  [
    "=0.1.0-beta2.a",
    "=0.1.0-beta2.a",
    ["0.1.0-beta2.a"],
    ["0.9.1", "0.1.0", "0.1.1-beta2.a", "0.1.0-beta2"],
  ],
  ["=0.1.0+meta", "=0.1.0", ["0.1.0", "0.1.0+meta", "0.1.0+any"], []],
  // test_greater_than
  [">= 1.0.0", ">=1.0.0", ["1.0.0", "2.0.0"], ["0.1.0", "0.0.1", "1.0.0-pre", "2.0.0-pre"]],
  [
    ">= 2.1.0-alpha2",
    ">=2.1.0-alpha2",
    ["2.1.0-alpha2", "2.1.0-alpha3", "2.1.0", "3.0.0"],
    ["2.0.0", "2.1.0-alpha1", "2.0.0-alpha2", "3.0.0-alpha2"],
  ],
  // test_less_than
  ["< 1.0.0", "<1.0.0", ["0.1.0", "0.0.1"], ["1.0.0", "1.0.0-beta", "1.0.1", "0.9.9-alpha"]],
  [
    "<= 2.1.0-alpha2",
    null,
    ["2.1.0-alpha2", "2.1.0-alpha1", "2.0.0", "1.0.0"],
    ["2.1.0", "2.2.0-alpha1", "2.0.0-alpha2", "1.0.0-alpha2"],
  ],
  [">1.0.0-alpha, <1.0.0", null, ["1.0.0-beta"], []],
  [">1.0.0-alpha, <1.0", null, [], ["1.0.0-beta"]],
  [">1.0.0-alpha, <1", null, [], ["1.0.0-beta"]],
  // test_multiple
  ["> 0.0.9, <= 2.5.3", ">0.0.9, <=2.5.3", ["0.0.10", "1.0.0", "2.5.3"], ["0.0.8", "2.5.4"]],
  ["0.3.0, 0.4.0", "^0.3.0, ^0.4.0", [], ["0.0.8", "0.3.0", "0.4.0"]],
  ["<= 0.2.0, >= 0.5.0", "<=0.2.0, >=0.5.0", [], ["0.0.8", "0.3.0", "0.5.1"]],
  [
    "0.1.0, 0.1.4, 0.1.6",
    "^0.1.0, ^0.1.4, ^0.1.6",
    ["0.1.6", "0.1.9"],
    ["0.1.0", "0.1.4", "0.2.0"],
  ],
  [
    ">=0.5.1-alpha3, <0.6",
    ">=0.5.1-alpha3, <0.6",
    ["0.5.1-alpha3", "0.5.1-alpha4", "0.5.1-beta", "0.5.1", "0.5.5"],
    ["0.5.1-alpha1", "0.5.2-alpha3", "0.5.5-pre", "0.5.0-pre", "0.6.0", "0.6.0-pre"],
  ],
  // test_tilde
  ["~1", null, ["1.0.0", "1.0.1", "1.1.1"], ["0.9.1", "2.9.0", "0.0.9"]],
  ["~1.2", null, ["1.2.0", "1.2.1"], ["1.1.1", "1.3.0", "0.0.9"]],
  ["~1.2.2", null, ["1.2.2", "1.2.4"], ["1.2.1", "1.9.0", "1.0.9", "2.0.1", "0.1.3"]],
  [
    "~1.2.3-beta.2",
    null,
    ["1.2.3", "1.2.4", "1.2.3-beta.2", "1.2.3-beta.4"],
    ["1.3.3", "1.1.4", "1.2.3-beta.1", "1.2.4-beta.2"],
  ],
  // test_caret
  [
    "^1",
    null,
    ["1.1.2", "1.1.0", "1.2.1", "1.0.1"],
    ["0.9.1", "2.9.0", "0.1.4", "1.0.0-beta1", "0.1.0-alpha", "1.0.1-pre"],
  ],
  ["^1.1", null, ["1.1.2", "1.1.0", "1.2.1"], ["0.9.1", "2.9.0", "1.0.1", "0.1.4"]],
  [
    "^1.1.2",
    null,
    ["1.1.2", "1.1.4", "1.2.1"],
    ["0.9.1", "2.9.0", "1.1.1", "0.0.1", "1.1.2-alpha1", "1.1.3-alpha1", "2.9.0-alpha1"],
  ],
  [
    "^0.1.2",
    null,
    ["0.1.2", "0.1.4"],
    ["0.9.1", "2.9.0", "1.1.1", "0.0.1", "0.1.2-beta", "0.1.3-alpha", "0.2.0-pre"],
  ],
  [
    "^0.5.1-alpha3",
    null,
    ["0.5.1-alpha3", "0.5.1-alpha4", "0.5.1-beta", "0.5.1", "0.5.5"],
    ["0.5.1-alpha1", "0.5.2-alpha3", "0.5.5-pre", "0.5.0-pre", "0.6.0"],
  ],
  ["^0.0.2", null, ["0.0.2"], ["0.9.1", "2.9.0", "1.1.1", "0.0.1", "0.1.4"]],
  ["^0.0", null, ["0.0.2", "0.0.0"], ["0.9.1", "2.9.0", "1.1.1", "0.1.4"]],
  ["^0", null, ["0.9.1", "0.0.2", "0.0.0"], ["2.9.0", "1.1.1"]],
  [
    "^1.4.2-beta.5",
    null,
    ["1.4.2", "1.4.3", "1.4.2-beta.5", "1.4.2-beta.6", "1.4.2-c"],
    ["0.9.9", "2.0.0", "1.4.2-alpha", "1.4.2-beta.4", "1.4.3-beta.5"],
  ],
  // test_wildcard
  ["*", "*", ["0.9.1", "2.9.0", "0.0.9", "1.0.1", "1.1.1"], ["1.0.0-pre"]],
  ["1.*", "1.*", ["1.2.0", "1.2.1", "1.1.1", "1.3.0"], ["0.0.9", "1.2.0-pre"]],
  [
    "1.2.*",
    "1.2.*",
    ["1.2.0", "1.2.2", "1.2.4"],
    ["1.9.0", "1.0.9", "2.0.1", "0.1.3", "1.2.2-pre"],
  ],
  // test_pre, test_cargo3202
  ["=2.1.1-really.0", null, ["2.1.1-really.0"], []],
  ["0.*.*", "0.*", ["0.5.0"], []],
  ["0.0.*", "0.0.*", [], []],
];

describe("version requirements (semver crate test_version_req.rs)", () => {
  test("matching and display", () => {
    for (const [text, display, yes, no] of MATCHES) {
      const req = parseVersionReq(text);
      if (display !== null) assert.equal(formatVersionReq(req), display, text);
      for (const v of yes) assert.ok(matchesReq(req, parseVersion(v)), `${text} matches ${v}`);
      for (const v of no)
        assert.ok(!matchesReq(req, parseVersion(v)), `${text} does not match ${v}`);
    }
  });

  test("wildcard spellings are one requirement", () => {
    for (const [a, b] of [
      ["*", "x"],
      ["*", "X"],
      ["1.*", "1.x"],
      ["1.*", "1.X"],
      ["1.*", "1.*.*"],
      ["1.2.*", "1.2.x"],
      ["1.2.*", "1.2.X"],
    ])
      assert.deepEqual(parseVersionReq(a), parseVersionReq(b), `${a} = ${b}`);
  });

  test("refusals: test_multiple, test_parse_errors, test_logical_or, test_digit_after_wildcard, test_wildcard_and_another", () => {
    for (const text of [
      "> 0.1.0,",
      "> 0.3.0, ,",
      "1.2.3 - 2.3.4",
      "> 0.0.9 <= 2.5.3",
      "",
      "=1.2.3 || =2.3.4",
      "1.1 || =1.2.3",
      "6.* || 8.* || >= 10.*",
      "\0",
      ">= >= 0.0.2",
      ">== 0.0.2",
      "a.0.0",
      "1.0.0-",
      ">=",
      "*.1",
      "1.*.1",
      ">=1.*.1",
      "*, 0.20.0-any",
      "0.20.0-any, *",
      "0.20.0-any, *, 1.0",
    ])
      assert.throws(() => parseVersionReq(text), code("bad-version-req"), JSON.stringify(text));
  });

  test("test_leading_digit_in_pre_and_build", () => {
    for (const op of ["=", ">", ">=", "<", "<=", "~", "^"]) {
      for (const rest of [
        "1.2.3-1a",
        "1.2.3+1a",
        "1.2.3-01a",
        "1.2.3+01",
        "1.2.3-1+1",
        "1.2.3-1-1+1-1-1",
        "1.2.3-1a+1a",
        "1.2.3-1a-1a+1a-1a-1a",
      ])
        assert.ok(isVersionReq(`${op} ${rest}`), `${op} ${rest}`);
    }
  });

  test("at most 32 comparators, as the crate allows", () => {
    const many = (n: number) => Array.from({ length: n }, () => ">=1.0.0").join(", ");
    assert.ok(isVersionReq(many(32)));
    assert.throws(() => parseVersionReq(many(33)), code("bad-version-req"));
  });
});
