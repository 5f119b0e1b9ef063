import assert from "node:assert/strict";
import { test } from "node:test";
import { classify } from "../../src/client/errors.ts";
import { LogError } from "../../src/log/errors.ts";

test("a source that gave nothing is passed over; one that gave something wrong is set aside", () => {
  const soft = [
    new LogError("unreachable", "no answer"),
    new LogError("bad-response", "content-encoding br"),
    new LogError("not-found", "404"),
    new DOMException("no data arrived in time", "TimeoutError"),
    new Error("http://m/x answered 503 Service Unavailable"),
  ];
  for (const err of soft) assert.equal(classify(err, "m", "tile").hard, false, err.message);
  const hard: [Error, string][] = [
    [new LogError("truncated", "cut off"), "truncated"],
    [new LogError("too-large", "too large"), "size"],
    [new LogError("redirect", "elsewhere"), "redirect"],
    [new Error("hash mismatch"), "tile"],
  ];
  for (const [err, code] of hard) {
    const sourceError = classify(err, "m", "tile");
    assert.equal(sourceError.hard, true, err.message);
    assert.equal(sourceError.code, code);
  }
});
