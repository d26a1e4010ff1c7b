/**
 * One gossip member as a process, for the multi-process tests and `pnpm bench gossip`.
 *
 *   node --conditions=source --import tsx packages/node/scripts/gossip-agent.ts \
 *     --port 0 --seeds 127.0.0.1:7946 --keys <hex>[,<hex>] [--identity <hex seed>] \
 *     [--generation N] [--cadence-ms 100] [--events]
 *
 * Prints one JSON line `{"type":"ready","id","address"}`, then answers stdin commands, one
 * JSON line each: `view`, `metrics`, `roles a,b` (advertise new roles), `leave` (leave and
 * exit). With `--events`, member status and state changes are printed as they happen with
 * the wall clock (`{"type":"event","wallMs",...}`), so a parent can time them across processes.
 */
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { GossipEvent } from "@revoada/fabric-core/gossip";
import {
  homelabStrategy,
  type NodeRole,
  type NodeState,
  signerFromSeed,
} from "@revoada/fabric-core/vocabulary";
import { GossipDriver } from "../src/gossip/gossip-driver.js";
import { Keyring } from "../src/gossip/keyring.js";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    seeds: { type: "string", default: "" },
    keys: { type: "string", default: process.env.REVOADA_GOSSIP_KEYS ?? "" },
    identity: { type: "string" },
    generation: { type: "string" },
    "cadence-ms": { type: "string" },
    events: { type: "boolean", default: false },
  },
});

function print(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const signer = signerFromSeed(
  values.identity === undefined ? randomBytes(32) : Buffer.from(values.identity, "hex"),
);
const generation = values.generation === undefined ? Date.now() : Number(values.generation);
const membership = {
  ...homelabStrategy.membership,
  ...(values["cadence-ms"] === undefined ? {} : { gossip_cadence_ms: Number(values["cadence-ms"]) }),
};
let roles: NodeRole[] = ["worker"];

const driver = await GossipDriver.start({
  signer,
  host: values.host,
  port: Number(values.port),
  keyring: Keyring.parse(values.keys),
  seeds: values.seeds.split(",").filter((seed) => seed.length > 0),
  membership,
  generation,
  onEvent: (event: GossipEvent) => {
    if (!values.events) return;
    if (event.type === "member-status" || event.type === "state-changed")
      print({ type: "event", wallMs: Date.now(), event });
  },
});

function nodeState(): NodeState {
  return {
    id: signer.nodeId,
    name: `agent-${process.pid}`,
    addresses: { gossip: driver.address },
    roles,
    capacity: { cpu_millis: 2000, memory_bytes: 2 ** 32, storage_bytes: 2 ** 36, pods: 110 },
    zone: "loopback",
    rack: "",
    labels: {},
    version: "0.1.0",
    generation,
  } as NodeState;
}

driver.setNodeState(nodeState());
print({ type: "ready", id: signer.nodeId, address: driver.address, pid: process.pid });

const input = createInterface({ input: process.stdin });
input.on("line", (line) => {
  const [command, argument] = line.trim().split(/\s+/, 2);
  switch (command) {
    case "view":
      print({
        type: "view",
        members: driver.membershipView().members.map((member) => ({
          id: member.id,
          status: member.status,
          generation: member.generation,
          incarnation: member.incarnation,
          phi: member.phi,
          roles: member.state?.roles ?? null,
        })),
      });
      return;
    case "metrics":
      print({ type: "metrics", ...driver.metrics() });
      return;
    case "roles":
      roles = (argument ?? "").split(",").filter((role) => role.length > 0) as NodeRole[];
      print({ type: "ok", accepted: driver.setNodeState(nodeState()) });
      return;
    case "leave":
      void driver.leave().then(() => process.exit(0));
      return;
    default:
      print({ type: "error", message: `unknown command ${command}` });
  }
});
input.on("close", () => {
  void driver.close().then(() => process.exit(0));
});
