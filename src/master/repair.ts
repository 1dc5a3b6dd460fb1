// Self-healing: the master keeps every file at N good copies on live nodes.
// A sweep over the catalog — a page at a time, yielding between pages — finds blobs with too few live
// good copies, copied again fewest-first from a live copy down a chain of nodes chosen by available
// storage, at most REPAIR_STREAMS_PER_NODE copies per node (as source or target) and REPAIR_STREAMS_MAX
// in all, so a recovery never starves users' transfers; blobs with too many (a dead node came back)
// are trimmed, and damaged copies deleted once enough good ones exist (on nodes that reported). Nodes report what they hold after
// every registration; the catalog is reconciled with it. After a start the master is in safe mode
// (core/safe-mode.ts) until every node that holds copies has reported (or SAFE_MODE_MAX_MS passed): no copy is judged
// missing before its node had its say, so a restart never causes a replication storm.
//
// The log tells the story once, not per blob (each copy is a debug line): safe mode starting and ending, a node found
// dead or back, how many blobs a repair has to copy, its progress every REPAIR_PROGRESS_LOG_MS, and its outcome.

import { CHAIN_REPAIRS_MAX, REPAIR_CHECK_MS, REPAIR_PROGRESS_LOG_MS, REPAIR_QUEUE_MAX, REPAIR_STREAMS_MAX, REPAIR_STREAMS_PER_NODE, REPAIR_SWEEP_INTERVAL_MS, REPAIR_SWEEP_PAGE, REPLICAS_MAX, REQUEST_TIMEOUT_MS, SAFE_MODE_MAX_MS } from '../limits';
import type { Incoming, Reply } from '../wire/channel';
import { DfsError } from '../wire/errors';
import type { ReplicaState } from './catalog/catalog';
import { chooseRepairTargets, type Candidate } from './core/placement';
import { planFile } from './core/repair-plan';
import { SafeMode } from './core/safe-mode';
import { requireNode, type MasterState, type RepairService, type RepairStatus } from './state';
import { candidates, replicateFrom, scheduleDeletions } from './transfers';

interface Work {
  blobId: string;
  owner: number;
  size: number;
  sha256: string;
  liveGood: string[];
  /** Every node with any record of the blob: never a target. */
  recorded: Set<string>;
  /** Copies to make. */
  missing: number;
}

export class Repairer implements RepairService {
  private cancelTimer: (() => void) | undefined;
  private sweeping = false;
  private stopped = false;
  private dirty = true;
  private lastSweepMs = 0;
  private lastLive = '';
  private readonly streams = new Map<string, number>();
  private copying = 0;
  private readonly startedMs: number;
  /** Safe mode after the start: the nodes holding copies then that have not reported yet, and its limit. */
  private readonly safeMode: SafeMode;
  /** Nodes whose report since their last registration is in: only their copies are trusted to trim others. */
  private readonly reported = new Set<string>();
  /** Reports in progress, per node: the blobs listed so far, and the copies recorded there when the node
   * registered (a copy recorded later is not judged by this report). */
  private readonly reports = new Map<string, { held: Set<string>; mismatched: Set<string>; recorded: Map<string, ReplicaState> }>();
  /** Nodes seen alive, and those logged dead (so their return is logged too). */
  private readonly seenAlive = new Set<string>();
  private readonly loggedDead = new Set<string>();
  /** Orphans reported within the orphan grace after start (blobId \0 nodeId): not deleted until it is over. */
  private readonly heldOrphans = new Set<string>();
  /** Cancels the end of the orphan grace. */
  private graceTimer: (() => void) | undefined;
  private found = { underReplicated: 0, missing: 0 };
  /** Nodes being drained when the last whole sweep began, and those of them some file still needed then. */
  private drainSwept = new Set<string>();
  private drainNeeded = new Set<string>();
  /** The repair under way, from the sweep that found blobs to copy until the last copy ended. */
  private round: { startedMs: number; blobs: number; made: number; failed: number; loggedMs: number } | undefined;

  /** `stateOf`: the master's state (which holds this repairer); `awaited`: the nodes holding copies at the start. */
  constructor(
    private readonly stateOf: () => MasterState,
    awaited: readonly string[],
    startedMs: number,
    /** At least the node timeout: a node is not judged before it could have been declared dead. */
    safeModeMs = SAFE_MODE_MAX_MS,
    /** How long after start orphans are kept (ORPHAN_GRACE_S_DEFAULT). */
    private readonly orphanGraceMs = 0,
  ) {
    this.startedMs = startedMs;
    this.safeMode = new SafeMode(awaited, startedMs, safeModeMs);
  }

  private get state(): MasterState {
    return this.stateOf();
  }

  start(): void {
    if (this.safeMode.active(this.state.now())) {
      this.state.log.info(`safe mode: nothing is copied or deleted until the ${this.safeMode.waitingFor} node(s) holding copies have reported their blobs (at most ${Math.round(this.safeMode.limitMs / 1000)} s)`);
    }
    const check = (): void => {
      if (this.stopped) return;
      this.cancelTimer = this.state.clock.after(REPAIR_CHECK_MS, check);
      void this.tick();
    };
    this.cancelTimer = this.state.clock.after(REPAIR_CHECK_MS, check);
  }

  stop(): void {
    this.stopped = true;
    this.graceTimer?.();
    this.cancelTimer?.();
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Something changed (a node died, came back or lost a copy): look again at the next check. */
  poke(): void {
    this.dirty = true;
  }

  /** Whether this copy is an orphan kept for the grace after start. */
  holdsOrphan(blobId: string, nodeId: string): boolean {
    return this.heldOrphans.has(`${blobId}\0${nodeId}`);
  }

  /** A node (re-)registered: its report starts afresh, and until it is in, its copies are not trusted for trimming. */
  registered(nodeId: string): void {
    // What is recorded now was stored on the node before it lists its blobs (a node stores, then reports):
    // a copy missing from its list is truly gone. Copies recorded later are not judged by this report.
    this.reports.set(nodeId, { held: new Set<string>(), mismatched: new Set<string>(), recorded: this.state.catalog.replicasOn(nodeId) });
    this.reported.delete(nodeId);
  }

  /** A node being drained that no file needed at the last whole sweep (begun after its drain): it can be stopped. */
  drained(nodeId: string): boolean {
    return this.drainSwept.has(nodeId) && !this.drainNeeded.has(nodeId);
  }

  status(): RepairStatus {
    return { safeMode: this.safeMode.active(this.state.now()), copying: this.copying, ...this.found };
  }

  /** A page of a node's report of the blobs it holds; on the last one, the catalog is reconciled with it. */
  async report(request: Incoming<'node.blob.report'>): Promise<Reply<'node.blob.report'>> {
    const nodeId = requireNode(request);
    const report = this.reports.get(nodeId) ?? { held: new Set<string>(), mismatched: new Set<string>(), recorded: this.state.catalog.replicasOn(nodeId) };
    this.reports.set(nodeId, report);
    // Each copy is checked against its file: other bytes than the file's (by size or hash) make it bad.
    const files = this.state.catalog.blobFiles(request.data.blobs.map((blob) => blob.blobId));
    for (const blob of request.data.blobs) {
      const file = files.get(blob.blobId);
      if (file && (file.size !== blob.size || file.sha256 !== blob.sha256)) report.mismatched.add(blob.blobId);
      else report.held.add(blob.blobId);
    }
    if (!request.data.last) return { data: {} };
    this.reports.delete(nodeId);
    await this.reconcile(nodeId, report.held, report.recorded, report.mismatched);
    this.safeMode.reported(nodeId);
    this.reported.add(nodeId);
    this.poke();
    return { data: {} };
  }

  /**
   * What the catalog records on a node against what the node holds: a copy the node no longer has is
   * forgotten; one the catalog did not know is recorded good if a file still needs its blob, else to be
   * deleted (an orphan: its upload or file went away while the node was out of reach); one whose size or
   * hash is not its file's is bad.
   */
  private async reconcile(nodeId: string, held: ReadonlySet<string>, recorded: ReadonlyMap<string, ReplicaState>, mismatched: ReadonlySet<string>): Promise<void> {
    const { catalog, log } = this.state;
    const lost: { blobId: string; nodeId: string; state: ReplicaState | null }[] = [];
    for (const blobId of recorded.keys()) if (!held.has(blobId) && !mismatched.has(blobId)) lost.push({ blobId, nodeId, state: null });
    // A copy whose size or hash is not its file's is damaged: replaced, then deleted, like any bad copy.
    for (const blobId of mismatched) lost.push({ blobId, nodeId, state: 'bad' });
    let orphans = 0;
    let found = 0;
    const now = catalog.replicasOn(nodeId); // recorded since the report began count as known too
    const graceLeftMs = this.startedMs + this.orphanGraceMs - this.state.now();
    for (const blobId of held) {
      if (recorded.has(blobId) || now.has(blobId) || this.state.chains.has(blobId)) continue; // known, or its chain is still reporting
      // Held before it is written: a deletion pass may run while the write is awaited.
      const key = `${blobId}\0${nodeId}`;
      if (graceLeftMs > 0) this.heldOrphans.add(key);
      if ((await catalog.addReplica(blobId, nodeId)) === 'deleting') orphans++;
      else {
        found++;
        this.heldOrphans.delete(key);
      }
    }
    await catalog.changeReplicas(lost);
    const goodLost = lost.filter((change) => change.state === null && recorded.get(change.blobId) === 'good').length;
    if (goodLost + orphans + found + mismatched.size > 0) {
      const wrong = mismatched.size > 0 ? `, ${mismatched.size} with other bytes than their file's` : '';
      log.info(`node ${nodeId} reported ${held.size + mismatched.size} blob(s): ${goodLost} recorded copies are gone, ${found} copies found, ${orphans} orphans to delete${wrong}`);
    }
    if (orphans > 0 && graceLeftMs > 0 && !this.graceTimer) {
      log.info(`orphans reported within ${Math.round(this.orphanGraceMs / 1000)} s of the master's start are kept until then (a catalog restored from a backup may not know newer files)`);
      this.graceTimer = this.state.clock.after(graceLeftMs, () => {
        this.heldOrphans.clear();
        scheduleDeletions(this.state);
      });
    }
    if (orphans > 0) scheduleDeletions(this.state);
  }

  private async tick(): Promise<void> {
    const nowMs = this.state.now();
    const nodes = candidates(this.state, nowMs);
    this.logLiveness(nodes);
    if (this.safeMode.active(nowMs)) return;
    const ended = this.safeMode.end(nowMs);
    if (ended) {
      this.state.log.info(ended.late.length === 0 ? 'safe mode over: every node holding copies has reported' : `safe mode over after ${Math.round(ended.afterMs / 1000)} s without a report from ${ended.late.join(', ')}: their copies count as missing`);
    }
    this.logProgress(nowMs);
    if (this.sweeping) return;
    const live = liveNodes(nodes).join(' ');
    if (live !== this.lastLive) this.dirty = true; // a node died or came back
    if (!this.dirty && nowMs - this.lastSweepMs < REPAIR_SWEEP_INTERVAL_MS) return;
    this.lastLive = live;
    this.sweeping = true;
    this.dirty = false;
    this.lastSweepMs = nowMs;
    try {
      await this.sweep();
    } catch (error) {
      this.state.log.warn(`repair sweep: ${DfsError.wrap(error).message}`);
      this.dirty = true;
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * One pass over every file: deletions and trims at once; copies collected (at most REPAIR_QUEUE_MAX, by
   * fewest live copies) and made after the pass. A file with nowhere to copy to is left to the next change
   * in the live nodes (or the periodic sweep), not swept for again and again.
   */
  private async sweep(): Promise<void> {
    const { state } = this;
    const want = state.replicas;
    const nodes = candidates(state, state.now());
    // A copy counts while its node is alive (heard from within the node timeout), linked or not: a link
    // that drops for a moment must not start copies. Deleting a copy needs more: good copies on linked
    // nodes whose report since their registration is in (an unreported node's records may be stale).
    const live = new Set(liveNodes(nodes));
    const trusted = new Set(nodes.filter((node) => node.alive && node.connected && this.reported.has(node.nodeId)).map((node) => node.nodeId));
    const draining = new Set(state.nodes.list().filter((node) => node.drain).map((node) => node.nodeId));
    const view = { want, nodes, live, trusted, draining };
    // A node being drained is needed while a file with a copy there lacks copies elsewhere (or is being written).
    const drainNeeded = new Set<string>();
    const needs = (replicas: readonly { nodeId: string }[]): void => {
      for (const { nodeId } of replicas) if (draining.has(nodeId)) drainNeeded.add(nodeId);
    };
    // By copies that count, fewest first (setrep may ask up to REPLICAS_MAX).
    const byLive: Work[][] = Array.from({ length: REPLICAS_MAX }, () => []);
    let queued = 0;
    let afterId = 0;
    const found = { underReplicated: 0, missing: 0 };
    for (;;) {
      const page = state.catalog.filesAfter(afterId, REPAIR_SWEEP_PAGE);
      const last = page[page.length - 1];
      if (!last) break;
      afterId = last.id;
      state.chains.expire(state.now());
      const copies = state.catalog.replicasOfBlobs(page.map((file) => file.blobId));
      const wants = state.catalog.wantsOf(page.map((file) => file.blobId));
      const changes: { blobId: string; nodeId: string; state: ReplicaState | null }[] = [];
      for (const file of page) {
        const replicas = copies.get(file.blobId) ?? [];
        if (state.chains.has(file.blobId) || state.rebalancer.isMoving(file.blobId)) {
          needs(replicas);
          continue; // an upload or a copy is running
        }
        const fileWant = wants.get(file.blobId) ?? want;
        const { verdict, delete: doomed } = planFile(file, replicas, fileWant === want ? view : { ...view, want: fileWant });
        if (verdict.kind !== 'ok') needs(replicas);
        for (const nodeId of doomed) changes.push({ blobId: file.blobId, nodeId, state: 'deleting' });
        if (verdict.kind === 'stuck' || verdict.kind === 'copy') found.underReplicated++;
        if (verdict.kind === 'stuck' && verdict.liveGood === 0) found.missing++;
        if (verdict.kind !== 'copy') continue;
        if (queued >= REPAIR_QUEUE_MAX) {
          this.dirty = true; // the queue is full: the next sweep takes the rest
          continue;
        }
        byLive[fileWant - verdict.missing]?.push({ blobId: file.blobId, owner: file.owner, size: file.size, sha256: file.sha256, liveGood: verdict.liveGood, recorded: verdict.recorded, missing: verdict.missing });
        queued++;
      }
      if (changes.length > 0) {
        await state.catalog.changeReplicas(changes);
        state.log.info(`repair: ${changes.length} damaged or surplus copies to delete`);
        scheduleDeletions(state);
      }
      await new Promise<void>((resolve) => state.clock.after(0, resolve)); // other work runs between pages
    }
    this.found = found;
    this.drainSwept = draining;
    this.drainNeeded = drainNeeded;
    if (queued > 0 && !this.round) {
      const lastCopy = byLive[1]?.length ?? 0;
      this.round = { startedMs: state.now(), blobs: queued, made: 0, failed: 0, loggedMs: state.now() };
      state.log.info(`repair: ${queued} blob(s) lack copies${lastCopy > 0 ? ` (${lastCopy} with a single live copy left)` : ''}; copying, at most ${REPAIR_STREAMS_MAX} at a time`);
    } else if (this.round) this.round.blobs = Math.max(this.round.blobs, this.round.made + this.round.failed + queued);
    for (const works of byLive) for (const work of works) if (!this.stopped) await this.copy(work);
  }

  private logLiveness(nodes: readonly Candidate[]): void {
    const { log, nodes: registry } = this.state;
    for (const node of nodes) {
      if (node.alive) {
        if (this.loggedDead.delete(node.nodeId)) log.info(`node ${node.nodeId} is alive again`);
        this.seenAlive.add(node.nodeId);
      } else if (this.seenAlive.delete(node.nodeId)) {
        this.loggedDead.add(node.nodeId);
        log.warn(`node ${node.nodeId} is dead: not heard from in ${Math.round(registry.nodeTimeoutMs / 1000)} s; the copies it held are made again on other nodes`);
      }
    }
  }

  /** Every REPAIR_PROGRESS_LOG_MS while copies are made, and once when the last one ended. */
  private logProgress(nowMs: number): void {
    const round = this.round;
    if (!round) return;
    const seconds = Math.round((nowMs - round.startedMs) / 1000);
    if (this.copying === 0 && !this.sweeping && !this.dirty) {
      this.round = undefined;
      this.state.log.info(`repair: done in ${seconds} s: ${round.made} copies made${round.failed > 0 ? `, ${round.failed} failed (tried again at the next sweep)` : ''}`);
    } else if (nowMs - round.loggedMs >= REPAIR_PROGRESS_LOG_MS) {
      round.loggedMs = nowMs;
      this.state.log.info(`repair: ${round.made} copies made of ${round.blobs} blob(s) lacking some, ${this.copying} under way (${seconds} s)`);
    }
  }

  /** Waits for free streams, then starts copying the blob to as many nodes as it lacks (not waiting for it). */
  private async copy(work: Work): Promise<void> {
    const { state } = this;
    let source: Candidate | undefined;
    let targets: Candidate[] = [];
    for (;;) {
      while (this.copying >= REPAIR_STREAMS_MAX) await this.aStreamEnds();
      const nodes = candidates(state, state.now()).filter((node) => (this.streams.get(node.nodeId) ?? 0) < REPAIR_STREAMS_PER_NODE);
      source = nodes.filter((node) => work.liveGood.includes(node.nodeId) && node.alive && node.connected).sort(bySpareStreams(this.streams))[0];
      targets = chooseRepairTargets(nodes, work.recorded, work.missing, work.size);
      if (source && targets.length > 0) break;
      // The nodes it needs are busy copying: wait for one of those copies to end, then look again.
      if (this.copying > 0 && !this.stopped) await this.aStreamEnds();
      else break;
    }
    if (!source || targets.length === 0 || state.chains.has(work.blobId)) return; // the next change in the nodes brings a sweep
    const members = targets.map((target) => target.nodeId);
    let chain;
    try {
      // As many tries as a broken upload chain gets already: a copy that fails is the next sweep's.
      chain = replicateFrom(state, { blobId: work.blobId, userId: work.owner, size: work.size, sha256: work.sha256 }, source.nodeId, members, CHAIN_REPAIRS_MAX);
    } catch (error) {
      this.dirty = true;
      state.log.warn(`repair of blob ${work.blobId}: ${DfsError.wrap(error).message}`);
      return;
    }
    const busy = [source.nodeId, ...members];
    for (const nodeId of busy) this.streams.set(nodeId, (this.streams.get(nodeId) ?? 0) + 1);
    this.copying++;
    void state.chains.waitFor(chain, chain.forgetMs - state.now() + REQUEST_TIMEOUT_MS).then(() => {
      for (const nodeId of busy) this.streams.set(nodeId, (this.streams.get(nodeId) ?? 1) - 1);
      this.copying--;
      if (this.round) {
        this.round.made += chain.stored.size;
        this.round.failed += chain.members.length - chain.stored.size;
      }
      this.dirty = true; // lost members to retry, or damaged copies now safe to delete
      this.wakeOne();
    });
  }

  private waiting: (() => void)[] = [];

  private aStreamEnds(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private wakeOne(): void {
    this.waiting.shift()?.();
  }
}

function liveNodes(nodes: readonly Candidate[]): string[] {
  return nodes.filter((node) => node.alive).map((node) => node.nodeId);
}

function bySpareStreams(streams: ReadonlyMap<string, number>): (a: Candidate, b: Candidate) => number {
  return (a, b) => (streams.get(a.nodeId) ?? 0) - (streams.get(b.nodeId) ?? 0) || a.activeTransfers - b.activeTransfers || a.nodeId.localeCompare(b.nodeId);
}
