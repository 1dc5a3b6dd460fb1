// The master's book of replication chains (the copies of an upload passed on node to node after the
// first): for each upload, the chain it handed out, which members reported their copy, which were lost,
// and who waits for the chain to settle. Reports may arrive before the file is committed (the chain runs
// alongside the first node); they are kept and recorded with the file. Bounded, and every chain is forgotten past its deadline.

import { systemClock, type Clock } from '../../clock';
import { COMMITTED_CHAIN_REPORTS_MS, UPLOADS_PENDING_MAX } from '../../limits';
import { DfsError } from '../../wire/errors';

export interface Chain {
  blobId: string;
  userId: number;
  size: number;
  /** The node the client sends to. */
  first: string;
  /** The rest of the chain, in order. */
  members: readonly string[];
  /** Members that reported their copy, with the SHA-256 they reported. */
  stored: Map<string, string>;
  /** For each member that reported: its node's beat when the report arrived (NodeRegistry.stored). */
  reportBeats: Map<string, number | undefined>;
  /** Members that will not report: the chain broke at or before them. */
  lost: Set<string>;
  /** The file's SHA-256 once the first node's copy is committed. */
  committedSha256: string | undefined;
  forgetMs: number;
  /** 0 for an upload's chain; n for the master's n-th try to complete a broken one from an existing copy. */
  repairs: number;
  waiters: Set<() => void>;
}

/** Every member reported or was lost. */
export function isSettled(chain: Chain): boolean {
  return chain.members.every((member) => chain.stored.has(member) || chain.lost.has(member));
}

export class Chains {
  private readonly chains = new Map<string, Chain>();
  /** No chain is forgotten before this: most calls skip the walk over every chain. */
  private earliestForgetMs = Infinity;

  /** `abandoned` hears of chains forgotten before their file was committed (any copies are orphans); `lapsed` of
   * committed chains forgotten with members that never reported (the file lacks copies: the repairer's now). */
  constructor(
    private readonly abandoned: (chain: Chain) => void,
    private readonly clock: Clock = systemClock,
    private readonly lapsed: (chain: Chain) => void = () => undefined,
  ) {}

  begin(
    fields: Pick<Chain, 'blobId' | 'userId' | 'size' | 'first' | 'members' | 'forgetMs'> & Partial<Pick<Chain, 'repairs' | 'committedSha256'>>,
    nowMs: number,
  ): Chain {
    this.forgetExpired(nowMs);
    if (this.chains.size >= UPLOADS_PENDING_MAX) throw new DfsError('RATE_LIMITED', 'too many uploads in progress; retry shortly');
    if (this.chains.has(fields.blobId)) throw new Error(`replication: blob ${fields.blobId} has a chain already`);
    const chain: Chain = { committedSha256: undefined, repairs: 0, ...fields, stored: new Map(), reportBeats: new Map(), lost: new Set(), waiters: new Set() };
    this.chains.set(chain.blobId, chain);
    this.earliestForgetMs = Math.min(this.earliestForgetMs, chain.forgetMs);
    return chain;
  }

  /** Whether a chain of the blob is running, without expiring others (cheap: for a sweep over every file;
   * expire() once per page). */
  has(blobId: string): boolean {
    return this.chains.has(blobId);
  }

  expire(nowMs: number): void {
    this.forgetExpired(nowMs);
  }

  get(blobId: string, nowMs: number): Chain | undefined {
    this.forgetExpired(nowMs);
    return this.chains.get(blobId);
  }

  /** The chain is done with (settled after its commit, or failed): waiters are told, the chain is forgotten. */
  finish(chain: Chain): void {
    this.chains.delete(chain.blobId);
    wake(chain);
  }

  /** The chain's file is committed: its members have COMMITTED_CHAIN_REPORTS_MS to report (or hold it while
   * receiving), not the rest of the upload's ticket lifetime. */
  committed(chain: Chain, sha256: string, nowMs: number): void {
    chain.committedSha256 = sha256;
    chain.forgetMs = Math.min(chain.forgetMs, nowMs + COMMITTED_CHAIN_REPORTS_MS);
    this.earliestForgetMs = Math.min(this.earliestForgetMs, chain.forgetMs);
  }

  /** A node of the chain says it is receiving the blob's bytes: the chain is held until `untilMs`. */
  hold(blobId: string, nodeId: string, untilMs: number): void {
    const chain = this.chains.get(blobId);
    if (chain && (chain.first === nodeId || chain.members.includes(nodeId))) chain.forgetMs = Math.max(chain.forgetMs, untilMs);
  }

  /** Members from `nodeId` on are lost (those that already reported keep their copy). */
  breakAt(chain: Chain, nodeId: string): void {
    const index = chain.members.indexOf(nodeId);
    if (index < 0) throw new DfsError('BAD_REQUEST', `${nodeId} is not in the chain of blob ${chain.blobId}`);
    for (const member of chain.members.slice(index)) if (!chain.stored.has(member)) chain.lost.add(member);
  }

  /** Resolves when the chain is finished, or after `timeoutMs` (whichever is first). */
  waitFor(chain: Chain, timeoutMs: number): Promise<void> {
    if (!this.chains.has(chain.blobId)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        cancel();
        chain.waiters.delete(done);
        resolve();
      };
      const cancel = this.clock.after(timeoutMs, done);
      chain.waiters.add(done);
    });
  }

  /** Bytes promised to a node by chains still running (free space it will lose), but for the blobs in `counted` (its
   * own free space counts them already). */
  reservedOn(nodeId: string, counted: ReadonlySet<string> = new Set()): number {
    let bytes = 0;
    for (const chain of this.chains.values()) {
      if (chain.members.includes(nodeId) && !chain.stored.has(nodeId) && !chain.lost.has(nodeId) && !counted.has(chain.blobId)) bytes += chain.size;
    }
    return bytes;
  }

  private forgetExpired(nowMs: number): void {
    if (nowMs < this.earliestForgetMs) return;
    this.earliestForgetMs = Infinity;
    for (const chain of [...this.chains.values()]) {
      if (chain.forgetMs > nowMs) {
        this.earliestForgetMs = Math.min(this.earliestForgetMs, chain.forgetMs);
        continue;
      }
      this.finish(chain);
      if (chain.committedSha256 === undefined) this.abandoned(chain);
      else if (!isSettled(chain)) this.lapsed(chain);
    }
  }
}

function wake(chain: Chain): void {
  for (const waiter of [...chain.waiters]) waiter();
}
