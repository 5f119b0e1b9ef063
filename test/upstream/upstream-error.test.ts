/** An uplink's failure reaches the client with its status and a message that names the uplink. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { errorResponse } from "../../src/npm/error-status.ts";
import { UpstreamError, type UpstreamErrorCode } from "../../src/upstream/upstream-error.ts";

const uplink = { name: "npm", url: "http://127.0.0.1:1234/" };

test("every upstream code has its status, and the message names the uplink", () => {
  const statuses: Record<UpstreamErrorCode, number> = {
    unreachable: 502,
    timeout: 504,
    "bad-status": 502,
    "not-found": 404,
    unauthorized: 502,
    "too-large": 502,
    truncated: 502,
    "bad-json": 502,
    "bad-response": 502,
    "integrity-mismatch": 502,
  };
  for (const [code, status] of Object.entries(statuses)) {
    const err = new UpstreamError(uplink, code as UpstreamErrorCode, "what happened");
    assert.equal(err.uplink, "npm");
    assert.deepEqual(errorResponse(err, "r1"), {
      status,
      body: { error: "uplink npm (http://127.0.0.1:1234/): what happened", code },
    });
  }
});

test("a message never shows credentials in the uplink's URL", () => {
  const err = new UpstreamError(
    { name: "corp", url: "https://ci:hunter2@registry.example/" },
    "timeout",
    "slow",
  );
  assert.equal(err.message, "uplink corp (https://registry.example/): slow");
});
