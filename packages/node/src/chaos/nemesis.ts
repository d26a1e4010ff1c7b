import { SeededRandom } from "@revoada/fabric-core/sim";
import { z } from "zod";
import { findLeader } from "../mesh/observe.js";
import type { NetnsMesh } from "../netns/netns-mesh.js";

/**
 * The nemesis of a chaos campaign: a schedule of real faults drawn from a seed (the same seed
 * and length give the same schedule), carried out on a netns mesh one at a time: each fault
 * starts, lasts its duration, is healed, and the mesh gets a quiet spell before the next.
 */
export const Fault = z.discriminatedUnion("kind", [
  /** Two-way partition, the named nodes against the rest. */
  z.strictObject({ kind: z.literal("partition"), minority: z.array(z.string()) }),
  /** Two-way partition of the current leader and one other node from the rest. */
  z.strictObject({ kind: z.literal("partition-leader") }),
  /** Packets from `from` never reach the others (they still reach `from`). */
  z.strictObject({ kind: z.literal("one-way"), from: z.array(z.string()) }),
  /** Each node reaches only its two neighbours in `order`. */
  z.strictObject({ kind: z.literal("ring"), order: z.array(z.string()) }),
  /** `ip link set eth0 down` on the node. */
  z.strictObject({ kind: z.literal("link-down"), node: z.string() }),
  /** SIGSTOP, then SIGCONT at the end. */
  z.strictObject({ kind: z.literal("pause"), node: z.string() }),
  /** kill -9, then a restart at the end. */
  z.strictObject({ kind: z.literal("kill"), node: z.string() }),
  /** The node's data directory (a small tmpfs) filled to the last byte; freed (and the node restarted if it died) at the end. */
  z.strictObject({ kind: z.literal("disk-full"), node: z.string() }),
  /**
   * The node's wall clock jumps by `offset_s` (minutes, forward or back; libfaketime) and
   * jumps back to the real time at the end. Its monotonic clock does not move.
   */
  z.strictObject({ kind: z.literal("clock-jump"), node: z.string(), offset_s: z.int() }),
]);
export type Fault = z.infer<typeof Fault>;

export const ScheduledFault = z.strictObject({
  at_ms: z.int().min(0),
  duration_ms: z.int().min(1),
  fault: Fault,
});
export type ScheduledFault = z.infer<typeof ScheduledFault>;

const kinds = [
  "partition",
  "partition-leader",
  "one-way",
  "ring",
  "link-down",
  "pause",
  "kill",
  "disk-full",
  "clock-jump",
] as const;

/**
 * The faults of a campaign of `durationMs` over `nodes` (node-1..node-N), `diskNode` being the
 * one whose data directory is small and `clockNode` the one whose wall clock can jump. The
 * first comes after a quiet start; the kinds take turns in an order shuffled by the seed, so a
 * short campaign still sees most of them.
 */
export function nemesisSchedule(
  seed: number,
  durationMs: number,
  nodes: readonly string[],
  diskNode: string,
  clockNode: string,
): ScheduledFault[] {
  const random = new SeededRandom(seed);
  const schedule: ScheduledFault[] = [];
  let order: (typeof kinds)[number][] = [];
  let at = 8000;
  for (let i = 0; i < 10_000; i += 1) {
    const duration = 5000 + random.int(10_000);
    if (at + duration > durationMs) break;
    if (order.length === 0) order = shuffled(random, [...kinds]);
    const kind = order.pop()!;
    schedule.push({
      at_ms: at,
      duration_ms: duration,
      fault: faultOf(kind, random, nodes, diskNode, clockNode),
    });
    at += duration + 6000 + random.int(6000);
  }
  return schedule;
}

function faultOf(
  kind: (typeof kinds)[number],
  random: SeededRandom,
  nodes: readonly string[],
  diskNode: string,
  clockNode: string,
): Fault {
  switch (kind) {
    case "partition":
      return { kind, minority: shuffled(random, [...nodes]).slice(0, Math.floor((nodes.length - 1) / 2)) };
    case "partition-leader":
      return { kind };
    case "one-way":
      return { kind, from: [random.pick(nodes)] };
    case "ring":
      return { kind, order: shuffled(random, [...nodes]) };
    case "link-down":
    case "pause":
    case "kill":
      return { kind, node: random.pick(nodes) };
    case "disk-full":
      return { kind, node: diskNode };
    case "clock-jump": {
      // 2 to 10 minutes, ahead or behind.
      const minutes = 2 + random.int(9);
      return { kind, node: clockNode, offset_s: (random.int(2) === 0 ? -60 : 60) * minutes };
    }
    default:
      return kind satisfies never;
  }
}

function shuffled<T>(random: SeededRandom, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = random.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Starts a fault; returns what was actually done (the leader it found, the bytes it filled). */
export async function startFault(mesh: NetnsMesh, fault: Fault): Promise<Record<string, unknown>> {
  const names = mesh.nodes.map((node) => node.name);
  switch (fault.kind) {
    case "partition":
      await mesh.partition([fault.minority, names.filter((name) => !fault.minority.includes(name))]);
      return { minority: fault.minority };
    case "partition-leader": {
      const leader = (await findLeader(mesh.nodes))?.node.name ?? names[0]!;
      const other = names[(names.indexOf(leader) + 1) % names.length]!;
      const minority = [leader, other];
      await mesh.partition([minority, names.filter((name) => !minority.includes(name))]);
      return { minority };
    }
    case "one-way":
      await mesh.dropOneWay(
        fault.from,
        names.filter((name) => !fault.from.includes(name)),
      );
      return { from: fault.from };
    case "ring":
      await mesh.ring(fault.order);
      return { order: fault.order };
    case "link-down":
      await mesh.linkDown(fault.node);
      return { node: fault.node };
    case "pause":
      mesh.pause(fault.node);
      return { node: fault.node };
    case "kill":
      await mesh.kill(fault.node);
      return { node: fault.node };
    case "disk-full":
      return { node: fault.node, filled_bytes: await mesh.fillDisk(fault.node) };
    case "clock-jump":
      await mesh.jumpClock(fault.node, fault.offset_s);
      return { node: fault.node, offset_s: fault.offset_s };
    default:
      return fault satisfies never;
  }
}

/** Undoes a fault; returns what it did (a node restarted after its disk filled, say). */
export async function stopFault(mesh: NetnsMesh, fault: Fault): Promise<Record<string, unknown>> {
  switch (fault.kind) {
    case "partition":
    case "partition-leader":
    case "one-way":
    case "ring":
      await mesh.heal();
      return {};
    case "link-down":
      await mesh.linkUp(fault.node);
      return { node: fault.node };
    case "pause":
      mesh.resume(fault.node);
      return { node: fault.node };
    case "kill":
      mesh.restart(fault.node);
      return { node: fault.node, restarted: true };
    case "disk-full": {
      await mesh.freeDisk(fault.node);
      const died = !mesh.local.isRunning(fault.node);
      if (died) mesh.restart(fault.node);
      return { node: fault.node, died_and_restarted: died };
    }
    case "clock-jump":
      await mesh.jumpClock(fault.node, 0);
      return { node: fault.node, offset_s: 0 };
    default:
      return fault satisfies never;
  }
}

/** Heals everything: network, paused processes, full disks, moved clocks, dead nodes. */
export async function healAll(mesh: NetnsMesh, diskNode: string, clockNode: string): Promise<string[]> {
  await mesh.heal();
  await mesh.jumpClock(clockNode, 0);
  const restarted: string[] = [];
  for (const node of mesh.nodes) mesh.resume(node.name);
  await mesh.freeDisk(diskNode);
  for (const node of mesh.nodes) {
    if (!mesh.local.isRunning(node.name)) {
      mesh.restart(node.name);
      restarted.push(node.name);
    }
  }
  return restarted;
}
