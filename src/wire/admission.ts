// Which connections a server keeps when too many come: every listener faces networks where anyone can connect.
// A connection counts from its first TCP byte (before TLS) as untrusted, until its peer logs in or shows a
// certificate or a ticket; then it counts as its principal's ("user:NAME", "node:ID", a ticket holder's address).
//   - per source address, at most CONNECTIONS_UNTRUSTED_PER_SOURCE_MAX untrusted: a new one displaces that
//     address's oldest untrusted connection;
//   - per principal, at most CONNECTIONS_PER_PRINCIPAL_MAX: a new one ends that principal's oldest;
//   - in all, at most the server's maximum: a new one displaces the oldest untrusted connection anywhere, or is
//     refused when every connection is trusted.
// So idle strangers can never lock out a new client (it displaces them), and no peer can end a logged-in
// session of anyone but itself.

import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { CONNECTIONS_MAX, CONNECTIONS_PER_PRINCIPAL_MAX, CONNECTIONS_UNTRUSTED_PER_SOURCE_MAX } from '../limits';

export interface AdmissionLimits {
  connectionsMax: number;
  untrustedPerSourceMax: number;
  perPrincipalMax: number;
}

/** The limits for a server of this process: at most half its file descriptors (blob files and the journal need the rest). */
export function admissionLimits(): AdmissionLimits {
  return {
    connectionsMax: Math.min(CONNECTIONS_MAX, Math.floor(openFilesLimit() / 2)),
    untrustedPerSourceMax: CONNECTIONS_UNTRUSTED_PER_SOURCE_MAX,
    perPrincipalMax: CONNECTIONS_PER_PRINCIPAL_MAX,
  };
}

/** The soft limit on open files (RLIMIT_NOFILE), from /proc; a common default where it cannot be read. */
function openFilesLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return line === undefined || line === 'unlimited' ? 1_048_576 : Number(line);
  } catch {
    return 1024;
  }
}

/** What admission decided about one connection, for the server's log. */
export type Displacement = { kind: 'displaced'; source: string; why: string } | { kind: 'refused'; source: string; why: string };

export class Admission {
  private readonly all = new Set<Socket>();
  /** Untrusted connections, oldest first, in all and per source. */
  private readonly untrusted = new Map<Socket, string>();
  private readonly untrustedBySource = new Map<string, Set<Socket>>();
  /** Trusted connections per principal, oldest first. */
  private readonly byPrincipal = new Map<string, Set<Socket>>();
  private readonly principalOf = new Map<Socket, string>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly onDecision: (decision: Displacement) => void = () => undefined,
  ) {}

  get connections(): number {
    return this.all.size;
  }

  /** A new TCP connection: admitted (maybe in place of an older untrusted one) or destroyed. */
  admit(socket: Socket): void {
    const source = socket.remoteAddress ?? 'unknown';
    const fromSource = this.untrustedBySource.get(source);
    if (fromSource && fromSource.size >= this.limits.untrustedPerSourceMax) {
      this.displace(first(fromSource), `${this.limits.untrustedPerSourceMax} connections from ${source} have not logged in`);
    }
    if (this.all.size >= this.limits.connectionsMax) {
      const oldest = first(this.untrusted);
      if (oldest === undefined) {
        socket.destroy();
        this.onDecision({ kind: 'refused', source, why: `${this.all.size} connections open, all logged in` });
        return;
      }
      this.displace(oldest, `${this.all.size} connections open`);
    }
    this.all.add(socket);
    this.untrusted.set(socket, source);
    this.untrustedBySource.set(source, (this.untrustedBySource.get(source) ?? new Set()).add(socket));
    socket.once('close', () => this.drop(socket));
  }

  /** The connection's peer proved who it is: it counts as `principal`'s from now on. */
  trusted(socket: Socket, principal: string): void {
    if (!this.all.has(socket) || this.principalOf.get(socket) === principal) return;
    this.unbook(socket);
    const mine = this.byPrincipal.get(principal) ?? new Set<Socket>();
    const oldest = mine.size >= this.limits.perPrincipalMax ? first(mine) : undefined;
    if (oldest !== undefined) {
      this.drop(oldest);
      oldest.destroy();
    }
    this.byPrincipal.set(principal, mine.add(socket));
    this.principalOf.set(socket, principal);
  }

  private displace(socket: Socket | undefined, why: string): void {
    if (socket === undefined) return;
    this.onDecision({ kind: 'displaced', source: this.untrusted.get(socket) ?? 'unknown', why });
    this.drop(socket);
    socket.destroy();
  }

  /** The connection is gone (closed, displaced, ended): out of every book. */
  private drop(socket: Socket): void {
    this.unbook(socket);
    this.all.delete(socket);
  }

  /** Out of the untrusted and principal books (it stays open). */
  private unbook(socket: Socket): void {
    const source = this.untrusted.get(socket);
    if (source !== undefined) {
      this.untrusted.delete(socket);
      removeFrom(this.untrustedBySource, source, socket);
    }
    const principal = this.principalOf.get(socket);
    if (principal !== undefined) {
      this.principalOf.delete(socket);
      removeFrom(this.byPrincipal, principal, socket);
    }
  }
}

/** The oldest entry of an insertion-ordered set or map. */
function first<T>(collection: { keys(): IterableIterator<T> } | undefined): T | undefined {
  return collection?.keys().next().value;
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  set?.delete(value);
  if (set?.size === 0) index.delete(key);
}
