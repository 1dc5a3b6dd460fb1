// Which nodes hold too much or too little of the cluster's data, as a pure function of their figures (the HDFS
// balancer's rule): a node is over-used when its used fraction is more than `threshold` above the cluster's
// mean, under-used when more than `threshold` below it. Bytes move from over-used nodes (or, when none is, from
// those above the mean) to under-used ones (or to those below the mean), never past the mean.

export interface BalanceNode {
  nodeId: string;
  capacityBytes: number;
  usedBytes: number;
}

/** One pair to move bytes between, and at most how many (so neither passes the mean). */
export interface BalancePair {
  from: string;
  to: string;
  bytes: number;
}

/** The cluster's mean used fraction. */
export function meanUse(nodes: readonly BalanceNode[]): number {
  const capacity = nodes.reduce((sum, node) => sum + node.capacityBytes, 0);
  return capacity === 0 ? 0 : nodes.reduce((sum, node) => sum + node.usedBytes, 0) / capacity;
}

function use(node: BalanceNode): number {
  return node.capacityBytes === 0 ? 0 : node.usedBytes / node.capacityBytes;
}

/** Whether every node is within `threshold` (a fraction, 0.1 for 10%) of the mean. */
export function balanced(nodes: readonly BalanceNode[], threshold: number): boolean {
  const mean = meanUse(nodes);
  return nodes.every((node) => Math.abs(use(node) - mean) <= threshold);
}

/**
 * The moves to make, most lopsided pair first: each over-used node (or one above the mean, for an under-used one)
 * gives to each under-used node (or one below the mean, for an over-used one) as many bytes as keeps both on their
 * side of the mean. Empty when the nodes are balanced.
 */
export function balancePairs(nodes: readonly BalanceNode[], threshold: number): BalancePair[] {
  const mean = meanUse(nodes);
  const surplus = new Map(nodes.map((node) => [node.nodeId, node.usedBytes - mean * node.capacityBytes]));
  const givers = nodes.filter((node) => use(node) > mean).sort((a, b) => use(b) - use(a) || a.nodeId.localeCompare(b.nodeId));
  const takers = nodes.filter((node) => use(node) < mean).sort((a, b) => use(a) - use(b) || a.nodeId.localeCompare(b.nodeId));
  const pairs: BalancePair[] = [];
  for (const giver of givers) {
    for (const taker of takers) {
      if (use(giver) - mean <= threshold && mean - use(taker) <= threshold) continue; // both near the mean already
      const bytes = Math.floor(Math.min(surplus.get(giver.nodeId) ?? 0, -(surplus.get(taker.nodeId) ?? 0)));
      if (bytes <= 0) continue;
      pairs.push({ from: giver.nodeId, to: taker.nodeId, bytes });
      surplus.set(giver.nodeId, (surplus.get(giver.nodeId) ?? 0) - bytes);
      surplus.set(taker.nodeId, (surplus.get(taker.nodeId) ?? 0) + bytes);
    }
  }
  return pairs;
}
