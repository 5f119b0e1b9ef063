import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PublishError, parsePublish } from "../../src/npm/publish.ts";
import { BodyScanner } from "../../src/npm/publish-body.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

const code = (c: string) => (e: unknown) => e instanceof PublishError && e.code === c;

/** Scans `text` fed in pieces of `step` bytes; returns the parsed rest and the decoders. */
function scan(text: string, step: number) {
  const scanner = new BodyScanner();
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += step) scanner.write(bytes.subarray(at, at + step));
  return {
    body: JSON.parse(scanner.end()) as Record<string, unknown>,
    attachments: scanner.attachments,
  };
}

describe("publish bodies scanned as they arrive", () => {
  const tgz = rawTgz([packageJson("@scope/pkg", "1.0.0", { description: "é \\" })]);
  const body = publishBody(
    { name: "@scope/pkg", version: "1.0.0", description: 'a "quoted" \\ é' },
    tgz,
  );
  const file = "pkg-1.0.0.tgz";

  test("the attachment's data is decoded apart, whatever the chunking; the rest parses as sent", async () => {
    const text = JSON.stringify(body);
    for (const step of [1, 2, 3, 7, 64, 1000, text.length]) {
      const { body: rest, attachments } = scan(text, step);
      const expected = structuredClone(body);
      expected._attachments[file].data = "";
      assert.deepEqual(rest, JSON.parse(JSON.stringify(expected)), `step ${step}`);
      assert.deepEqual([...attachments.keys()], [file]);
      const parsed = await parsePublish("@scope/pkg", rest, undefined, attachments);
      assert.deepEqual(parsed.tarball, tgz, `step ${step}`);
    }
  });

  test("escaped slashes and escaped keys are read as JSON reads them", async () => {
    const text = JSON.stringify(body)
      .replace(/"_attachments"/, '"\\u005fattachments"')
      .replace(
        /("data":")([^"]*)"/,
        (_, head: string, data: string) => `${head}${data.replaceAll("/", "\\/")}"`,
      );
    const { body: rest, attachments } = scan(text, 5);
    assert.equal(attachments.size, 1);
    const parsed = await parsePublish("@scope/pkg", rest, undefined, attachments);
    assert.deepEqual(parsed.tarball, tgz);
  });

  test("data twice, _attachments twice, or escapes in the data are refused", () => {
    const text = JSON.stringify(body);
    const data = `"data":"${body._attachments[file].data}"`;
    const cases = [
      text.replace(data, `${data},${data}`),
      text.replace(/}$/, `,"_attachments":{}}`),
      text.replace(data, `"data":"AAAA\\n"`),
    ];
    for (const bad of cases) assert.throws(() => scan(bad, 9), code("bad-request"), bad.slice(-80));
  });

  test("any other body is kept whole", () => {
    const other = {
      versions: { "1.0.0": { data: "x", _attachments: { a: { data: "y" } } } },
      list: ["data", { data: "z" }],
    };
    const { body: rest, attachments } = scan(JSON.stringify(other), 3);
    assert.deepEqual(rest, other);
    assert.equal(attachments.size, 0);
    assert.deepEqual(scan('"1.0.0"', 2).body, "1.0.0");
  });
});
