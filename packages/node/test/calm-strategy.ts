import { type FabricStrategy, homelabStrategy } from "@revoada/fabric-core/vocabulary";

/**
 * The founding strategy of the strategy tests' 3-node meshes: homelab's, with timeouts that
 * ride out a loaded CI machine (the mesh shares two cores with other tests), so the shape
 * holds still while a test reads plans and timings. T = 600 ms (heartbeat 100 ms), gossip
 * every 100 ms, rounds every 1.5 s.
 */
export const calmStrategy: FabricStrategy = {
  ...homelabStrategy,
  name: "calm-3node",
  consensus: { kind: { ...homelabStrategy.consensus.kind, election_timeout_ms: 600 } },
  membership: { phi_threshold: 12, gossip_cadence_ms: 100, failure_detector_timeout_ms: 1000 },
  reconciliation: { millis: 1500 },
};
