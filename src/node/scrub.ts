// A node's background scrub: walks the blobs it holds one after another,
// re-hashing each at a bounded rate (BlobStore.verify paces itself and stops on an AbortSignal), and tells
// the master of each damaged one (node.blob.error, problem 'corrupt') once — not again on later passes
// unless the blob is stored anew; then rests an interval and starts over. A blob the store removed meanwhile
// is skipped; one the store still holds whose file is gone from the disk (deleted behind its back) is
// reported 'missing' the same way, so the master copies it again instead of counting a copy that is not there. A report the master did not get is sent again (while resting and before the next pass),
// never lost and never repeated once delivered. Beside the passes it re-hashes, one at a time at the same rate, the
// blobs a reader found wrong (node.blob.verify: nodes send what they hold without hashing it; the reader hashes).

import { setTimeout as delay } from 'node:timers/promises';
import { RECONNECT_DELAY_MS_MAX, SCRUB_BYTES_PER_S_DEFAULT, SCRUB_INTERVAL_S_DEFAULT, SCRUB_SUSPECTS_MAX } from '../limits';
import type { Log } from '../log';
import { DfsError, isDfsError } from '../wire/errors';
import type { BlobInfo, BlobStore } from '../store/blobs';
import { formatSize } from '../units';
import type { NodeContext } from './transfers';

export interface ScrubSettings {
  /** Bytes re-hashed a second (--scrub-rate); 0 turns the passes off (suspects are still re-hashed, at the default rate). */
  bytesPerSecond: number;
  /** Rest between the end of one pass and the start of the next (--scrub-interval). */
  intervalMs: number;
}

export const SCRUB_DEFAULTS: ScrubSettings = Object.freeze({
  bytesPerSecond: SCRUB_BYTES_PER_S_DEFAULT,
  intervalMs: SCRUB_INTERVAL_S_DEFAULT * 1000,
});

/** What the scrubber needs of the blob store. */
export type ScrubbedStore = Pick<BlobStore, 'list' | 'info' | 'verify' | 'remove'>;

export interface ScrubberParts extends ScrubSettings {
  /** Whether it walks over every blob (--scrub-rate above 0); without, it re-hashes only the suspects. */
  passes?: boolean;
  store: ScrubbedStore;
  /** Tells the master of a damaged or missing blob: resolves once the master has it, rejects if it was not told. */
  report(blobId: string, problem: Damage['problem'], message: string): Promise<void>;
  log: Log;
}

/** What one pass did, blob by blob. */
export interface ScrubPass {
  /** Re-hashed to the end and found whole. */
  good: number;
  /** Re-hashed and found damaged now (reported, or queued for the master if it could not be told). */
  damaged: number;
  /** Found damaged on an earlier pass and unchanged since: not re-hashed, not reported again. */
  known: number;
  /** Removed before or while being re-hashed: skipped. */
  removed: number;
  /** Could not be read for another reason (logged): tried again next pass. */
  failed: number;
  /** Bytes re-hashed to the end. */
  bytes: number;
  /** The scrubber stopped before the pass reached its last blob. */
  stopped: boolean;
}

export interface Damage {
  /** The record the blob was held under when found damaged: a blob stored anew is a new record. */
  info: BlobInfo;
  problem: 'corrupt' | 'missing';
  message: string;
}

type Outcome = Exclude<keyof ScrubPass, 'bytes' | 'stopped'> | 'stopped';

export class Scrubber {
  private readonly stopping = new AbortController();
  /** Damaged blobs the master has been told of. */
  private readonly reported = new Map<string, Damage>();
  /** Damaged blobs the master could not be told of yet. */
  private readonly unreported = new Map<string, Damage>();
  private running: Promise<void> | undefined;
  /** Blobs a reader found wrong (suspect()), re-hashed one at a time beside the passes, oldest first. */
  private readonly suspects = new Set<string>();
  /** Ends the suspect loop's wait for one. */
  private wakeSuspects: (() => void) | undefined;

  constructor(private readonly parts: ScrubberParts) {
    if (!(parts.bytesPerSecond > 0) || !(parts.intervalMs > 0)) throw new Error('scrub: the rate and the interval must be positive');
  }

  /** Passes, rests between them, and re-hashes suspects as they come, until stop(). */
  start(): void {
    this.running ??= Promise.all([this.parts.passes === false ? undefined : this.loop(), this.suspectLoop()]).then(() => undefined);
  }

  /** Ends the pass or rest in progress (a re-hash stops between two chunks) and resolves once it has. */
  async stop(): Promise<void> {
    this.stopping.abort(new DfsError('UNAVAILABLE', 'the node is stopping'));
    this.wakeSuspects?.();
    await this.running;
  }

  /** A reader found this blob's bytes wrong: it is re-hashed soon, beside any pass, and reported if damaged. False
   * (nothing queued) when SCRUB_SUSPECTS_MAX wait already. */
  suspect(id: string): boolean {
    if (!this.suspects.has(id) && this.suspects.size >= SCRUB_SUSPECTS_MAX) return false;
    this.suspects.add(id);
    this.wakeSuspects?.();
    return true;
  }

  /** One walk over the blobs held when it starts. Exposed for tests; start() runs them. */
  async pass(): Promise<ScrubPass> {
    const summary: ScrubPass = { good: 0, damaged: 0, known: 0, removed: 0, failed: 0, bytes: 0, stopped: false };
    this.forgetReplaced();
    await this.sendUnreported();
    const ids = Array.from(this.parts.store.list(), (info) => info.id);
    for (const id of ids) {
      const size = this.parts.store.info(id)?.size ?? 0;
      const outcome = this.stopping.signal.aborted ? 'stopped' : await this.check(id);
      if (outcome === 'stopped') {
        summary.stopped = true;
        break;
      }
      summary[outcome]++;
      if (outcome === 'good' || outcome === 'damaged') summary.bytes += size;
    }
    return summary;
  }

  private async loop(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      const startedMs = performance.now();
      const summary = await this.pass();
      if (summary.good + summary.damaged > 0) {
        const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
        this.parts.log.info(`scrub: re-hashed ${summary.good + summary.damaged} blob(s), ${formatSize(summary.bytes)} in ${seconds} s: ${summary.damaged} damaged${summary.stopped ? ' (stopped)' : ''}`);
      }
      await this.rest(signal);
    }
  }

  private async suspectLoop(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      const [id] = this.suspects;
      if (id === undefined) {
        await new Promise<void>((resolve) => (this.wakeSuspects = resolve));
        this.wakeSuspects = undefined;
        continue;
      }
      const outcome = await this.check(id);
      this.suspects.delete(id);
      if (outcome === 'good') this.parts.log.info(`scrub: blob ${id}, which a reader found wrong, is whole here`);
    }
  }

  /** Re-hashes one blob at the set rate; a damaged one is reported unless it already was. */
  private async check(id: string): Promise<Outcome> {
    const { store, bytesPerSecond, log } = this.parts;
    const { signal } = this.stopping;
    const info = store.info(id);
    if (info === undefined) return 'removed';
    if (this.reported.get(id)?.info === info || this.unreported.get(id)?.info === info) return 'known';
    let problem: string | undefined;
    let kind: Damage['problem'] = 'corrupt';
    try {
      const whole = await store.verify(id, { bytesPerSecond, signal });
      if (!whole) problem = `its bytes no longer match its size (${info.size}) and SHA-256 (${info.sha256})`;
    } catch (error) {
      if (signal.aborted) return 'stopped';
      if (isDfsError(error, 'NOT_FOUND')) {
        // Still held by the store: its file went from the disk behind the store's back.
        if (store.info(id) !== info) return 'removed';
        kind = 'missing';
        problem = 'its file is gone from the disk';
      } else if ((error as NodeJS.ErrnoException).code === 'EIO') {
        problem = `the disk cannot read it: ${error instanceof Error ? error.message : String(error)}`;
      } else {
        log.warn(`scrub: blob ${id}: ${error instanceof Error ? error.message : String(error)}; tried again next pass`);
        return 'failed';
      }
    }
    // Removed (or removed and stored anew) while being read: what was read is no longer held.
    if (store.info(id) !== info) return 'removed';
    if (problem === undefined) return 'good';
    log.warn(`scrub: blob ${id} is damaged: ${problem}`);
    // A vanished blob leaves the store's index too, so the node's next report of its blobs does not list it.
    if (kind === 'missing') await store.remove(id);
    this.unreported.set(id, { info, problem: kind, message: `found by the scrub: ${problem}` });
    await this.sendUnreported();
    return 'damaged';
  }

  /** Tells the master of every damaged blob it has not heard of; what it could not be told waits for the next try. */
  private async sendUnreported(): Promise<void> {
    for (const [id, damage] of this.unreported) {
      if (this.stopping.signal.aborted) return;
      if (!stillSo(this.parts.store, id, damage)) {
        this.unreported.delete(id); // removed (or stored anew) since: nothing to tell
        continue;
      }
      try {
        await this.parts.report(id, damage.problem, damage.message);
      } catch (error) {
        if (!this.stopping.signal.aborted) {
          this.parts.log.warn(`scrub: could not tell the master about damaged blob ${id} (${DfsError.wrap(error).message}); trying again later`);
        }
        return;
      }
      this.unreported.delete(id);
      this.reported.set(id, damage);
    }
  }

  /** Blobs removed (or stored anew) since they were found damaged are no longer what was reported. */
  private forgetReplaced(): void {
    for (const damaged of [this.reported, this.unreported]) {
      for (const [id, damage] of damaged) if (!stillSo(this.parts.store, id, damage)) damaged.delete(id);
    }
  }

  /** The interval between passes, in slices: after each, reports the master missed are tried again. */
  private async rest(signal: AbortSignal): Promise<void> {
    const untilMs = performance.now() + this.parts.intervalMs;
    for (let leftMs = this.parts.intervalMs; leftMs > 0 && !signal.aborted; leftMs = untilMs - performance.now()) {
      await delay(Math.min(leftMs, RECONNECT_DELAY_MS_MAX), undefined, { signal }).catch(() => undefined);
      if (this.unreported.size > 0) await this.sendUnreported();
    }
  }
}

/** The node's scrubber, started, reporting over its link to the master. With the rate 0 (scrubbing off) it makes no
 * passes and re-hashes only the blobs readers found wrong, at the default rate. */
export function startScrubbing(context: Pick<NodeContext, 'store' | 'log' | 'master'>, settings: ScrubSettings): Scrubber {
  const passes = settings.bytesPerSecond > 0;
  const scrubber = new Scrubber({
    ...settings,
    ...(passes ? {} : { bytesPerSecond: SCRUB_BYTES_PER_S_DEFAULT, passes }),
    store: context.store,
    log: context.log,
    report: async (blobId, problem, message) => {
      await context.master().request('node.blob.error', { blobId, problem, message: message.slice(0, 1024) });
    },
  });
  scrubber.start();
  if (!passes) {
    context.log.info('scrubbing is off (--scrub-rate 0): only blobs a reader found wrong are re-hashed');
    return scrubber;
  }
  context.log.info(`scrubbing blobs at ${formatSize(settings.bytesPerSecond)}/s, resting ${settings.intervalMs / 1000} s between passes`);
  return scrubber;
}

/** Whether a damage found still describes what the store holds: a damaged blob still held under the same record,
 * a missing one (which the scrub took out of the index) not stored anew since. */
function stillSo(store: ScrubbedStore, id: string, damage: Damage): boolean {
  const info = store.info(id);
  return damage.problem === 'missing' ? info === undefined : info === damage.info;
}
