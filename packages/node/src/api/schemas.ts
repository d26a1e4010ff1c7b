import { Command, NodeId, NodeRole, Workload } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/** The HTTP API's shapes: the single source of truth for the server, the CLI client and OpenAPI. */

export const MemberStatus = z.enum(["alive", "suspect", "dead", "left"]);

export const MeshMember = z.object({
  id: z.string(),
  name: z.string(),
  status: MemberStatus,
  phi: z.number(),
  roles: z.array(z.string()),
  addresses: z.record(z.string(), z.string()),
  zone: z.string(),
});
export type MeshMember = z.infer<typeof MeshMember>;

export const RaftStatusReply = z.object({
  term: z.number(),
  state: z.string(),
  leader: z.string().nullable(),
  commit_index: z.number(),
  applied_index: z.number(),
  voters: z.array(z.string()),
  learners: z.array(z.string()),
  /** This start's data-directory generation (docs/raft.md, "Disks that go back"). */
  data_generation: z.number(),
  /** Set while this node, restored from an older copy of its data, catches up before voting. */
  rollback: z.object({ reason: z.string(), target_commit: z.number().nullable() }).nullable(),
});

/** The etcd members the fabric committed (`etcd-member` records), with the addresses their nodes advertise. */
export const EtcdMembersReply = z.object({
  /** This node runs an etcd member the fabric manages. */
  managed: z.boolean(),
  /** etcd speaks TLS with certificates of the cluster CA (clients need one to connect). */
  tls: z.boolean(),
  /** The leader's last failed etcd call (it retries with backoff); null on other nodes or once one succeeds. */
  last_error: z.object({ action: z.string(), error: z.string(), at_ms: z.number() }).nullable(),
  /** The etcd membership records this node applied since it started (bounded to 256), oldest first. */
  events: z.array(
    z.object({ index: z.number(), node: z.string(), event: z.string(), member_id: z.string() }),
  ),
  members: z.array(
    z.object({
      node: z.string(),
      name: z.string(),
      member_id: z.string(),
      learner: z.boolean(),
      peer: z.string().nullable(),
      client: z.string().nullable(),
      /** The serial of the TLS certificate the leader issued with the add; null for the founder's own. */
      certificate_serial: z.string().nullable(),
    }),
  ),
});
export type EtcdMembersReply = z.infer<typeof EtcdMembersReply>;

/** A role shift in flight, as the replicated machine holds it (docs/fabric-machine.md). */
export const ProcedureReply = z.object({
  shift: z.string(),
  node: z.string(),
  phase: z.string(),
  origin: z.string(),
  begun_index: z.number(),
});

/** What the actuator runs on this host (docs/actuators.md); null when the node only renders files. */
export const ActuatorReply = z.object({
  runtime: z.string(),
  summary: z.string(),
  components: z.array(
    z.object({
      name: z.string(),
      state: z.string(),
      pid: z.number().nullable(),
      detail: z.string().nullable(),
    }),
  ),
});

/** How a node learns committed state, and why it has the relay source it has (docs/scale.md). */
export const RelayStatusReply = z.object({
  /** `raft`: a voter or learner, fed by Raft; `relay`: a follower of the state relay. */
  via: z.enum(["raft", "relay"]),
  /** The relay source a follower takes entries from (a holder: the holder it probes). */
  source: z.string().nullable(),
  /** Hops below a log holder (0 for a holder); null while no source answered. */
  depth: z.number().nullable(),
  /** The machine's applied index (a follower's Raft stays at 0). */
  applied_index: z.number(),
  subscribers: z.number(),
  entries_relayed: z.number(),
  snapshots_restored: z.number(),
  /** Relay answers refused: no commit stamp, or one that did not check out (docs/scale.md). */
  answers_refused: z.number().optional(),
  /** The sources it would take, best first (tree parent, then the voters); none: it has no source to ask. */
  candidates: z.array(z.string()).optional(),
  /** Candidates given up (silent, busy, refused, unreachable, too deep) and for how long still. */
  skipped: z.array(z.object({ id: z.string(), for_ms: z.number() })).optional(),
  /** How long the source still owes the answer to an open request (null: none open). */
  awaiting_ms: z.number().nullable().optional(),
  /** A holder by its configuration that Raft does not feed: it follows through the relay. */
  stale: z.boolean().optional(),
  /** Why the last relay answer was refused; null once one is accepted (docs/scale.md). */
  last_refusal: z.string().nullable().optional(),
  /** Stamps trusted through the attestation chain after this node's voters were replaced. */
  stamp_handovers: z.number().optional(),
  /** The applied index restored at start from this follower's own relay state file (null: none). */
  resumed_index: z.number().nullable().optional(),
});
export type RelayStatusReply = z.infer<typeof RelayStatusReply>;

export const NodeStatusReply = z.object({
  id: z.string(),
  name: z.string(),
  roles: z.array(z.string()),
  raft: RaftStatusReply,
  members: z.object({ alive: z.number(), suspect: z.number(), dead: z.number() }),
  chain_height: z.number(),
  procedures: z.array(ProcedureReply),
  actuator: ActuatorReply.nullable(),
  last_decision: z.string().nullable(),
  face: z.string(),
  uptime_ms: z.number(),
  /** The committed strategy and this node's file (`agrees: false` when they differ). */
  strategy: z
    .object({
      committed: z.object({ name: z.string(), digest: z.string(), index: z.number() }).nullable(),
      local: z.object({ name: z.string(), digest: z.string() }),
      agrees: z.boolean(),
    })
    .optional(),
  /** How this node learns committed state: `raft` (voter or learner) or `relay` (docs/scale.md). */
  learns: RelayStatusReply.optional(),
  /**
   * The timing each component runs now (read from Raft, gossip, the policy...): a committed
   * strategy swap changes it without a restart. `strategy` names the strategy it comes from.
   */
  timing: z
    .object({
      strategy: z.string(),
      raft: z.object({
        election_timeout_ms: z.number(),
        heartbeat_interval_ms: z.number(),
        snapshot_interval_entries: z.number(),
      }),
      gossip: z.object({
        cadence_ms: z.number(),
        probe_interval_ms: z.number(),
        probe_timeout_ms: z.number(),
        phi_threshold: z.number(),
        failure_detector_timeout_ms: z.number(),
      }),
      policy: z.object({
        reconciliation_ms: z.number(),
        hysteresis_ms: z.number(),
        stabilization_ms: z.number(),
        restore_window_ms: z.number(),
        flap_window_ms: z.number(),
        dead_grace_ms: z.number(),
      }),
      attestation: z.object({ seal_interval_ms: z.number() }),
      content: z.object({ sync_cadence_ms: z.number(), gc_retention_ms: z.number() }),
    })
    .optional(),
});
export type NodeStatusReply = z.infer<typeof NodeStatusReply>;

export const ShiftRequest = z.strictObject({
  action: z.enum(["promote", "demote", "quarantine", "restore"]),
  node: z.string().min(1).max(64),
  roles: z.array(NodeRole).max(8).optional(),
  force: z.boolean().default(false),
  /**
   * An operator key's signature of the shift, bound to the chain position `operator_after`
   * (`revoada shift ... --sign-with KEYFILE`; docs/attestation.md, "Operator signatures").
   */
  operator_after: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  operator_signature: z
    .string()
    .regex(/^[0-9a-f]{128}$/)
    .optional(),
});
export type ShiftRequest = z.infer<typeof ShiftRequest>;

export const CommittedReply = z.object({
  index: z.number(),
  term: z.number(),
  command: Command,
});

export const WorkloadApplyRequest = Workload;

export const ProposalRefused = z.object({
  error: z.string(),
  rule: z.string().optional(),
  leader: z.string().nullable().optional(),
  /** On 421: the leader's API address as gossip advertises it. */
  leader_api: z.string().optional(),
});

export const JoinRequest = z.strictObject({ id: NodeId, raft_address: z.string() });
