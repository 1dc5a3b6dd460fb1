// What the repairer decides about one file, as a pure function of the file, its recorded copies and the
// nodes: copy it again (from which live copies, never onto a node with any record of it), delete damaged or
// surplus copies, or leave it. No I/O and no clock: the sweep (src/master/repair.ts) feeds it a page at a time and
// carries the decisions out; the unit tests call it directly.

import { DAMAGED_DELETE_AFTER_GOOD } from '../../limits';
import type { Replica } from '../catalog/catalog';
import { availableBytes, chooseRepairTargets, type Candidate } from './placement';

/** The nodes as the sweep sees them. */
export interface RepairView {
  /** The replication factor. */
  want: number;
  nodes: readonly Candidate[];
  /** Heard from within the node timeout: their copies count, linked or not (a link that drops for a moment
   * must not start copies). */
  live: ReadonlySet<string>;
  /** Live, linked, and their report since their last registration is in: only their copies may justify
   * deleting another (an unreported node's records may be stale). */
  trusted: ReadonlySet<string>;
  /** Being drained: their copies are read and copied from, but do not count toward `want`, justify no deletion,
   * and are never deleted as surplus (they go when the node is forgotten). */
  draining?: ReadonlySet<string>;
}

export type FileVerdict =
  /** Copy it to `missing` more nodes, from one of `liveGood`; `recorded` are never targets. */
  | { kind: 'copy'; liveGood: string[]; recorded: Set<string>; missing: number }
  /** Too few copies and nowhere to put another (or no live copy to copy from): left for a change in the nodes. */
  | { kind: 'stuck'; liveGood: number }
  | { kind: 'ok' };

export interface FilePlan {
  verdict: FileVerdict;
  /** Copies to delete: damaged ones once enough trusted good ones exist, and surplus ones. */
  delete: string[];
}

export function planFile(file: { blobId: string; size: number }, replicas: readonly Replica[], view: RepairView): FilePlan {
  const { want, nodes, live, trusted, draining = new Set<string>() } = view;
  const good = replicas.filter((replica) => replica.state === 'good');
  const liveGood = good.filter((replica) => live.has(replica.nodeId)).map((replica) => replica.nodeId);
  const counted = liveGood.filter((nodeId) => !draining.has(nodeId));
  const trustedGood = good.filter((replica) => trusted.has(replica.nodeId) && !draining.has(replica.nodeId)).map((replica) => replica.nodeId);
  const toDelete: string[] = [];
  // A damaged copy goes once enough trusted good ones exist: its node can then take a new copy.
  if (trustedGood.length >= Math.min(want, DAMAGED_DELETE_AFTER_GOOD)) {
    for (const replica of replicas) if (replica.state === 'bad') toDelete.push(replica.nodeId);
  }
  if (counted.length < want) {
    // None live: nothing to copy from until a holder comes back (fsck shows it missing).
    if (liveGood.length === 0) return { verdict: { kind: 'stuck', liveGood: 0 }, delete: toDelete };
    const recorded = new Set(replicas.map((replica) => replica.nodeId));
    const missing = want - counted.length;
    if (chooseRepairTargets(nodes, recorded, missing, file.size).length === 0) return { verdict: { kind: 'stuck', liveGood: liveGood.length }, delete: toDelete };
    return { verdict: { kind: 'copy', liveGood, recorded, missing }, delete: toDelete };
  }
  // Surplus: only when every counted live holder is trusted, and only among those.
  if (trustedGood.length === counted.length) toDelete.push(...surplus(trustedGood, want, nodes));
  return { verdict: { kind: 'ok' }, delete: toDelete };
}

/** Live good copies beyond `want`: those on the nodes with the least room go first. */
function surplus(liveGood: readonly string[], want: number, nodes: readonly Candidate[]): string[] {
  if (liveGood.length <= want) return [];
  const room = new Map(nodes.map((node) => [node.nodeId, availableBytes(node)]));
  return [...liveGood].sort((a, b) => (room.get(a) ?? 0) - (room.get(b) ?? 0) || a.localeCompare(b)).slice(0, liveGood.length - want);
}
