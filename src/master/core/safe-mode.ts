// The master's safe mode after a start (HDFS's name): until every node that holds copies has reported its blobs,
// or the longest wait has passed, nothing is copied or deleted — a copy not yet reported is not a lost copy.
// No I/O: the repairer asks `active(now)` before each sweep and logs what `end(now)` tells once it is over.

export class SafeMode {
  private readonly awaited: Set<string>;
  /** Whether it began (some node was awaited) and has not yet been said to end. */
  private pending: boolean;

  /** `awaited`: the nodes the catalog records copies on; `maxMs`: at least the node timeout, so no node is judged
   * before it could have been declared dead. */
  constructor(awaited: Iterable<string>, private readonly startedMs: number, private readonly maxMs: number) {
    this.awaited = new Set(awaited);
    this.pending = this.active(startedMs);
  }

  /** The node's report of its blobs is in. */
  reported(nodeId: string): void {
    this.awaited.delete(nodeId);
  }

  /** Nodes still awaited. */
  get waitingFor(): number {
    return this.awaited.size;
  }

  /** How long it lasts at most, from the start. */
  get limitMs(): number {
    return this.maxMs;
  }

  active(nowMs: number): boolean {
    // Both only shrink as time passes: once inactive, it stays so.
    return this.awaited.size > 0 && nowMs - this.startedMs < this.maxMs;
  }

  /**
   * How it ended — after how long, and which nodes never reported (their copies now count as missing) — the first
   * time it is asked once safe mode is over; undefined while it lasts, afterwards, and if it never began.
   */
  end(nowMs: number): { afterMs: number; late: string[] } | undefined {
    if (!this.pending || this.active(nowMs)) return undefined;
    this.pending = false;
    return { afterMs: nowMs - this.startedMs, late: [...this.awaited].sort() };
  }
}
