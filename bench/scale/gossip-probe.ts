/**
 * Where gossip's bytes go at size N (development probe): all N start at once, then bytes per
 * node per second by message type, in 5 s windows, until `until` s of virtual time.
 * `node --import tsx bench/scale/gossip-probe.ts N [untilSeconds]`
 */
import { GossipCluster } from "../../packages/fabric-core/src/sim/gossip-cluster.js";

const size = Number(process.argv[2] ?? 500);
const untilS = Number(process.argv[3] ?? 40);
const cluster = new GossipCluster({
  size,
  seed: 17,
  advertise: true,
  faults: { dropRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 3 },
});
let window = new Map<string, { n: number; b: number; upd: number }>();
const send = cluster.network.send.bind(cluster.network);
cluster.network.send = ((
  from: string,
  to: string,
  packet: { bytes: Uint8Array },
  now: number,
  bytes: number,
) => {
  const text = Buffer.from(packet.bytes).toString("utf8");
  const type = /"type":"(\w+)"/.exec(text)?.[1] ?? "?";
  const e = window.get(type) ?? { n: 0, b: 0, upd: 0 };
  e.n += 1;
  e.b += bytes;
  e.upd += (text.match(/"kind":/g) ?? []).length;
  window.set(type, e);
  return send(from, to, packet as never, now, bytes);
}) as typeof cluster.network.send;
const t0 = performance.now();
cluster.start();
const stepS = 5;
for (let at = stepS; at <= untilS; at += stepS) {
  cluster.runFor(stepS * 1000);
  let total = 0;
  const parts: string[] = [];
  for (const [type, e] of [...window].sort((a, b) => b[1].b - a[1].b)) {
    total += e.b;
    parts.push(`${type} ${(e.b / size / stepS / 1000).toFixed(1)}K(${(e.upd / e.n).toFixed(1)}u)`);
  }
  console.log(
    `N=${size} t=${at - stepS}-${at}s total ${(total / size / stepS / 1000).toFixed(1)} KB/s/node | ${parts.join(" ")} | converged ${cluster.converged()} wall ${Math.round((performance.now() - t0) / 1000)}s`,
  );
  window = new Map();
}
