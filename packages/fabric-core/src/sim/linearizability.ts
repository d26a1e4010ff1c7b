import { assert } from "../vocabulary/index.js";

/**
 * A linearizability checker in the style of Wing & Gong with Lowe's memoization (the
 * algorithm Porcupine uses): search for an order of the operations that respects real time
 * and the sequential model. Histories are split per key first (a key-value store is the
 * product of independent registers, so each key is checked alone), which keeps the search
 * small. The search is iterative (an explicit stack, no recursion) and bounded by a step
 * budget; an exhausted budget answers "unknown", never a false verdict.
 *
 * Times are event sequence numbers (strictly ordered), so "returned before invoked" is
 * exact. An operation that never returned (a write whose outcome the client never learned)
 * has `returnAt = Infinity`: it may take effect at any point after its call, or never.
 */

export interface RegisterOperation {
  readonly key: string;
  readonly kind: "put" | "get";
  /** The value written (put) or read (get); null reads an absent key. */
  readonly value: string | null;
  readonly callAt: number;
  readonly returnAt: number;
}

export type LinearizabilityVerdict =
  | { readonly result: "ok" }
  | { readonly result: "violation"; readonly key: string; readonly operations: readonly RegisterOperation[] }
  | { readonly result: "unknown"; readonly key: string };

interface EventNode {
  readonly operation: number;
  readonly isCall: boolean;
  readonly time: number;
  match: EventNode | null;
  previous: EventNode | null;
  next: EventNode | null;
}

interface Frame {
  readonly call: EventNode;
  readonly state: string | null;
}

/** Checks a history of register operations over many keys. */
export function checkLinearizable(
  operations: readonly RegisterOperation[],
  stepBudget = 200_000,
): LinearizabilityVerdict {
  const byKey = new Map<string, RegisterOperation[]>();
  for (const operation of operations) {
    assert(operation.callAt < operation.returnAt, "an operation returns after its call");
    const list = byKey.get(operation.key) ?? [];
    list.push(operation);
    byKey.set(operation.key, list);
  }
  for (const key of [...byKey.keys()].sort()) {
    const history = byKey.get(key)!;
    const result = checkRegister(history, stepBudget);
    if (result === "violation") return { result: "violation", key, operations: history };
    if (result === "unknown") return { result: "unknown", key };
  }
  return { result: "ok" };
}

function buildEvents(history: readonly RegisterOperation[]): EventNode {
  const events: EventNode[] = [];
  for (const [index, operation] of history.entries()) {
    const call: EventNode = {
      operation: index,
      isCall: true,
      time: operation.callAt,
      match: null,
      previous: null,
      next: null,
    };
    const ret: EventNode = {
      operation: index,
      isCall: false,
      time: operation.returnAt,
      match: null,
      previous: null,
      next: null,
    };
    call.match = ret;
    events.push(call, ret);
  }
  events.sort((a, b) => a.time - b.time || a.operation - b.operation);
  const head: EventNode = {
    operation: -1,
    isCall: false,
    time: Number.NEGATIVE_INFINITY,
    match: null,
    previous: null,
    next: null,
  };
  let tail = head;
  for (const event of events) {
    tail.next = event;
    event.previous = tail;
    tail = event;
  }
  return head;
}

function lift(call: EventNode): void {
  const ret = call.match!;
  call.previous!.next = call.next;
  if (call.next !== null) call.next.previous = call.previous;
  ret.previous!.next = ret.next;
  if (ret.next !== null) ret.next.previous = ret.previous;
}

function unlift(call: EventNode): void {
  const ret = call.match!;
  ret.previous!.next = ret;
  if (ret.next !== null) ret.next.previous = ret;
  call.previous!.next = call;
  if (call.next !== null) call.next.previous = call;
}

/** One register: "ok", "violation" or "unknown" (budget exhausted). */
function checkRegister(
  history: readonly RegisterOperation[],
  stepBudget: number,
): "ok" | "violation" | "unknown" {
  const head = buildEvents(history);
  const linearized = new Uint8Array(history.length);
  const seen = new Set<string>();
  const stack: Frame[] = [];
  let state: string | null = null;
  let entry = head.next;
  for (let steps = 0; head.next !== null; steps += 1) {
    if (steps >= stepBudget) return "unknown";
    assert(entry !== null, "the search walks inside the event list");
    if (entry.isCall) {
      const operation = history[entry.operation]!;
      const accepted = operation.kind === "put" || operation.value === state;
      const nextState: string | null = operation.kind === "put" ? operation.value : state;
      if (accepted) {
        linearized[entry.operation] = 1;
        const key = `${Buffer.from(linearized).toString("base64")}|${nextState ?? "\u0000"}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = nextState;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.operation] = 0;
      }
      entry = entry.next;
      continue;
    }
    // A return whose call is not linearized yet: undo the last choice.
    const frame = stack.pop();
    if (frame === undefined) return "violation";
    unlift(frame.call);
    linearized[frame.call.operation] = 0;
    state = frame.state;
    entry = frame.call.next;
  }
  return "ok";
}
