// Copies a reader blamed (file.get.bad): the master asks the node to re-hash each, at most once per copy in
// SUSPECT_RECHECK_MS, in a book of bounded size. A reader's word never marks a copy bad; only its node's re-hash
// does. No I/O: the handler asks `admit(now)` and sends node.blob.verify when it says yes.

export class SuspectCopies {
  /** When each copy asked about may be asked about again, in the order they were asked (so oldest first). */
  private readonly askedUntil = new Map<string, number>();

  constructor(
    private readonly recheckMs: number,
    private readonly max: number,
  ) {}

  /** Whether to ask `nodeId` to re-hash its copy of `blobId` now; if so, it is booked as asked. */
  admit(blobId: string, nodeId: string, nowMs: number): boolean {
    const key = `${blobId}@${nodeId}`;
    const until = this.askedUntil.get(key);
    if (until !== undefined && nowMs < until) return false;
    this.askedUntil.delete(key);
    this.forgetExpired(nowMs);
    if (this.askedUntil.size >= this.max) return false;
    this.askedUntil.set(key, nowMs + this.recheckMs);
    return true;
  }

  /** Copies booked now. */
  get size(): number {
    return this.askedUntil.size;
  }

  private forgetExpired(nowMs: number): void {
    // Booked in time order with one period: the expired ones are at the front.
    for (const [key, until] of this.askedUntil) {
      if (until > nowMs) return;
      this.askedUntil.delete(key);
    }
  }
}
