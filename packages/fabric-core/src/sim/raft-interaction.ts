import { type ConfChangeItem, decodeConfChange, type Entry, type RaftConfig } from "../raft/index.js";
import { assert } from "../vocabulary/index.js";
import { decodeSimCommand, encodeSimCommand, RaftCluster } from "./raft-cluster.js";

/**
 * The harness behind the datadriven scripts in `src/raft/testdata/*.txt` (etcd-io/raft's
 * interaction tests are the model). Each command drives a `RaftCluster` on a reliable
 * network (1 ms delivery, 5 ms steps; the cluster's invariant checks run after every step)
 * and returns a stable text, so a script reads as a transcript and a behaviour change shows
 * as a diff. Commands:
 *
 *   add-nodes voters=a,b,c [spares=d] [seed=1] [pre-vote=false] [check-quorum=false]
 *             [entries-per-append=N] [snapshot-interval=N] [chunk-bytes=N]
 *   run [ms=200]                 advance virtual time
 *   campaign a                   start an election at a
 *   elect a                      make a the leader: wait for an election, then transfer to a
 *   propose a key=value          propose a register write at a
 *   read a context               ReadIndex at a;  reads a: the answered reads
 *   transfer a b                 leadership transfer from a to b
 *   conf a add-learner=d add-voter=e remove=f
 *   partition a | b c            cut every link between the groups;  cut a b (one way);  heal
 *   crash a;  restart a
 *   status;  log a;  kv a
 */
export class RaftInteraction {
  private cluster: RaftCluster | null = null;

  handle(line: string): string {
    const [name, ...words] = line.trim().split(/\s+/);
    assert(name !== undefined, "an empty command");
    const options = new Map<string, string>();
    const positional: string[] = [];
    for (const word of words) {
      const equals = word.indexOf("=");
      if (equals > 0) options.set(word.slice(0, equals), word.slice(equals + 1));
      else positional.push(word);
    }
    if (name === "add-nodes") return this.addNodes(options);
    const cluster = this.cluster;
    assert(cluster !== null, "add-nodes first");
    return this.dispatch(cluster, name, positional, options);
  }

  private dispatch(
    cluster: RaftCluster,
    name: string,
    positional: string[],
    options: Map<string, string>,
  ): string {
    const first = positional[0] ?? "";
    switch (name) {
      case "run":
        this.run(cluster, Number(options.get("ms") ?? "200"));
        return "";
      case "campaign":
        cluster.raft(first).campaign();
        return "";
      case "elect":
        this.elect(cluster, first);
        return "";
      case "propose":
        return this.propose(cluster, first, options);
      case "read":
        return describeOutcome(cluster.raft(first).readIndex(positional[1] ?? "read"));
      case "reads":
        return [...cluster.node(first).readStates]
          .map(([context, index]) => `${context} index=${index}`)
          .join("\n");
      case "transfer":
        return describeOutcome(cluster.raft(first).transferLeadership(positional[1] ?? ""));
      case "conf":
        return this.conf(cluster, first, options);
      case "partition":
        cluster.network.partition(
          positional
            .join(" ")
            .split("|")
            .map((group) => group.trim().split(/\s+/)),
        );
        return "";
      case "cut":
        cluster.network.cut(first, positional[1] ?? "");
        return "";
      case "heal":
        cluster.network.heal();
        return "";
      case "crash":
        cluster.crash(first);
        return "";
      case "restart":
        cluster.restart(first);
        return "";
      case "status":
        return this.status(cluster);
      case "log":
        return cluster.node(first).disk.entries.map(describeEntry).join("\n");
      case "kv":
        return [...cluster.node(first).kv]
          .sort()
          .map(([key, value]) => `${key}=${value}`)
          .join("\n");
      default:
        throw new Error(`unknown command ${name}`);
    }
  }

  private addNodes(options: Map<string, string>): string {
    const config: Partial<Omit<RaftConfig, "id">> = {};
    const flag = (key: string) => options.get(key);
    if (flag("pre-vote") !== undefined) config.preVote = flag("pre-vote") === "true";
    if (flag("check-quorum") !== undefined) config.checkQuorum = flag("check-quorum") === "true";
    if (flag("entries-per-append") !== undefined)
      config.entriesPerAppendMax = Number(flag("entries-per-append"));
    if (flag("snapshot-interval") !== undefined)
      config.snapshotIntervalEntries = Number(flag("snapshot-interval"));
    if (flag("chunk-bytes") !== undefined) config.snapshotChunkBytes = Number(flag("chunk-bytes"));
    const list = (key: string) => (options.get(key) ?? "").split(",").filter((id) => id.length > 0);
    this.cluster = new RaftCluster({
      seed: Number(options.get("seed") ?? "1"),
      voters: list("voters"),
      spares: list("spares"),
      config: { snapshotIntervalEntries: 100_000, ...config },
      pairwiseCheckEvery: 1,
    });
    return "";
  }

  private run(cluster: RaftCluster, ms: number): void {
    const steps = Math.ceil(ms / cluster.tickMs);
    for (let step = 0; step < steps; step += 1) cluster.step();
  }

  private elect(cluster: RaftCluster, target: string): void {
    for (let step = 0; step < 400 && cluster.leader() === null; step += 1) cluster.step();
    const leader = cluster.leader();
    assert(leader !== null, "no leader was elected");
    if (leader !== target) cluster.raft(leader).transferLeadership(target);
    for (let step = 0; step < 400 && cluster.leader() !== target; step += 1) cluster.step();
    assert(cluster.leader() === target, `${target} did not become the leader`);
    this.run(cluster, 50);
  }

  private propose(cluster: RaftCluster, node: string, options: Map<string, string>): string {
    const [key, value] = [...options][0] ?? ["k", "v"];
    return describeOutcome(cluster.raft(node).propose(encodeSimCommand({ op: "put", key, value })));
  }

  private conf(cluster: RaftCluster, node: string, options: Map<string, string>): string {
    const changes: ConfChangeItem[] = [];
    for (const [type, target] of options) {
      assert(type === "add-voter" || type === "add-learner" || type === "remove", `unknown change ${type}`);
      changes.push({ type, node: target });
    }
    return describeOutcome(cluster.raft(node).proposeConfChange({ changes }));
  }

  private status(cluster: RaftCluster): string {
    const lines: string[] = [];
    for (const node of cluster.nodes.values()) {
      if (node.raft === null) {
        lines.push(`${node.id}: down`);
        continue;
      }
      const status = node.raft.status();
      const conf = [`voters=(${status.conf.voters.join(",")})`];
      if (status.conf.votersOutgoing.length > 0)
        conf.push(`outgoing=(${status.conf.votersOutgoing.join(",")})`);
      if (status.conf.learners.length > 0) conf.push(`learners=(${status.conf.learners.join(",")})`);
      if (status.conf.learnersNext.length > 0)
        conf.push(`learners-next=(${status.conf.learnersNext.join(",")})`);
      lines.push(
        `${node.id}: ${status.role} term=${status.term} leader=${status.leader ?? "-"} commit=${status.commit} ` +
          `applied=${status.applied} last=${status.lastIndex} snapshot=${status.snapshotIndex} ${conf.join(" ")}`,
      );
    }
    return lines.join("\n");
  }
}

function describeOutcome(outcome: { readonly type: string } & Record<string, unknown>): string {
  const fields = Object.entries(outcome)
    .filter(([key, value]) => key !== "type" && value !== null)
    .map(([key, value]) => `${key}=${String(value)}`);
  return [outcome.type, ...fields].join(" ");
}

function describeEntry(entry: Entry): string {
  const head = `${entry.index}/${entry.term} ${entry.kind}`;
  if (entry.kind === "empty") return head;
  if (entry.kind === "conf-change") {
    const decoded = decodeConfChange(entry.data);
    if (!decoded.ok) return `${head} (undecodable)`;
    const changes = decoded.value.changes.map((change) => `${change.type}:${change.node}`);
    return `${head} ${changes.length === 0 ? "leave-joint" : changes.join(" ")}`;
  }
  const command = decodeSimCommand(entry.data);
  return `${head} ${command.op === "put" ? `${command.key}=${command.value}` : `marker ${command.tag}`}`;
}
