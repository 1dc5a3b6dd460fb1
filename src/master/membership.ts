// Cluster membership on the master: nodes joining with the token, registering, heartbeating.

import { randomBytes } from 'node:crypto';
import { clusterTotal, type ClusterTotal, type NodeInfo } from '../client/api';
import { HEARTBEAT_INTERVAL_MS, JOIN_FAILURES_MAX, JOIN_FAILURE_WINDOW_MS } from '../limits';
import { parseHostPort } from '../wire/address';
import { issueCertificate, NODE_CN_PREFIX, publicKeyFromCsr } from '../trust/ca';
import type { Incoming, Reply } from '../wire/channel';
import { DfsError } from '../wire/errors';
import { nodeTicketKey } from '../trust/ticket';
import { secretMatches } from '../trust/token';
import { requireNode, requireSession, type MasterState } from './state';
import { holdReceiving, scheduleDeletions } from './transfers';

export async function join(state: MasterState, request: Incoming<'join'>): Promise<Reply<'join'>> {
  const source = request.channel.remoteHost;
  const failures = recentFailures(state, source);
  if (failures.length >= JOIN_FAILURES_MAX) {
    throw new DfsError('RATE_LIMITED', `too many failed joins from ${source}; wait a minute`);
  }
  if (!secretMatches(state.identity.joinToken.secret, request.data.secret)) {
    failures.push(state.now());
    state.log.warn(`refused join from ${source}: wrong join token`);
    throw new DfsError('UNAUTHENTICATED', 'wrong join token: use the one in the master\'s data dir (join-token)');
  }
  const publicKeyPem = publicKeyFromCsr(request.data.csrPem);
  const { host } = request.data;
  const nodeId = `n-${randomBytes(4).toString('hex')}`;
  const certPem = issueCertificate(state.identity.ca, { commonName: `${NODE_CN_PREFIX}${nodeId}`, hosts: [host] }, publicKeyPem);
  state.log.info(`node ${nodeId} joined from ${source} (host ${host})`);
  return { data: { nodeId, certPem, caPem: state.identity.ca.certPem } };
}

function recentFailures(state: MasterState, source: string): number[] {
  const cutoff = state.now() - JOIN_FAILURE_WINDOW_MS;
  for (const [host, times] of state.joinFailures) {
    if (times.every((at) => at <= cutoff)) state.joinFailures.delete(host);
  }
  const recent = state.joinFailures.get(source) ?? [];
  state.joinFailures.set(source, recent);
  return recent;
}

export async function register(state: MasterState, request: Incoming<'node.register'>): Promise<Reply<'node.register'>> {
  const nodeId = requireNode(request);
  const { advertise, capacityBytes, usedBytes, freeBytes, blobs, readOnly } = request.data;
  parseHostPort(advertise);
  await state.catalog.nodeRegistered(nodeId, advertise, state.now());
  const known = state.nodes.get(nodeId) !== undefined;
  state.nodes.register(nodeId, advertise, { capacityBytes, usedBytes, freeBytes, blobs, readOnly }, request.channel, state.now());
  state.log.info(`node ${nodeId} ${known ? 're-registered' : 'registered'} at ${advertise}`);
  state.repairer.registered(nodeId); // its report of what it holds follows
  scheduleDeletions(state); // deletions that waited for this node
  return { data: { heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, ticketKey: nodeTicketKey(state.identity.ticketKey, nodeId).toString('base64url') } };
}

export async function heartbeat(state: MasterState, request: Incoming<'node.heartbeat'>): Promise<Reply<'node.heartbeat'>> {
  const nodeId = requireNode(request);
  const wasReadOnly = state.nodes.get(nodeId)?.readOnly === true;
  if (!state.nodes.heartbeat(nodeId, request.data, request.channel, state.now())) {
    throw new DfsError('NOT_FOUND', 'heartbeat before registration: register first');
  }
  if (wasReadOnly !== (request.data.readOnly === true)) {
    state.log.warn(request.data.readOnly === true ? `node ${nodeId}: its disk is read-only: no new blobs go there` : `node ${nodeId}: its disk takes writes again`);
  }
  const record = state.nodes.get(nodeId);
  if (record && loggedFull.has(record) !== isFull(request.data)) {
    if (isFull(request.data)) {
      loggedFull.add(record);
      state.log.warn(`node ${nodeId} is full (${request.data.freeBytes} of ${request.data.capacityBytes} bytes free): no new blobs go there`);
    } else {
      loggedFull.delete(record);
      state.log.info(`node ${nodeId} has room again`);
    }
  }
  holdReceiving(state, nodeId, request.data.receiving ?? []);
  return { data: {} };
}

/** The nodes (their registrations) last logged full: the log says when one becomes full, by its own heartbeat's
 * figures, and when it has room again (a blob reported stored counts against a node at once, before its heartbeat). */
const loggedFull = new WeakSet<object>();

/** Less than 1% of its capacity free: `nodes` shows it full, and the log says when it becomes so. */
function isFull(space: { capacityBytes: number; freeBytes: number }): boolean {
  return space.freeBytes * 100 < space.capacityBytes;
}

/** Every node with its address and usage for the admin; for anyone else only the totals (how much room there is),
 * not which machines hold what. */
export async function listNodes(state: MasterState, request: Incoming<'cluster.nodes'>): Promise<Reply<'cluster.nodes'>> {
  const session = requireSession(state, request);
  const nodes = nodeInfos(state);
  const rebalance = session.admin ? state.rebalancer.status() : undefined;
  return { data: { nodes: session.admin ? nodes : [], total: clusterTotals(state, nodes), ...(rebalance ? { rebalance } : {}) } };
}

/** The cluster as a whole: nodes by state, and its space. */
export function clusterTotals(state: MasterState, nodes = nodeInfos(state)): ClusterTotal & { linked: number } {
  return { ...clusterTotal(nodes), linked: nodes.filter((node) => node.connected && node.state !== 'dead').length };
}

/** Every node as `nodes` shows it (and the metrics count it). */
export function nodeInfos(state: MasterState): (NodeInfo & { connected: boolean })[] {
  const nowMs = state.now();
  return state.nodes.list().map((node) => ({
    nodeId: node.nodeId,
    advertise: node.advertise,
    state: displayState(state.nodes.stateOf(node, nowMs), node, state.repairer.drained(node.nodeId)),
    capacityBytes: node.capacityBytes,
    usedBytes: node.usedBytes,
    freeBytes: node.freeBytes,
    blobs: node.blobs,
    lastSeenMs: node.lastSeenMs,
    connected: node.channel !== undefined,
  }));
}

/** What `nodes` shows: a node being drained is draining until no file needs its copies, then drained (alive or
 * not: it may be stopped and forgotten); a live node shutting down is stopping; one whose disk refuses writes,
 * read-only; one whose address cannot be reached, unreachable; one with less than 1% of its capacity free, full. */
function displayState(liveness: 'alive' | 'dead', node: { capacityBytes: number; freeBytes: number; stopping: boolean; drain: boolean; readOnly: boolean; unreachable: boolean }, drained: boolean): NodeInfo['state'] {
  if (node.drain && drained) return 'drained';
  if (liveness === 'dead') return liveness;
  if (node.drain) return 'draining';
  if (node.stopping) return 'stopping';
  if (node.readOnly) return 'read-only';
  if (node.unreachable) return 'unreachable';
  return isFull(node) ? 'full' : liveness;
}

export async function leaving(state: MasterState, request: Incoming<'node.leaving'>): Promise<Reply<'node.leaving'>> {
  const nodeId = requireNode(request);
  const record = state.nodes.get(nodeId);
  if (record) record.stopping = true;
  state.log.info(`node ${nodeId} is shutting down: no new blobs go there`);
  return { data: {} };
}
