// What every master handler works on: the catalog, the node registry, sessions, trust, a clock. The services that
// work on the state themselves (repair.ts, reachability.ts, rebalance.ts) appear here as the calls the handlers make,
// so that this module, which they all import, imports none of them.

import type { Clock } from '../clock';
import type { Log, LogThrottle } from '../log';
import type { RebalanceStatus } from '../client/api';
import type { Incoming, Link, Reply } from '../wire/channel';
import { DfsError } from '../wire/errors';
import type { MessageType } from '../wire/messages';
import type { Catalog } from './catalog/catalog';
import type { MasterIdentity } from './identity';
import type { NodeRegistry } from './core/nodes';
import type { Chains } from './core/replication';
import type { SuspectCopies } from './core/suspects';
import type { PendingUploads } from './core/uploads';
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
  /** Copies a reader blamed that their nodes were asked to re-hash lately (file.get.bad). */
  suspects: SuspectCopies;
  /** Keeps every file at its replicas; holds the safe mode after a start. */
  repairer: RepairService;
  /** Probes nodes someone could not connect to; marks and unmarks them unreachable. */
  reachability: ReachabilityService;
  log: Log;
  /** The clock's now(): most handlers only read the time. */
  now: () => number;
  clock: Clock;
  /** A new blob id (createBlobId; the simulation's are drawn from its seed so a run replays exactly). */
  newBlobId: (like?: string) => string;
  rebalancer: RebalanceService;
  /** The master's data directory (none in the simulation). */
  dataDir: string | undefined;
}

export interface RepairStatus {
  safeMode: boolean;
  /** Copies being made now. */
  copying: number;
  /** What the last sweep found: files with fewer good live copies than wanted, and those with none. */
  underReplicated: number;
  missing: number;
}

/** Self-healing (the Repairer in repair.ts). */
export interface RepairService {
  start(): void;
  stop(): void;
  /** Something changed (a node died, came back or lost a copy): look again at the next check. */
  poke(): void;
  /** Whether this copy is an orphan kept for the grace after start. */
  holdsOrphan(blobId: string, nodeId: string): boolean;
  /** A node (re-)registered: its report of its blobs starts afresh. */
  registered(nodeId: string): void;
  /** A node being drained that no file needed at the last whole sweep: it can be stopped. */
  drained(nodeId: string): boolean;
  status(): RepairStatus;
  /** A page of a node's report of the blobs it holds. */
  report(request: Incoming<'node.blob.report'>): Promise<Reply<'node.blob.report'>>;
}

/** Probes of nodes someone could not connect to (the Reachability in reachability.ts). */
export interface ReachabilityService {
  start(): void;
  stop(): void;
  /** `reporter` could not connect to the node: the master looks for itself. */
  suspect(nodeId: string, reporter: string): void;
}

/** The balancer (the Rebalancer in rebalance.ts). */
export interface RebalanceService {
  /** Whether a move of this blob is under way (the repairer leaves it alone). */
  isMoving(blobId: string): boolean;
  status(): RebalanceStatus | undefined;
  start(thresholdPct: number): RebalanceStatus;
  stop(): void;
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
