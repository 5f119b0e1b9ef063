/** The change feed client: what it reads from a feed, and that the uplink's token stays on the uplink's own origin. */
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { test } from "node:test";
import { readChanges } from "../../src/upstream/changes.ts";
import { UPLINK_DEFAULTS } from "../../src/upstream/uplink.ts";
import { listenOnLoopback } from "../helpers/loopback.ts";

test("a feed on another host gets no token; its changed names and position are read", async () => {
  const seen: IncomingHttpHeaders[] = [];
  const feed = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({
        results: [
          { seq: 4, id: "a" },
          { seq: 5, id: "@s/b" },
        ],
        last_seq: 5,
      }),
    );
  });
  const { url, close } = await listenOnLoopback(feed);
  try {
    const uplink = { ...UPLINK_DEFAULTS, name: "up", url: "http://127.0.0.1:9/", token: "s3cret" };
    const changes = await readChanges(uplink, `${url}_changes`, "now");
    assert.deepEqual(changes, { changed: ["a", "@s/b"], last: "5" });
    assert.equal(seen[0].authorization, undefined);
    const own = { ...uplink, url };
    await readChanges(own, `${url}_changes`, "5");
    assert.equal(seen[1].authorization, "Bearer s3cret");
  } finally {
    await close();
  }
});
