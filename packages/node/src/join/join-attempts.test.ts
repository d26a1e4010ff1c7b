// Goal: an address that failed too many join proofs within the window waits until the window
// has passed; other addresses are not affected; the table stays bounded.
// Method: the limiter alone, on an injected clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JoinAttempts } from "./join-attempts.js";

describe("join attempts", () => {
  it("blocks an address after failuresMax failures within the window, until the window passes", () => {
    const attempts = new JoinAttempts({ failuresMax: 3, windowMs: 1_000, addressesMax: 16 });
    for (const at of [0, 100, 200]) {
      assert.equal(attempts.waitMs("10.0.0.9", at), 0);
      attempts.recordFailure("10.0.0.9", at);
    }
    assert.equal(attempts.waitMs("10.0.0.9", 300), 700, "until the first failure leaves the window");
    assert.equal(attempts.waitMs("10.0.0.8", 300), 0, "another address may try");
    assert.equal(attempts.waitMs("10.0.0.9", 1_000), 0, "the window passed");
  });

  it("forgets the oldest address past addressesMax", () => {
    const attempts = new JoinAttempts({ failuresMax: 1, windowMs: 1_000, addressesMax: 2 });
    attempts.recordFailure("a", 0);
    attempts.recordFailure("b", 0);
    attempts.recordFailure("c", 0);
    assert.equal(attempts.waitMs("a", 1), 0);
    assert.ok(attempts.waitMs("b", 1) > 0);
    assert.ok(attempts.waitMs("c", 1) > 0);
  });
});
