/**
 * Fault injection for end-to-end tests: a process-wide partition, i.e. a set of peers whose
 * traffic this node drops in both directions (Raft frames by NodeId, gossip packets by
 * sender id and destination address). Off unless the process runs with
 * REVOADA_FAULT_INJECTION=1; the API's `/v1/debug/partition` sets it (token required).
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
