/**
 * Goal: the linearizability checker accepts exactly the histories a register allows. Method:
 * hand-written histories (stale read, concurrent overlap, lost write, open-ended writes,
 * per-key independence), an exhausted budget answering "unknown", and a fast-check property:
 * any history produced by a sequential run (each operation atomic at a random moment inside
 * its interval) is accepted.
 */
import { strict as assertStrict } from "node:assert";
import { test } from "node:test";
import fc from "fast-check";
import { checkLinearizable, type RegisterOperation } from "./linearizability.js";

function op(
  kind: "put" | "get",
  value: string | null,
  callAt: number,
  returnAt: number,
  key = "k",
): RegisterOperation {
  return { key, kind, value, callAt, returnAt };
}

test("a read after a completed write must see it", () => {
  assertStrict.equal(checkLinearizable([op("put", "1", 1, 2), op("get", null, 3, 4)]).result, "violation");
  assertStrict.equal(checkLinearizable([op("put", "1", 1, 2), op("get", "1", 3, 4)]).result, "ok");
});

test("overlapping operations may take effect in either order", () => {
  const history = [op("put", "1", 1, 10), op("get", null, 2, 3), op("get", "1", 4, 5)];
  assertStrict.equal(checkLinearizable(history).result, "ok");
  // Once a read saw the new value, a later read may not see the old one again.
  const flicker = [op("put", "1", 1, 10), op("get", "1", 2, 3), op("get", null, 4, 5)];
  assertStrict.equal(checkLinearizable(flicker).result, "violation");
});

test("an overwritten value never comes back", () => {
  const history = [op("put", "1", 1, 2), op("put", "2", 3, 4), op("get", "1", 5, 6)];
  assertStrict.equal(checkLinearizable(history).result, "violation");
});

test("a write whose outcome is unknown may or may not have happened", () => {
  const happened = [op("put", "1", 1, Number.POSITIVE_INFINITY), op("get", "1", 5, 6)];
  const notYet = [op("put", "1", 1, Number.POSITIVE_INFINITY), op("get", null, 5, 6)];
  assertStrict.equal(checkLinearizable(happened).result, "ok");
  assertStrict.equal(checkLinearizable(notYet).result, "ok");
  // But it cannot take effect before it was invoked.
  const early = [op("get", "1", 1, 2), op("put", "1", 3, Number.POSITIVE_INFINITY)];
  assertStrict.equal(checkLinearizable(early).result, "violation");
});

test("keys are independent registers", () => {
  const history = [op("put", "1", 1, 2, "a"), op("get", null, 3, 4, "b"), op("get", "1", 5, 6, "a")];
  assertStrict.equal(checkLinearizable(history).result, "ok");
  const verdict = checkLinearizable([op("put", "1", 1, 2, "a"), op("get", null, 3, 4, "a")]);
  assertStrict.ok(verdict.result === "violation" && verdict.key === "a");
});

test("an exhausted search budget answers unknown, not a verdict", () => {
  const history: RegisterOperation[] = [];
  for (let i = 0; i < 12; i += 1) history.push(op("put", `v${i}`, 1, 100));
  history.push(op("get", "nope", 101, 102));
  assertStrict.equal(checkLinearizable(history, 50).result, "unknown");
  assertStrict.equal(checkLinearizable(history).result, "violation");
});

test("property: histories of a sequential register are accepted", () => {
  const step = fc.record({
    kind: fc.constantFrom("put" as const, "get" as const),
    key: fc.constantFrom("a", "b"),
    before: fc.integer({ min: 1, max: 25 }),
    after: fc.integer({ min: 1, max: 25 }),
  });
  fc.assert(
    fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
      // Operation i takes effect at 10 * (i + 1); its interval stretches up to 25 either side,
      // so neighbours overlap and the checker must find the order.
      const state = new Map<string, string>();
      const history = steps.map((each, i) => {
        const at = 10 * (i + 1);
        let value: string | null;
        if (each.kind === "put") {
          value = `w${i}`;
          state.set(each.key, value);
        } else {
          value = state.get(each.key) ?? null;
        }
        return op(each.kind, value, at - each.before, at + each.after, each.key);
      });
      assertStrict.equal(checkLinearizable(history).result, "ok");
    }),
    { seed: 3, numRuns: 300 },
  );
});
