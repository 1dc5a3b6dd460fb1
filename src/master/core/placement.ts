// Where bytes go and where they are read from: pure functions of what the master knows about its
// nodes (no I/O, no clock), so every rule is tested directly: the first node of a write, the rest
// of its replication chain (by available storage), the order to try readers in.

export interface Candidate {
  nodeId: string;
  alive: boolean;
  /** The master holds an open link to it (it can be asked to prepare a read, or report a write). */
  connected: boolean;
  freeBytes: number;
  /** Bytes of uploads handed to this node and not yet reported stored: free space it will lose. */
  reservedBytes: number;
  activeTransfers: number;
  /** Shutting down, its disk read-only, or being drained: it serves what it holds, but takes no new blob. */
  closedToWrites?: boolean;
  /** Its advertised address cannot be reached: it takes no new blob, and is read from only when nothing else holds
   * the blob. */
  unreachable?: boolean;
}

function usable(candidate: Candidate): boolean {
  return candidate.alive && candidate.connected;
}

/** Alive, linked, reachable, and taking new blobs (not shutting down, its disk not read-only). */
export function writable(candidate: Candidate): boolean {
  return usable(candidate) && candidate.closedToWrites !== true && candidate.unreachable !== true;
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
    if (!writable(candidate) || availableBytes(candidate) < size) continue;
    if (best === undefined || writeOrder(candidate, best) < 0) best = candidate;
  }
  return best;
}

/**
 * The rest of a replication chain after `first`: up to `replicas` − 1 more nodes, alive and linked,
 * with room for `size` bytes, the most available storage first (ties as for the first node). Fewer
 * usable nodes than that gives a shorter chain, possibly empty; the chain never repeats a node.
 */
export function chooseChain(candidates: readonly Candidate[], first: string, replicas: number, size: number): Candidate[] {
  if (!Number.isSafeInteger(replicas) || replicas < 1) throw new Error(`placement: replicas ${replicas} is not a positive integer`);
  return chooseRepairTargets(candidates, new Set([first]), replicas - 1, size);
}

/**
 * The chain that completes a blob held by `holders`: up to `missing` nodes that do not hold it, chosen
 * as chooseChain chooses (alive, linked, room, most available storage first), each once.
 */
export function chooseRepairTargets(candidates: readonly Candidate[], holders: ReadonlySet<string>, missing: number, size: number): Candidate[] {
  if (missing <= 0) return [];
  const seen = new Set<string>(holders);
  const eligible: Candidate[] = [];
  for (const candidate of candidates) {
    if (seen.has(candidate.nodeId) || !writable(candidate) || availableBytes(candidate) < size) continue;
    seen.add(candidate.nodeId);
    eligible.push(candidate);
  }
  return eligible.sort(writeOrder).slice(0, missing);
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
    .sort((a, b) => Number(a.unreachable === true) - Number(b.unreachable === true) || a.activeTransfers - b.activeTransfers || availableBytes(b) - availableBytes(a) || a.nodeId.localeCompare(b.nodeId));
}
