import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeEntry, type Entry, EntryError, encodeEntry } from "../../src/registry/entries.ts";

const base = {
  v: 1,
  ecosystem: "npm",
  name: "left-pad",
  time: "2026-11-21T06:00:00.000Z",
  actor: "alice",
} as const;
const publish: Entry = {
  ...base,
  kind: "publish",
  version: "1.3.0",
  tag: "latest",
  artifact: {
    sha256: "a".repeat(64),
    sha512: `${"A".repeat(86)}==`,
    sha1: "b".repeat(40),
    size: 1234,
  },
  manifest: { sha256: "c".repeat(64), size: 890 },
  resolution: { dependencies: { "is-number": "^7.0.0" }, bin: { pad: "cli.js" } },
};

describe("log entries", () => {
  test("encode to canonical JSON and decode back", () => {
    const entries: Entry[] = [
      publish,
      { ...base, kind: "unpublish", version: "1.3.0" },
      { ...base, kind: "unpublish" },
      { ...base, kind: "dist-tag", tag: "next", version: "1.3.0" },
      { ...base, kind: "dist-tag", tag: "next", version: null },
      { ...base, kind: "deprecate", version: "1.3.0", message: "use string.padStart" },
      { ...base, kind: "owner", user: "bob", action: "add" },
    ];
    for (const entry of entries) {
      const bytes = encodeEntry(entry);
      assert.deepEqual(decodeEntry(bytes), entry);
      const text = new TextDecoder().decode(bytes);
      assert.ok(text.startsWith('{"'), text);
      assert.ok(!text.includes(" ") || entry.kind === "deprecate", text);
    }
    assert.match(
      new TextDecoder().decode(encodeEntry(publish)),
      /^\{"actor":"alice","artifact":\{"sha1"/,
    );
  });

  test("malformed entries are refused", () => {
    const bad: unknown[] = [
      { ...publish, v: 2 },
      { ...publish, kind: "yank" },
      { ...publish, ecosystem: "cargo" },
      { ...publish, extra: 1 },
      { ...publish, time: "2026-11-21" },
      { ...publish, name: "" },
      {
        ...publish,
        artifact: { ...(publish.kind === "publish" && publish.artifact), sha256: "A".repeat(64) },
      },
      { ...publish, manifest: { sha256: "c".repeat(64) } },
      { ...base, kind: "owner", user: "bob", action: "give" },
      { ...base, kind: "dist-tag", tag: "next" },
      [],
      null,
    ];
    for (const value of bad) {
      assert.throws(() => encodeEntry(value as Entry), EntryError, JSON.stringify(value));
    }
  });

  test("non-canonical bytes are refused on decode", () => {
    const text = new TextDecoder().decode(encodeEntry(publish));
    assert.throws(() => decodeEntry(Buffer.from(` ${text}`)), /canonical/);
    assert.throws(
      () =>
        decodeEntry(
          Buffer.from(
            text.replace('{"actor":"alice",', '{"v":1,"actor":"alice",').replace(',"v":1}', "}"),
          ),
        ),
      /canonical/,
    );
    assert.throws(() => decodeEntry(Buffer.of(0xff)), /UTF-8 JSON/);
  });

  test("entries over 64 KiB are refused with a clear error", () => {
    const huge = { ...publish, resolution: { description: "x".repeat(70_000) } };
    assert.throws(() => encodeEntry(huge), /over the 65535-byte limit/);
  });
});
