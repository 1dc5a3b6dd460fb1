// The simulated network: requests and answers each take a latency drawn from the seed, partitions swallow
// messages (the sender waits for its timeout), connections close (pending requests fail at once), and a
// crashed process refuses new connections. Bytes are not moved: a blob's content is named by its SHA-256.

import { REQUEST_TIMEOUT_MS } from '../../src/limits';
import type { Link, OutgoingBody, Peer, Response } from '../../src/wire/channel';
import { DfsError } from '../../src/wire/errors';
import type { MessageType, RequestOf, ResponseOf } from '../../src/wire/messages';
import type { SimClock } from './clock';
import type { Prng } from './prng';

/** One connection: closing it fails every request waiting on it. */
export class Conn {
  open = true;
  readonly onClose = new Set<() => void>();

  close(): void {
    if (!this.open) return;
    this.open = false;
    for (const listener of [...this.onClose]) listener();
    this.onClose.clear();
  }
}

export class SimNetwork {
  private readonly cuts = new Set<string>();
  /** Until then every message may take up to `slowMs` (a congested or flapping network). */
  private slowUntilMs = 0;
  private slowMs = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly prng: Prng,
  ) {}

  cut(a: string, b: string): void {
    this.cuts.add(pairKey(a, b));
  }

  heal(a?: string, b?: string): void {
    if (a === undefined || b === undefined) this.cuts.clear();
    else this.cuts.delete(pairKey(a, b));
  }

  slow(forMs: number, upToMs: number): void {
    this.slowUntilMs = this.clock.now() + forMs;
    this.slowMs = upToMs;
  }

  reachable(a: string, b: string): boolean {
    return !this.cuts.has(pairKey(a, b));
  }

  latency(): number {
    const base = this.prng.int(1, 5);
    if (this.clock.now() < this.slowUntilMs) return base + this.prng.int(0, this.slowMs);
    return this.prng.chance(0.02) ? base + this.prng.int(50, 1_500) : base;
  }

  /**
   * A request from `from` to `to` over `conn`: after a latency `serve` runs there (unless the connection closed
   * or a partition swallowed it — it runs even if the sender gave up meanwhile, as on a real network); its
   * answer travels back the same way. TIMEOUT after `timeoutMs`, UNAVAILABLE when the connection closes first.
   */
  call<T>(from: string, to: string, conn: Conn, serve: () => Promise<T>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (finish: () => void): void => {
        if (settled) return;
        settled = true;
        cancelTimeout();
        conn.onClose.delete(closed);
        finish();
      };
      const closed = (): void => settle(() => reject(new DfsError('UNAVAILABLE', `connection to ${to} lost`)));
      const cancelTimeout = this.clock.after(timeoutMs, () => settle(() => reject(new DfsError('TIMEOUT', `no answer from ${to} within ${timeoutMs} ms`))));
      if (!conn.open) return closed();
      conn.onClose.add(closed);
      if (!this.reachable(from, to)) return; // swallowed: the sender times out
      this.clock.after(this.latency(), () => {
        if (!conn.open || !this.reachable(from, to)) return;
        const answer = (finish: () => void): void => {
          this.clock.after(this.latency(), () => {
            if (conn.open && this.reachable(to, from)) settle(finish);
          });
        };
        serve().then(
          (value) => answer(() => resolve(value)),
          (error: unknown) => answer(() => reject(DfsError.wrap(error))),
        );
      });
    });
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** What a simulated peer serves over a link: one request, its answer's data. */
export type Serve = (type: MessageType, data: unknown) => Promise<unknown>;

/** The master's side of a connection to a simulated node or client: what the master's handlers see as a Channel. */
export class SimLink implements Link {
  trusted: string | undefined;

  constructor(
    private readonly network: SimNetwork,
    readonly conn: Conn,
    readonly peer: Peer,
    /** The peer's name on the simulated network ('n1', 'c1'). */
    readonly endpoint: string,
    readonly remoteHost: string,
    /** Which start of the master this connection reached: one from before a master crash is dead. */
    readonly masterEpoch: number,
    private readonly serve: Serve,
  ) {}

  get closed(): boolean {
    return !this.conn.open;
  }

  trust(principal: string): void {
    this.trusted = principal;
  }

  async request<T extends MessageType>(type: T, data: RequestOf<T>, options?: { body?: OutgoingBody; timeoutMs?: number }): Promise<Response<T>> {
    const answer = await this.network.call('master', this.endpoint, this.conn, () => this.serve(type, data), options?.timeoutMs);
    // The peer answers with its handler's reply for this type (the simulated node's switch is typed per message).
    return { data: answer as ResponseOf<T>, body: undefined, bodyBytes: 0 };
  }

  close(): void {
    this.conn.close();
  }
}
