// The master's view of its storage nodes: who registered, what space they report, when they were
// last heard from. Liveness is derived from time, never stored, so it cannot go stale.

import type { Link } from '../../wire/channel';

export interface NodeSpace {
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
  blobs: number;
}

export interface NodeRecord extends NodeSpace {
  nodeId: string;
  advertise: string;
  activeTransfers: number;
  lastSeenMs: number;
  channel: Link | undefined;
  /** It said it is shutting down (node.leaving): no new blobs until it registers again. */
  stopping: boolean;
  /** The admin drains it (decommission): no new blobs, and its copies do not count toward a file's replicas, so
   * every file it holds gets its full count elsewhere; it still serves reads. Kept in the catalog. */
  drain: boolean;
  /** Its disk refuses writes (EROFS), as its last heartbeat said: no new blobs until one says otherwise. */
  readOnly: boolean;
  /** Which registration or heartbeat its space figures come from (see stored()); 0 for a node known from the
   * catalog that has not registered since the master started (dead until it does). */
  beat: number;
  /** The blobs it was receiving at its last heartbeat: its free space counts them taken already, so the bookings
   * for them are not subtracted again (placement would see a nearly full node as full). */
  receiving: ReadonlySet<string>;
  /** Its advertised address could not be reached (a client or member said so, and the master's own probe failed):
   * no new blobs go there, and it is read from last, until a probe reaches it. */
  unreachable: boolean;
}

export type NodeState = 'alive' | 'dead';

export class NodeRegistry {
  private readonly nodes = new Map<string, NodeRecord>();
  /** Nodes the admin forgot: their certificates are no longer accepted. */
  private readonly forgotten = new Set<string>();
  /** Numbers every registration and heartbeat, of every node. */
  private beats = 0;

  /** How long a silent node stays alive; a reload (SIGHUP) may change it. */
  constructor(public nodeTimeoutMs: number) {}

  register(nodeId: string, advertise: string, space: NodeSpace & { readOnly?: boolean | undefined }, channel: Link, nowMs: number): NodeRecord {
    const previous = this.nodes.get(nodeId);
    // A node that reconnects replaces its old connection; the old one is closed so it can't linger.
    if (previous?.channel && previous.channel !== channel) previous.channel.close();
    // Still unreachable if it comes back at the same address; a new address is tried afresh.
    const unreachable = previous?.unreachable === true && previous.advertise === advertise;
    const record: NodeRecord = { nodeId, advertise, ...space, readOnly: space.readOnly === true, activeTransfers: 0, lastSeenMs: nowMs, channel, stopping: false, drain: previous?.drain === true, beat: ++this.beats, receiving: new Set<string>(), unreachable };
    this.nodes.set(nodeId, record);
    return record;
  }

  /** Nodes known from the catalog at start-up: listed (dead, with their drain flag) until they register. */
  restore(known: readonly { nodeId: string; advertise: string; registeredMs: number; drain: boolean; forgotten: boolean }[]): void {
    for (const node of known) {
      if (node.forgotten) this.forgotten.add(node.nodeId);
      if (node.forgotten || this.nodes.has(node.nodeId)) continue;
      this.nodes.set(node.nodeId, {
        nodeId: node.nodeId,
        advertise: node.advertise,
        capacityBytes: 0,
        usedBytes: 0,
        freeBytes: 0,
        blobs: 0,
        activeTransfers: 0,
        lastSeenMs: node.registeredMs,
        channel: undefined,
        stopping: false,
        drain: node.drain,
        readOnly: false,
        beat: 0,
        receiving: new Set<string>(),
        unreachable: false,
      });
    }
  }

  /** The admin drains the node, or stops draining it. */
  setDrain(nodeId: string, drain: boolean): void {
    const record = this.nodes.get(nodeId);
    if (record) record.drain = drain;
  }

  /** A forgotten node is no longer listed, and its link is closed. */
  forget(nodeId: string): void {
    this.forgotten.add(nodeId);
    this.nodes.get(nodeId)?.channel?.close();
    this.nodes.delete(nodeId);
  }

  isForgotten(nodeId: string): boolean {
    return this.forgotten.has(nodeId);
  }

  heartbeat(nodeId: string, space: NodeSpace & { activeTransfers: number; readOnly?: boolean | undefined; receiving?: readonly string[] | undefined }, channel: Link, nowMs: number): boolean {
    const record = this.nodes.get(nodeId);
    if (!record || record.channel !== channel) return false;
    const { capacityBytes, usedBytes, freeBytes, blobs, activeTransfers } = space;
    Object.assign(record, { capacityBytes, usedBytes, freeBytes, blobs, activeTransfers, readOnly: space.readOnly === true, lastSeenMs: nowMs, beat: ++this.beats, receiving: new Set(space.receiving ?? []) });
    return true;
  }

  /** The registration or heartbeat the node's space figures now come from: a report of a stored blob notes it
   * when it arrives. */
  beatOf(nodeId: string): number | undefined {
    return this.nodes.get(nodeId)?.beat;
  }

  /** A blob of `bytes` was stored there: its free space shrinks now, not at the next heartbeat (placement
   * would otherwise count those bytes free twice) — unless a heartbeat came after the report arrived
   * (`sinceBeat`, from beatOf then): the node sent it after storing the blob, so its figures count it already. If
   * that heartbeat named the blob as being received, its free space counted the blob's space taken already. */
  stored(nodeId: string, blobId: string, bytes: number, sinceBeat: number | undefined): void {
    const record = this.nodes.get(nodeId);
    if (!record || record.beat !== sinceBeat) return;
    if (!record.receiving.has(blobId)) record.freeBytes = Math.max(0, record.freeBytes - bytes);
    record.usedBytes += bytes;
  }

  /** The node's link closed; true if it was its current one (not one a re-registration already replaced). */
  disconnected(nodeId: string, channel: Link): boolean {
    const record = this.nodes.get(nodeId);
    if (record?.channel !== channel) return false;
    record.channel = undefined;
    return true;
  }

  get(nodeId: string): NodeRecord | undefined {
    return this.nodes.get(nodeId);
  }

  stateOf(record: NodeRecord, nowMs: number): NodeState {
    return record.beat > 0 && nowMs - record.lastSeenMs <= this.nodeTimeoutMs ? 'alive' : 'dead';
  }

  list(): NodeRecord[] {
    return [...this.nodes.values()].sort((a, b) => a.advertise.localeCompare(b.advertise));
  }
}
