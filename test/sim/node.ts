// A simulated storage node, faithful to the real node's protocol (src/node): it registers after every
// (re)connect, reports what it holds, heartbeats its space and the blobs it is receiving, stores a blob before
// reporting it (so what it reported survives its crash), forwards down the chain while it receives, tells the
// master where a chain broke, refuses blobs it has no room for, and reports damaged copies it scrubs or is asked to re-hash (node.blob.verify).

import { BLOB_REPORT_BATCH_MAX, FULL_REPORT_INTERVAL_MS, HEARTBEAT_INTERVAL_MS, UNCONFIRMED_REPORT_DELAY_MS, RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from '../../src/limits';
import { DfsError, isDfsError } from '../../src/wire/errors';
import type { MessageType, RequestOf, ResponseOf, ServedBy } from '../../src/wire/messages';
import type { Clock } from '../../src/clock';
import { Conn, type SimLink } from './network';
import type { World } from './world';

/** A blob in this node's store: `sha256` is what its index says; `corrupt` that its bytes no longer match; `lost`
 * that its file went from the disk behind the store's back (the index still lists it until a restart). */
export interface Held {
  size: number;
  sha256: string;
  corrupt: boolean;
  lost: boolean;
  /** The master was told of the damage or loss (by a read or the scrub). */
  reported: boolean;
}

/** The bytes of a transfer in flight: the sender's crash or failure aborts it for the receiver. */
export interface Upstream {
  aborted: boolean;
}

type ChainLink = RequestOf<'blob.replicate'>['chain'][number];
type NodeRequest = { [K in ServedBy<'node'>]: { type: K; data: RequestOf<K> } }[ServedBy<'node'>];

/** Bytes per virtual second a node receives or sends. */
const TRANSFER_BYTES_PER_S = 50 * 1024 * 1024;
const SCRUB_INTERVAL_MS = 60_000;

/** Resolves after `ms` on `clock`; never, if the clock's owner crashes first (its timers die with it). */
function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}

export class SimNode {
  up = false;
  epoch = 0;
  readonly blobs = new Map<string, Held>();
  /** Bytes other programs took on this disk (the full-disk fault). */
  filler = 0;
  private reserved = 0;
  private readonly receiving = new Set<string>();
  private activeTransfers = 0;
  private conn: Conn | undefined;
  private link: SimLink | undefined;
  private registered = false;
  private cancelReport: (() => void) | undefined;
  private reportDueMs = 0;
  private reporting: Promise<void> | undefined;
  private reconnectDelayMs = RECONNECT_DELAY_MS_MIN;
  private clock: Clock & { cancelAll(): void };
  /** Connections serving requests now, and transfers this node is sending: a crash breaks them all. */
  private readonly serving = new Set<Conn>();
  private readonly sending = new Set<Upstream>();
  /** Blobs the scrub found gone from the disk whose loss the master has not heard of yet. */
  private readonly missing = new Set<string>();

  constructor(
    private readonly world: World,
    readonly id: string,
    readonly address: string,
    readonly capacityBytes: number,
  ) {
    this.clock = world.clock.scope();
  }

  get usedBytes(): number {
    let used = this.filler;
    for (const blob of this.blobs.values()) used += blob.size;
    return used;
  }

  get freeBytes(): number {
    return Math.max(0, this.capacityBytes - this.usedBytes - this.reserved);
  }

  start(): void {
    for (const [blobId, held] of this.blobs) if (held.lost) this.blobs.delete(blobId); // the index is rebuilt from the disk
    this.up = true;
    this.epoch++;
    this.reconnectDelayMs = RECONNECT_DELAY_MS_MIN;
    this.clock.after(this.world.prng.int(0, 500), () => void this.connect());
    this.scheduleScrub();
  }

  crash(): void {
    this.up = false;
    this.epoch++;
    this.clock.cancelAll();
    this.registered = false;
    this.cancelReport = undefined;
    this.reporting = undefined;
    this.conn?.close();
    this.conn = undefined;
    for (const conn of [...this.serving]) conn.close();
    this.serving.clear();
    for (const upstream of this.sending) upstream.aborted = true;
    this.sending.clear();
    this.receiving.clear();
    this.activeTransfers = 0;
    this.reserved = 0;
  }

  /** The master's link to this node dropped (a reset): the node reconnects. */
  resetMasterLink(): void {
    this.conn?.close();
  }

  // ---- The link to the master

  private async connect(): Promise<void> {
    if (!this.up) return;
    const epoch = this.epoch;
    const conn = new Conn();
    const link = this.world.connectToMaster(this.id, conn, { kind: 'node', nodeId: this.id }, (type, data) => this.serveMaster({ type, data } as NodeRequest));
    if (!link) return this.retryLater();
    this.conn = conn;
    this.link = link;
    conn.onClose.add(() => this.lost(conn, epoch));
    try {
      const answer = await this.toMaster('node.register', { advertise: this.address, version: 'sim', ...this.space(), readOnly: false }, true);
      this.alive(epoch);
      this.registered = true;
      this.reconnectDelayMs = RECONNECT_DELAY_MS_MIN;
      const beat = (): void => {
        if (this.conn !== conn || !conn.open) return;
        this.clock.after(answer.heartbeatIntervalMs, beat);
        void this.heartbeat(conn);
      };
      this.clock.after(Math.min(answer.heartbeatIntervalMs, HEARTBEAT_INTERVAL_MS * 10), beat);
      await this.reportBlobs();
    } catch {
      if (this.epoch === epoch) conn.close();
    }
  }

  private lost(conn: Conn, epoch: number): void {
    if (this.epoch !== epoch || this.conn !== conn) return;
    this.conn = undefined;
    this.registered = false;
    this.retryLater();
  }

  private retryLater(): void {
    if (!this.up) return;
    this.clock.after(this.reconnectDelayMs, () => void this.connect());
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, RECONNECT_DELAY_MS_MAX);
  }

  /** As the real node: a blob kept after an unanswered report makes the node list everything again shortly;
   * besides, it does every FULL_REPORT_INTERVAL_MS. */
  private reportAgainSoon(): void {
    this.reportIn(UNCONFIRMED_REPORT_DELAY_MS);
  }

  private reportIn(delayMs: number): void {
    const dueMs = this.clock.now() + delayMs;
    if (this.cancelReport && this.reportDueMs <= dueMs) return;
    this.cancelReport?.();
    this.reportDueMs = dueMs;
    this.cancelReport = this.clock.after(delayMs, () => {
      this.cancelReport = undefined;
      if (this.registered) void this.reportBlobs().catch(() => undefined);
    });
  }

  private async reportBlobs(): Promise<void> {
    this.reportIn(FULL_REPORT_INTERVAL_MS);
    while (this.reporting) await this.reporting.catch(() => undefined);
    const report = this.sendReport();
    this.reporting = report;
    try {
      await report;
    } finally {
      if (this.reporting === report) this.reporting = undefined;
    }
  }

  private async sendReport(): Promise<void> {
    const all = [...this.blobs].map(([blobId, held]) => ({ blobId, size: held.size, sha256: held.sha256 }));
    const pages = Math.max(1, Math.ceil(all.length / BLOB_REPORT_BATCH_MAX));
    for (let page = 0; page < pages; page++) {
      const blobs = all.slice(page * BLOB_REPORT_BATCH_MAX, (page + 1) * BLOB_REPORT_BATCH_MAX);
      await this.toMaster('node.blob.report', { blobs, last: page === pages - 1 });
    }
  }

  private async heartbeat(conn: Conn): Promise<void> {
    try {
      await this.toMaster('node.heartbeat', { ...this.space(), readOnly: false, activeTransfers: this.activeTransfers, receiving: [...this.receiving] });
    } catch (error) {
      if (isDfsError(error, 'NOT_FOUND')) conn.close(); // the master forgot us: reconnect
    }
  }

  private space(): { capacityBytes: number; usedBytes: number; freeBytes: number; blobs: number } {
    return { capacityBytes: this.capacityBytes, usedBytes: this.usedBytes, freeBytes: this.freeBytes, blobs: this.blobs.size };
  }

  /** A request to the master over the registered link; UNAVAILABLE while there is none. */
  toMaster<T extends MessageType>(type: T, data: RequestOf<T>, registering = false): Promise<ResponseOf<T>> {
    const conn = this.conn;
    const link = this.link;
    if (!this.up || !conn || !conn.open || !link || (!this.registered && !registering)) return Promise.reject(new DfsError('UNAVAILABLE', 'no link to the master right now'));
    return this.world.network.call(this.id, 'master', conn, () => this.world.masterServe(link, type, data));
  }

  private alive(epoch: number): void {
    if (this.epoch !== epoch || !this.up) throw new DfsError('UNAVAILABLE', `${this.id} crashed`);
  }

  // ---- Requests to this node

  /** A request from a client or another node, over a connection of its own that this node's crash breaks. */
  call<T>(from: string, serve: (node: SimNode) => Promise<T>, timeoutMs?: number): Promise<T> {
    const conn = new Conn();
    if (!this.up) conn.close();
    else this.serving.add(conn);
    conn.onClose.add(() => this.serving.delete(conn));
    const done = (): void => {
      this.serving.delete(conn);
    };
    const answer = this.world.network.call(from, this.id, conn, () => {
      if (!this.up) return Promise.reject(new DfsError('UNAVAILABLE', `${this.id} is down`));
      return serve(this);
    }, timeoutMs);
    answer.then(done, done);
    return answer;
  }

  private serveMaster(request: NodeRequest): Promise<unknown> {
    switch (request.type) {
      case 'node.replicate':
        return this.replicate(request.data);
      case 'node.copy':
        return this.copy(request.data);
      case 'node.prepare.get':
        return this.prepareGet(request.data.blobId);
      case 'node.blob.delete':
        return this.deleteBlobs(request.data.blobIds);
      case 'node.blob.verify':
        return this.verify(request.data.blobId);
      default:
        return Promise.reject(new DfsError('BAD_REQUEST', `${request.type} is not sent by the master`));
    }
  }

  /** Upload steps 3-4 (and 6): room first, the bytes stored while forwarded down the chain, then reported. */
  async receive(
    kind: 'node.blob.stored' | 'node.replica.stored',
    blob: { blobId: string; size: number; content: string },
    chain: readonly ChainLink[],
    upstream: Upstream,
  ): Promise<{ size: number; sha256: string }> {
    const epoch = this.epoch;
    const { blobId, size, content } = blob;
    const existing = this.blobs.get(blobId);
    if (kind === 'node.replica.stored' && existing && existing.size === size) return this.receiveHeld(blob, existing, chain, upstream);
    if (existing || this.receiving.has(blobId)) throw new DfsError('EXISTS', `blob ${blobId} exists (blobs are immutable)`);
    if (this.freeBytes < size) throw new DfsError('NO_SPACE', `${this.id} has ${this.freeBytes} bytes free, not ${size}`);
    this.reserved += size;
    this.receiving.add(blobId);
    this.activeTransfers++;
    const forward = this.forward(blob, chain);
    try {
      await sleep(this.clock, this.transferMs(size));
      this.alive(epoch);
      if (upstream.aborted) throw new DfsError('UNAVAILABLE', 'upstream failed mid-transfer');
      this.blobs.set(blobId, { size, sha256: content, corrupt: false, lost: false, reported: false });
      this.world.note(`${this.id} stored ${blobId}`);
    } catch (error) {
      forward.aborted = true;
      throw error;
    } finally {
      if (this.epoch === epoch) {
        this.reserved -= size;
        this.receiving.delete(blobId);
        this.activeTransfers--;
      }
    }
    await this.report(kind, { blobId, size, sha256: content }, epoch);
    return { size, sha256: content };
  }

  /**
   * A copy of a blob this node holds already (a repair of a copy whose report went unanswered): the bytes are
   * read and compared with the held copy; the same, the held copy is reported as this member's (the members
   * after this one get nothing: the master hears the chain broke there). Other bytes: EXISTS, as before.
   */
  private async receiveHeld(blob: { blobId: string; size: number; content: string }, held: Held, chain: readonly ChainLink[], upstream: Upstream): Promise<{ size: number; sha256: string }> {
    const epoch = this.epoch;
    const { blobId, size, content } = blob;
    await sleep(this.clock, this.transferMs(size));
    this.alive(epoch);
    if (upstream.aborted) throw new DfsError('UNAVAILABLE', 'upstream failed mid-transfer');
    if (held.sha256 !== content || held.corrupt) throw new DfsError('EXISTS', `blob ${blobId} exists here with other bytes`);
    const [next] = chain;
    if (next) void this.toMaster('node.replication.broken', { blobId, nodeId: next.nodeId, message: `${this.id} held the blob already and did not forward it` }).catch(() => undefined);
    // A refusal leaves the held copy alone: it was here before this transfer, and the master decides its fate.
    const { refused } = await this.toMaster('node.replica.stored', { blobs: [{ blobId, size, sha256: held.sha256 }] });
    if (refused.length > 0) throw new DfsError('CORRUPT', `the master refused the copy of ${blobId} held here`);
    return { size, sha256: held.sha256 };
  }

  /** The master commits before the sender hears of success; a refusal removes the copy, a lost answer keeps it.
   * A chain member's copy the master refuses (other bytes than the file's) is removed, and the member answers. */
  private async report(kind: 'node.blob.stored' | 'node.replica.stored', blob: { blobId: string; size: number; sha256: string }, epoch: number): Promise<void> {
    try {
      if (kind === 'node.replica.stored') {
        const { refused } = await this.toMaster(kind, { blobs: [blob] });
        this.alive(epoch);
        if (refused.includes(blob.blobId)) this.blobs.delete(blob.blobId);
      } else {
        await this.toMaster(kind, { blobs: [blob] });
      }
    } catch (error) {
      this.alive(epoch);
      this.world.note(`${this.id} ${kind} ${blob.blobId}: ${DfsError.wrap(error).message}`);
      if (isDfsError(error, 'UNAVAILABLE') || isDfsError(error, 'TIMEOUT')) {
        this.reportAgainSoon();
        throw new DfsError('UNAVAILABLE', `the master did not confirm: ${DfsError.wrap(error).message}`);
      }
      this.blobs.delete(blob.blobId);
      throw error;
    }
  }

  /** The bytes on their way to the next member (started now, in parallel with our own copy). */
  private forward(blob: { blobId: string; size: number; content: string }, chain: readonly ChainLink[]): Upstream {
    const upstream: Upstream = { aborted: false };
    const [next, ...rest] = chain;
    if (!next) return upstream;
    this.sending.add(upstream);
    const epoch = this.epoch;
    const target = this.world.node(next.nodeId);
    void target
      .call(this.id, (node) => node.receive('node.replica.stored', blob, rest, upstream), this.world.transferTimeoutMs(blob.size))
      .catch((error: unknown) => {
        if (upstream.aborted || this.epoch !== epoch) return; // our own copy failed first
        upstream.aborted = true;
        void this.toMaster('node.replication.broken', { blobId: blob.blobId, nodeId: next.nodeId, message: DfsError.wrap(error).message.slice(0, 1024) }).catch(() => undefined);
      })
      .finally(() => this.sending.delete(upstream));
    return upstream;
  }

  /** A held blob as read for sending: missing or damaged ones are reported to the master. */
  private read(blobId: string, size?: number): Held {
    const held = this.blobs.get(blobId);
    if (!held || held.lost) {
      if (held) held.reported = true;
      void this.toMaster('node.blob.error', { blobId, problem: 'missing', message: `${blobId} is not on ${this.id}` }).catch(() => undefined);
      throw new DfsError('NOT_FOUND', `blob ${blobId} is not on ${this.id}`);
    }
    if (size !== undefined && held.size !== size) throw new DfsError('CORRUPT', `blob ${blobId} holds ${held.size} bytes here, not ${size}`);
    return held;
  }

  private damaged(blobId: string, held: Held): DfsError {
    this.toMaster('node.blob.error', { blobId, problem: 'corrupt', message: `blob ${blobId} on ${this.id} fails its hash` }).then(
      () => (held.reported = true),
      () => undefined,
    );
    return new DfsError('CORRUPT', `blob ${blobId} on ${this.id} fails its hash`);
  }

  /** Repair (node.replicate): this node's copy, checked as read, down a new chain; answered when the first stored it. */
  private async replicate(data: RequestOf<'node.replicate'>): Promise<ResponseOf<'node.replicate'>> {
    const { blobId, size, chain } = data;
    const [next, ...rest] = chain;
    if (!next) throw new DfsError('BAD_REQUEST', 'an empty chain');
    const held = this.read(blobId, size);
    const upstream: Upstream = { aborted: held.corrupt };
    this.sending.add(upstream);
    this.activeTransfers++;
    const epoch = this.epoch;
    try {
      const sent = this.world.node(next.nodeId).call(this.id, (node) => node.receive('node.replica.stored', { blobId, size, content: held.sha256 }, rest, upstream), this.world.transferTimeoutMs(size));
      if (held.corrupt) {
        sent.catch(() => undefined);
        await sleep(this.clock, this.transferMs(size));
        throw this.damaged(blobId, held);
      }
      await sent;
      return {};
    } finally {
      this.sending.delete(upstream);
      if (this.epoch === epoch) this.activeTransfers--;
    }
  }

  /** fs.copy (node.copy): a held blob stored again under a new id, forwarded and reported like an upload. */
  private async copy(data: RequestOf<'node.copy'>): Promise<ResponseOf<'node.copy'>> {
    const { sourceBlobId, blobId, size, chain } = data;
    const held = this.read(sourceBlobId, size);
    if (held.corrupt) {
      await sleep(this.clock, this.transferMs(size));
      throw this.damaged(sourceBlobId, held);
    }
    return this.receive('node.blob.stored', { blobId, size, content: held.sha256 }, chain, { aborted: false });
  }

  private async prepareGet(blobId: string): Promise<ResponseOf<'node.prepare.get'>> {
    const held = this.blobs.get(blobId);
    if (!held) throw new DfsError('NOT_FOUND', `blob ${blobId} is not on ${this.id}`);
    return { address: this.address, ticket: 'sim', size: held.size, sha256: held.sha256 };
  }

  /** Download step 5: the bytes as they are on disk (the reader checks them; a damaged copy sends other bytes). */
  async serveRead(blobId: string): Promise<{ size: number; content: string }> {
    const held = this.read(blobId);
    const epoch = this.epoch;
    await sleep(this.clock, this.transferMs(held.size));
    this.alive(epoch);
    return { size: held.size, content: held.corrupt ? `damaged ${held.sha256}` : held.sha256 };
  }

  /** node.blob.verify: a reader blamed this copy; the scrubber re-hashes it soon and reports it if damaged. */
  private verify(blobId: string): Promise<Record<string, never>> {
    const held = this.blobs.get(blobId);
    if (!held) return Promise.reject(new DfsError('NOT_FOUND', `blob ${blobId} is not on ${this.id}`));
    const epoch = this.epoch;
    this.clock.after(this.transferMs(held.size), () => {
      if (this.epoch === epoch && this.blobs.get(blobId) === held && held.corrupt && !held.reported) this.damaged(blobId, held);
    });
    return Promise.resolve({});
  }

  private async deleteBlobs(blobIds: readonly string[]): Promise<ResponseOf<'node.blob.delete'>> {
    let removed = 0;
    for (const blobId of blobIds) {
      const held = this.blobs.get(blobId);
      if (!held) continue;
      this.world.checkDeletion(this, blobId, held);
      this.world.note(`${this.id} deleted ${blobId}`);
      this.blobs.delete(blobId);
      removed++;
    }
    return { removed };
  }

  // ---- Faults and upkeep

  private scheduleScrub(): void {
    this.clock.after(SCRUB_INTERVAL_MS + this.world.prng.int(0, SCRUB_INTERVAL_MS), () => {
      for (const [blobId, held] of this.blobs) {
        if (held.lost) {
          // As the real scrubber: the vanished blob leaves the index, and the master is told (again until it heard).
          this.blobs.delete(blobId);
          this.missing.add(blobId);
        } else if (held.corrupt && !held.reported) this.damaged(blobId, held);
      }
      for (const blobId of this.missing) {
        if (this.blobs.has(blobId)) this.missing.delete(blobId); // stored anew since
        else this.toMaster('node.blob.error', { blobId, problem: 'missing', message: `found by the scrub: ${blobId} is gone from the disk` }).then(() => this.missing.delete(blobId), () => undefined);
      }
      this.scheduleScrub();
    });
  }

  private transferMs(bytes: number): number {
    return 1 + Math.ceil((bytes / TRANSFER_BYTES_PER_S) * 1000);
  }
}
