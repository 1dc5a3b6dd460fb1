// What every master handler works on: the catalog, the node registry, sessions, trust, a clock.

import type { Reachability } from './reachability';
import type { Clock } from '../clock';
import type { Log, LogThrottle } from '../log';
import type { Incoming, Link } from '../wire/channel';
import { DfsError } from '../wire/errors';
import type { MessageType } from '../wire/messages';
import type { Catalog } from './catalog/catalog';
import type { MasterIdentity } from './identity';
import type { NodeRegistry } from './core/nodes';
import type { Repairer } from './repair';
import type { Chains } from './core/replication';
import type { PendingUploads } from './transfers';
import type { Rebalancer } from './rebalance';
import type { LoginLimiter, PasswordHasher, Session, Sessions } from './users';

export interface MasterState {
  identity: MasterIdentity;
  catalog: Catalog;
  nodes: NodeRegistry;
  sessions: Sessions;
  logins: LoginLimiter;
  passwords: PasswordHasher;
  /** Warnings an outsider can repeat at will, one line per kind per interval. */
  logThrottle: LogThrottle;
  /** The session token each logged-in connection carries. */
  channelTokens: WeakMap<Link, string>;
  joinFailures: Map<string, number[]>;
  replicas: number;
  /** Uploads whose ticket was handed out and whose blob is not yet reported stored. */
  uploads: PendingUploads;
  /** Replication chains handed out and not yet settled. */
  chains: Chains;
  /** Keeps every file at its replicas; holds the safe mode after a start. */
  repairer: Repairer;
  /** Probes nodes someone could not connect to; marks and unmarks them unreachable. */
  reachability: Reachability;
  log: Log;
  /** The clock's now(): most handlers only read the time. */
  now: () => number;
  clock: Clock;
  /** A new blob id (createBlobId; the simulation's are drawn from its seed so a run replays exactly). */
  newBlobId: (like?: string) => string;
  rebalancer: Rebalancer;
  /** The master's data directory (none in the simulation). */
  dataDir: string | undefined;
}

/** The user behind a request; every namespace operation starts here. */
export function requireSession(state: MasterState, request: Incoming<MessageType>): Session {
  const token = state.channelTokens.get(request.channel);
  if (token === undefined) throw new DfsError('UNAUTHENTICATED', 'not logged in: log in first');
  return state.sessions.resume(token);
}

/** The node behind a request from a node (its certificate names it). */
export function requireNode(request: Incoming<MessageType>): string {
  if (request.peer.kind !== 'node') throw new DfsError('UNAUTHENTICATED', 'only cluster nodes may send this');
  return request.peer.nodeId;
}

export function requireAdmin(session: Session, what: string): void {
  if (!session.admin) throw new DfsError('FORBIDDEN', `${what} is for the admin user only`);
}
