/**
 * Fault injection for end-to-end tests: a process-wide partition, i.e. a set of peers whose
 * traffic this node drops in both directions (Raft frames by NodeId, gossip packets by
 * sender id and destination address), and etcd steps this node, as leader, holds back (so a
 * test can stop a procedure between two steps, e.g. after `member add`, before promote).
 * Off unless the process runs with REVOADA_FAULT_INJECTION=1; the API's
 * `/v1/debug/partition` and `/v1/debug/hold` set them (token required).
 */
export const faultInjectionEnabled = process.env.REVOADA_FAULT_INJECTION === "1";

const blockedPeers = new Set<string>();
const blockedAddresses = new Set<string>();

export function setPartition(peers: readonly string[], addresses: readonly string[]): void {
  if (!faultInjectionEnabled) return;
  blockedPeers.clear();
  blockedAddresses.clear();
  for (const peer of peers) blockedPeers.add(peer);
  for (const address of addresses) blockedAddresses.add(address);
}

export function isPeerBlocked(peer: string): boolean {
  return blockedPeers.size > 0 && blockedPeers.has(peer);
}

export function isAddressBlocked(address: string): boolean {
  return blockedAddresses.size > 0 && blockedAddresses.has(address);
}

export function partitionInEffect(): { peers: string[]; addresses: string[] } {
  return { peers: [...blockedPeers].sort(), addresses: [...blockedAddresses].sort() };
}

const heldEtcdSteps = new Set<string>();

export function holdEtcdSteps(kinds: readonly string[]): void {
  if (!faultInjectionEnabled) return;
  heldEtcdSteps.clear();
  for (const kind of kinds) heldEtcdSteps.add(kind);
}

export function isEtcdStepHeld(kind: string): boolean {
  return heldEtcdSteps.size > 0 && heldEtcdSteps.has(kind);
}

export function heldEtcdStepsInEffect(): string[] {
  return [...heldEtcdSteps].sort();
}
