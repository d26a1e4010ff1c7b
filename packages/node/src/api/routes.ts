import { DecisionRecord } from "@revoada/fabric-core/policy";
import { Blake3Hash, FabricState, isNodeId, shortNodeId, workloadKey } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import type { FabricNode } from "../daemon/fabric-node.js";
import { RelayReply, RelayRequest } from "../daemon/relay.js";
import { CosignReply, CosignRequestBody } from "../daemon/sealing.js";
import { RaftUnavailableError } from "../errors.js";
import {
  faultInjectionEnabled,
  heldEtcdStepsInEffect,
  holdEtcdSteps,
  partitionInEffect,
  setPartition,
} from "../faults.js";
import { keyRoutes } from "../keys/key-routes.js";
import { findNode } from "../render/index.js";
import { consoleRoutes } from "../ui/console-routes.js";
import { openApiDocument, type Route, route } from "./http-server.js";
import {
  type ActuatorReply,
  CommittedReply,
  EtcdMembersReply,
  MeshMember,
  NodeStatusReply,
  ProposalRefused,
  ShiftRequest,
  WorkloadApplyRequest,
} from "./schemas.js";
import { shiftCommandOf } from "./shift-command.js";
import { strategyRoutes } from "./strategy-routes.js";

/**
 * The node's HTTP API. Reads are open; anything that changes state needs the bearer token.
 * Mutations must reach the leader; a follower answers 421 with the leader's id.
 */
export function nodeRoutes(node: FabricNode, extra: readonly Route[] = []): Route[] {
  const routes: Route[] = [
    route({
      method: "GET",
      path: "/v1/status",
      summary: "this node: identity, roles, Raft position, mesh health, chain height",
      mutates: false,
      reply: NodeStatusReply,
      handle: async () => ({ status: 200, body: statusOf(node) }),
    }),
    route({
      method: "GET",
      path: "/v1/mesh",
      summary: "the gossip view: every member with status and phi",
      mutates: false,
      reply: z.array(MeshMember),
      handle: async () => ({ status: 200, body: meshOf(node) }),
    }),
    route({
      method: "GET",
      path: "/v1/state",
      summary: "the committed fabric state (add ?consistent=true on the leader for a linearizable read)",
      mutates: false,
      reply: FabricState,
      handle: async ({ query }) => {
        if (query.get("consistent") === "true") {
          const read = await node.raft.readIndex().then(
            () => true,
            (error: unknown) => {
              if (error instanceof RaftUnavailableError) return false;
              throw error;
            },
          );
          if (!read) return notLeader(node);
        }
        return { status: 200, body: node.applier.state() };
      },
    }),
    route({
      method: "GET",
      path: "/v1/chain/export",
      summary: "the attestation chain export (genesis, blocks, checkpoints; one JSON record per line)",
      mutates: false,
      reply: z.string(),
      contentType: "application/x-ndjson",
      handle: async () => ({ status: 200, text: node.applier.chain?.exportText() ?? "" }),
    }),
    route({
      method: "GET",
      path: "/v1/etcd",
      summary: "the etcd members the fabric committed, with their nodes' etcd addresses",
      mutates: false,
      reply: EtcdMembersReply,
      handle: async () => ({ status: 200, body: etcdMembersOf(node) }),
    }),
    route({
      method: "GET",
      path: "/v1/decisions",
      summary: "recent policy decision records (this node's rounds as leader)",
      mutates: false,
      reply: z.array(z.object({ at_ms: z.number(), record: DecisionRecord })),
      handle: async () => ({ status: 200, body: node.reconciler.decisions.slice(-200) }),
    }),
    route({
      method: "POST",
      path: "/v1/shifts",
      summary: "propose a role shift; judged by the policy (force overrides a rule) and attested",
      mutates: true,
      body: ShiftRequest,
      reply: z.union([CommittedReply, ProposalRefused]),
      handle: async ({ body }) => shift(node, body),
    }),
    route({
      method: "POST",
      path: "/v1/workloads",
      summary: "apply (create or replace) a workload",
      mutates: true,
      body: WorkloadApplyRequest,
      reply: z.union([CommittedReply, ProposalRefused]),
      handle: async ({ body }) => propose(node, { type: "workload-upsert", workload: body }),
    }),
    route({
      method: "DELETE",
      path: "/v1/workloads/{namespace}/{name}",
      summary: "delete a workload",
      mutates: true,
      reply: z.union([CommittedReply, ProposalRefused]),
      handle: async ({ params }) => {
        const key = workloadKey({ namespace: params.namespace ?? "", name: params.name ?? "" });
        if (node.raft.status().role !== "leader") return notLeader(node);
        if (!node.applier.hasWorkload(key)) {
          return { status: 404, body: { error: `no workload ${key}` } };
        }
        return propose(node, { type: "workload-delete", namespace: params.namespace!, name: params.name! });
      },
    }),
    route({
      method: "GET",
      path: "/v1/blobs",
      summary: "the blobs this node holds (BLAKE3 hash and size)",
      mutates: false,
      reply: z.array(BlobInfo),
      handle: async () => ({ status: 200, body: await node.content.store.list() }),
    }),
    route({
      method: "GET",
      path: "/v1/blobs/{hash}",
      summary: "whether this node holds a blob, and its size",
      mutates: false,
      reply: BlobInfo,
      handle: async ({ params }) => {
        const hash = Blake3Hash.safeParse(params.hash);
        if (!hash.success) return { status: 400, body: { error: "not a BLAKE3 hash" } };
        const stored = await node.content.store.stat(hash.data);
        return stored === null
          ? { status: 404, body: { error: "not held here" } }
          : { status: 200, body: stored };
      },
    }),
    route({
      method: "POST",
      path: "/v1/blobs",
      summary: "store a small blob (base64, up to 3 MiB) on this node; peers fetch it by hash",
      mutates: true,
      body: BlobUpload,
      reply: BlobInfo,
      handle: async ({ body }) => {
        const stored = await node.content.store.put(new Uint8Array(Buffer.from(body.data_base64, "base64")));
        await node.content.announce();
        return { status: 200, body: stored };
      },
    }),
    route({
      method: "POST",
      path: "/v1/attest/cosign",
      summary: "witness: cosign a checkpoint consistent with the last one this node cosigned",
      mutates: true,
      body: CosignRequestBody,
      reply: CosignReply,
      handle: async ({ body }) => {
        const reply = node.sealing.cosign(body);
        const status = reply.ok ? 200 : reply.refusal === "conflict" ? 409 : 422;
        return { status, body: reply };
      },
    }),
    route({
      method: "POST",
      path: "/v1/relay",
      summary:
        "state relay (docs/scale.md): a node that holds no log follows committed entries from here; held until something newer applies or wait_ms passes",
      mutates: false,
      access: "admin",
      body: RelayRequest,
      reply: RelayReply,
      handle: async ({ body }) => ({ status: 200, body: await node.relay.serve(body) }),
    }),
    route({
      method: "GET",
      path: "/metrics",
      summary: "Prometheus metrics",
      mutates: false,
      reply: z.string(),
      contentType: "text/plain; version=0.0.4",
      handle: async () => ({ status: 200, text: node.metrics.render() }),
    }),
  ];
  routes.push(...consoleRoutes(node), ...keyRoutes(node), ...strategyRoutes(node), ...extra);
  if (faultInjectionEnabled) routes.push(partitionRoute(node), holdRoute());
  routes.push(
    route({
      method: "GET",
      path: "/openapi.json",
      summary: "this API's OpenAPI 3.1 document, generated from its zod schemas",
      mutates: false,
      reply: z.unknown(),
      handle: async () => ({ status: 200, body: openApiDocument(routes, "revoada node API") }),
    }),
  );
  return routes;
}

export function statusOf(node: FabricNode): z.input<typeof NodeStatusReply> {
  const raft = node.raft.status();
  const counts = { alive: 0, suspect: 0, dead: 0 };
  for (const member of node.gossip.membershipView().members) {
    if (member.status !== "left") counts[member.status] += 1;
  }
  return {
    id: node.nodeId,
    name: node.config.name,
    roles: node.applier.node(node.nodeId)?.roles ?? [],
    raft: {
      term: raft.term,
      state: raft.role,
      leader: raft.leader,
      commit_index: raft.commit,
      applied_index: raft.applied,
      voters: [...raft.conf.voters],
      learners: [...raft.conf.learners],
      data_generation: raft.generation,
      rollback:
        raft.rollback === null
          ? null
          : { reason: raft.rollback.reason, target_commit: raft.rollback.targetCommit },
    },
    members: counts,
    chain_height: node.applier.chain?.chain.blocks.length ?? 0,
    procedures: node.applier.machine.procedures().map((procedure) => ({
      shift: procedure.shift.type,
      node: procedure.shift.node,
      phase: procedure.phase,
      origin: procedure.origin,
      begun_index: procedure.begun_index,
    })),
    actuator: actuatorOf(node),
    last_decision: node.reconciler.lastDecision,
    face: node.face.id,
    uptime_ms: Math.round(performance.now() - node.startedMonotonicMs),
    strategy: node.strategyStatus(),
    learns: node.relay.status(),
    timing: node.timingInForce(),
  };
}

function etcdMembersOf(node: FabricNode): EtcdMembersReply {
  const machine = node.applier.machine;
  return {
    managed: node.actuation?.managesEtcd === true,
    tls: node.actuation?.tls === true,
    last_error: node.reconciler.lastEtcdError,
    events: node.reconciler.etcdEvents,
    members: machine.etcdMembers().map((member) => {
      const state = machine.node(member.node);
      return {
        node: member.node,
        name: state?.name ?? shortNodeId(member.node),
        member_id: member.member_id,
        learner: member.learner,
        peer: state?.addresses.etcd_peer ?? null,
        client: state?.addresses.etcd_client ?? null,
        certificate_serial: member.credential?.serial ?? null,
      };
    }),
  };
}

function actuatorOf(node: FabricNode): z.input<typeof ActuatorReply> | null {
  const status = node.actuation?.status() ?? null;
  if (status === null) return null;
  return {
    runtime: status.runtime,
    summary: status.summary,
    components: status.components.map((component) => ({
      name: component.name,
      state: component.state,
      pid: "pid" in component ? component.pid : null,
      detail: component.state === "unavailable" ? component.reason : null,
    })),
  };
}

export function meshOf(node: FabricNode): z.input<typeof MeshMember>[] {
  return node.gossip.membershipView().members.map((member) => ({
    id: member.id,
    name: member.state?.name ?? member.id.slice(0, 8),
    status: member.status,
    phi: member.phi ?? 0,
    roles:
      (isNodeId(member.id) ? node.applier.node(member.id)?.roles : undefined) ?? member.state?.roles ?? [],
    addresses: { ...(member.state?.addresses ?? {}) },
    zone: member.state?.zone ?? "",
  }));
}

async function shift(node: FabricNode, request: ShiftRequest) {
  if (node.raft.status().role !== "leader") return notLeader(node);
  const found = findNode(node.applier.state(), request.node);
  if (found === undefined) return { status: 404, body: { error: `no node ${request.node}` } };
  if (found === "ambiguous") return { status: 400, body: { error: `${request.node} matches several nodes` } };
  const command = shiftCommandOf(request, found.id);
  const signature =
    request.operator_signature === undefined || request.operator_after === undefined
      ? undefined
      : { after: request.operator_after, signature: request.operator_signature };
  const outcome = await node.reconciler.enqueueOperator({ command, force: request.force }, signature);
  if (outcome.type === "refused" && outcome.rule === "not-leader") return notLeader(node);
  if (outcome.type === "refused") {
    return {
      status: 409,
      body: { error: `refused: ${outcome.message}`, rule: outcome.rule, leader: node.raft.status().leader },
    };
  }
  return { status: 200, body: { index: outcome.index, term: outcome.term, command: outcome.command } };
}

export async function propose(
  node: FabricNode,
  command: Parameters<FabricNode["reconciler"]["proposeCommand"]>[0],
) {
  if (node.raft.status().role !== "leader") return notLeader(node);
  try {
    const committed = await node.reconciler.proposeCommand(command, "operator", false);
    return { status: 200, body: { ...committed, command } };
  } catch (error) {
    if (error instanceof RaftUnavailableError) return notLeader(node);
    throw error;
  }
}

export function notLeader(node: FabricNode) {
  const leader = node.raft.status().leader;
  // The leader's API address as gossip advertises it, so a client that knows one node finds the leader.
  const leaderApi =
    leader === null
      ? undefined
      : node.gossip.membershipView().members.find((member) => member.id === leader)?.state?.addresses.api;
  return {
    status: 421,
    body: {
      error: "this node is not the leader; send mutations to the leader",
      leader,
      ...(leaderApi === undefined ? {} : { leader_api: leaderApi }),
    },
  };
}

const BlobInfo = z.object({ hash: z.string(), size: z.number() });
const BlobUpload = z.strictObject({
  data_base64: z
    .string()
    .max(4 * 1024 * 1024)
    .base64(),
});

const HoldRequest = z.strictObject({
  etcd_steps: z.array(z.enum(["etcd-add-learner", "etcd-promote", "etcd-remove", "etcd-adopt"])).max(4),
});
const HoldReply = z.object({ etcd_steps: z.array(z.string()) });

/** Test-only (REVOADA_FAULT_INJECTION=1): this node, as leader, holds back the named etcd steps. */
function holdRoute(): Route {
  return route({
    method: "POST",
    path: "/v1/debug/hold",
    summary: "fault injection (only with REVOADA_FAULT_INJECTION=1): hold back etcd steps on this node",
    mutates: true,
    body: HoldRequest,
    reply: HoldReply,
    handle: async ({ body }) => {
      holdEtcdSteps(body.etcd_steps);
      return { status: 200, body: { etcd_steps: heldEtcdStepsInEffect() } };
    },
  });
}

const PartitionRequest = z.strictObject({ peers: z.array(z.string().min(1).max(64)).max(64) });
const PartitionReply = z.object({ peers: z.array(z.string()), addresses: z.array(z.string()) });

/**
 * Test-only (REVOADA_FAULT_INJECTION=1): drop all traffic with the named nodes, as a
 * network partition would; an empty list heals it.
 */
function partitionRoute(node: FabricNode): Route {
  return route({
    method: "POST",
    path: "/v1/debug/partition",
    summary: "fault injection (only with REVOADA_FAULT_INJECTION=1): cut this node off from the named nodes",
    mutates: true,
    body: PartitionRequest,
    reply: PartitionReply,
    handle: async ({ body }) => {
      const members = node.gossip.membershipView().members;
      const chosen = members.filter((m) => body.peers.some((p) => p === m.id || p === m.state?.name));
      setPartition(
        chosen.map((m) => m.id),
        chosen.map((m) => m.address),
      );
      return { status: 200, body: partitionInEffect() };
    },
  });
}
