// Where bytes go and where they are read from: pure functions of what the master knows about its
// nodes (no I/O, no clock), so every rule is tested directly. Chain replication will add
// chooseChain here (the first node plus N−1 more by available storage).

export interface Candidate {
  nodeId: string;
  alive: boolean;
  /** The master holds an open link to it (it can be asked to prepare a read, or report a write). */
  connected: boolean;
  freeBytes: number;
  /** Bytes of uploads handed to this node and not yet reported stored: free space it will lose. */
  reservedBytes: number;
  activeTransfers: number;
}

function usable(candidate: Candidate): boolean {
  return candidate.alive && candidate.connected;
}

/** What a node can still take once the uploads already sent its way land. */
export function availableBytes(candidate: Candidate): number {
  return Math.max(0, candidate.freeBytes - candidate.reservedBytes);
}

/**
 * The node for a new blob of `size` bytes: alive and linked, with room for it; the most available
 * storage first, then the fewest transfers, then the node id (so equal nodes are chosen the same way).
 */
export function chooseWriteNode(candidates: readonly Candidate[], size: number): Candidate | undefined {
  let best: Candidate | undefined;
  for (const candidate of candidates) {
    if (!usable(candidate) || availableBytes(candidate) < size) continue;
    if (best === undefined || writeOrder(candidate, best) < 0) best = candidate;
  }
  return best;
}

function writeOrder(a: Candidate, b: Candidate): number {
  return availableBytes(b) - availableBytes(a) || a.activeTransfers - b.activeTransfers || a.nodeId.localeCompare(b.nodeId);
}

/**
 * The nodes to ask, in order, to serve a read of a blob held (good) by `holders`: alive and linked
 * only; the fewest transfers first, then the most free space, then the node id.
 */
export function rankReadNodes(candidates: readonly Candidate[], holders: ReadonlySet<string>): Candidate[] {
  return candidates
    .filter((candidate) => usable(candidate) && holders.has(candidate.nodeId))
    .sort((a, b) => a.activeTransfers - b.activeTransfers || availableBytes(b) - availableBytes(a) || a.nodeId.localeCompare(b.nodeId));
}
