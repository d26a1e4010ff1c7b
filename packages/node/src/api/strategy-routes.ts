import { planStrategyChange, type StrategyPlan } from "@revoada/fabric-core/fabric";
import { FabricStrategy, Proposal } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";
import type { FabricNode } from "../daemon/fabric-node.js";
import { type Route, route } from "./http-server.js";

/**
 * The committed strategy over HTTP (docs/cli.md, `revoada strategy apply`): read it (with
 * this node's file beside it), ask the leader for the plan of a swap, and swap with `yes`.
 * The leader refuses a swap whose plan has refusals (not live, below quorum, no operator
 * keys, already committed) and one every node would refuse (an operator signature missing,
 * forged or replayed): nothing is proposed. `GET /v1/chain/head` is what an operator signs
 * against (`--sign-with`).
 */
const SignatureFields = {
  operator_after: z.int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  operator_signature: Proposal.shape.operator_signature,
};

export const StrategyPlanRequest = z.strictObject({ strategy: FabricStrategy });

export const StrategyApplyRequest = z.strictObject({
  strategy: FabricStrategy,
  /** Without it the leader only answers the plan (like `terraform plan`). */
  yes: z.boolean().default(false),
  ...SignatureFields,
});

export const StrategyPlanReply = z.object({
  from: z.object({ name: z.string(), digest: z.string() }).nullable(),
  to: z.object({ name: z.string(), digest: z.string() }),
  changes: z.array(z.object({ path: z.string(), from: z.string(), to: z.string() })),
  voters: z.object({
    current: z.number(),
    alive: z.number(),
    targetBefore: z.number(),
    targetAfter: z.number(),
    quorumAfter: z.number(),
    eligibleAlive: z.number(),
  }),
  shifts: z.array(z.object({ type: z.string(), node: z.string(), roles: z.array(z.string()) })),
  refusals: z.array(z.object({ rule: z.string(), message: z.string() })),
});

export const StrategyApplyReply = z.object({
  applied: z.boolean(),
  plan: StrategyPlanReply,
  index: z.number().optional(),
  term: z.number().optional(),
});

/** A refused swap: the rule and the message, with the plan when one was computed. */
export const StrategyRefused = z.object({
  error: z.string(),
  rule: z.string(),
  plan: StrategyPlanReply.optional(),
});

export const StrategyReply = z.object({
  committed: z
    .object({ name: z.string(), digest: z.string(), index: z.number(), strategy: FabricStrategy })
    .nullable(),
  local: z.object({ name: z.string(), digest: z.string() }),
  agrees: z.boolean(),
});

export const ChainHeadReply = z.object({
  /** Blocks in the committed chain: the position a signature names (`operator_after`). */
  sequence: z.number(),
  hash: z.string(),
  origin: z.string(),
  /** The operator keys of the committed rules and whether they are required. */
  operators: z.array(z.string()),
  require_operator_signature: z.boolean(),
});

export function strategyRoutes(node: FabricNode): Route[] {
  return [
    route({
      method: "GET",
      path: "/v1/strategy",
      summary: "the committed strategy, and this node's file beside it (agrees: false when they differ)",
      mutates: false,
      reply: StrategyReply,
      handle: async () => {
        const status = node.strategyStatus();
        const committed = node.applier.machine.strategy();
        return {
          status: 200,
          body: {
            ...status,
            committed:
              status.committed === null || committed === null
                ? null
                : { ...status.committed, strategy: committed.strategy },
          },
        };
      },
    }),
    route({
      method: "GET",
      path: "/v1/chain/head",
      summary: "the committed chain head an operator signs a shift against (revoada shift --sign-with)",
      mutates: false,
      reply: ChainHeadReply,
      handle: async () => {
        const chain = node.applier.machine.chain;
        if (chain === null) return { status: 404, body: { error: "the chain is not founded yet" } };
        return {
          status: 200,
          body: {
            sequence: chain.head.sequence,
            hash: chain.head.hash,
            origin: chain.genesis.body.origin,
            operators: [...chain.operatorRules.operators],
            require_operator_signature: chain.operatorRules.require,
          },
        };
      },
    }),
    route({
      method: "POST",
      path: "/v1/strategy/plan",
      summary: "the plan of a strategy swap: fields that change, voter target, next round's shifts, refusals",
      mutates: true,
      body: StrategyPlanRequest,
      reply: StrategyPlanReply,
      handle: async ({ body }) => {
        if (node.raft.status().role !== "leader") return notLeader(node);
        return { status: 200, body: planOf(node, body.strategy) };
      },
    }),
    route({
      method: "POST",
      path: "/v1/strategy",
      summary: "swap the committed strategy (with yes: true; without it, the plan only)",
      mutates: true,
      body: StrategyApplyRequest,
      reply: z.union([StrategyApplyReply, StrategyRefused]),
      handle: async ({ body }) => {
        if (node.raft.status().role !== "leader") return notLeader(node);
        const plan = planOf(node, body.strategy);
        const refusal = plan.refusals[0];
        if (refusal !== undefined) {
          return {
            status: 409,
            body: { error: `refused: ${refusal.rule}: ${refusal.message}`, rule: refusal.rule, plan },
          };
        }
        if (!body.yes) return { status: 200, body: { applied: false, plan } };
        const signature =
          body.operator_signature === undefined || body.operator_after === undefined
            ? undefined
            : { after: body.operator_after, signature: body.operator_signature };
        const outcome = await node.reconciler.proposeStrategy(body.strategy, signature);
        if (outcome.type === "refused") {
          if (outcome.rule === "not-leader") return notLeader(node);
          return {
            status: 409,
            body: { error: `refused: ${outcome.message}`, rule: outcome.rule, plan },
          };
        }
        return { status: 200, body: { applied: true, plan, index: outcome.index, term: outcome.term } };
      },
    }),
  ];
}

function planOf(node: FabricNode, strategy: FabricStrategy): z.infer<typeof StrategyPlanReply> {
  return planReply(
    planStrategyChange(
      node.reconciler.policyInputs(),
      node.applier.machine.strategy()?.strategy ?? null,
      strategy,
    ),
  );
}

function planReply(plan: StrategyPlan): z.infer<typeof StrategyPlanReply> {
  return StrategyPlanReply.parse(plan);
}

function notLeader(node: FabricNode) {
  return {
    status: 421,
    body: {
      error: "this node is not the leader; send mutations to the leader",
      leader: node.raft.status().leader,
    },
  };
}
