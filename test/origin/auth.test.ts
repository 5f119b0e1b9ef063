import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { AuthError, AuthStore } from "../../src/origin/auth.ts";

const code = (c: string) => (e: unknown) => e instanceof AuthError && e.code === c;

describe("users and tokens", () => {
  test("sign up, log in, wrong passwords and unknown users look the same", async () => {
    const auth = AuthStore.open(":memory:");
    await auth.createUser("alice", "correct horse", "alice@example.org");
    await auth.checkCredentials("alice", "correct horse");
    await assert.rejects(auth.checkCredentials("alice", "wrong"), code("bad-credentials"));
    await assert.rejects(auth.checkCredentials("nobody", "correct horse"), code("bad-credentials"));
    await assert.rejects(auth.createUser("alice", "again"), code("user-exists"));
    for (const name of ["Alice", "a b", "", "../x", "-dash"]) {
      await assert.rejects(auth.createUser(name, "pw"), code("invalid-username"), name);
    }
    await assert.rejects(auth.createUser("bob", ""), code("invalid-password"));
  });

  test("tokens are stored hashed, looked up, listed and revoked", async () => {
    const auth = AuthStore.open(":memory:");
    await auth.createUser("alice", "pw");
    const a = auth.createToken("alice");
    const b = auth.createToken("alice", { readonly: true });
    assert.match(a.token, /^cairn_[A-Za-z0-9_-]{43}$/);
    assert.equal(auth.lookupToken(a.token)?.user, "alice");
    assert.equal(auth.lookupToken(b.token)?.readonly, true);
    assert.equal(auth.lookupToken("cairn_forged"), undefined);
    const listed = auth.listTokens("alice");
    assert.equal(listed.length, 2);
    assert.ok(
      listed.every((t) => !JSON.stringify(t).includes(a.token)),
      "a listing never shows a token in clear",
    );
    assert.equal(auth.revokeToken("bob", a.key), false, "nobody revokes another user's token");
    const hashOfA = auth.lookupToken(a.token)?.tokenHash ?? "";
    assert.equal(auth.revokeToken("alice", hashOfA.slice(0, 8)), true);
    assert.equal(auth.lookupToken(a.token), undefined);
    assert.equal(auth.revokeToken("alice", b.token), true);
    assert.equal(auth.listTokens("alice").length, 0);
  });
});
