// The master role: serves the cluster's trust (joins), tracks nodes, and (later) the namespace.
// Built from its parts so tests can run it in-process: data dir, listen address, clock, log.

import { randomBytes } from 'node:crypto';
import { JOIN_FAILURES_MAX, JOIN_FAILURE_WINDOW_MS, HEARTBEAT_INTERVAL_MS, NODE_TIMEOUT_S_DEFAULT, REPLICAS_DEFAULT } from '../../limits';
import type { Log } from '../../log';
import { parseHostPort, type HostPort } from '../../net/address';
import { issueCertificate, NODE_CN_PREFIX, publicKeyFromCsr } from '../../net/ca';
import type { AnyIncoming, Channel, Incoming, Reply } from '../../net/channel';
import { DfsError } from '../../net/errors';
import { listenTls, type TlsServer } from '../../net/tls';
import { secretMatches } from '../../net/token';
import { VERSION } from '../../version';
import { ensureDataDirectory, loadOrCreateMasterIdentity, masterHosts, type MasterIdentity } from './identity';
import { NodeRegistry } from './nodes';

export interface MasterOptions {
  dataDir: string;
  listen: HostPort;
  advertise?: HostPort;
  replicas?: number;
  nodeTimeoutMs?: number;
  log: Log;
  now?: () => number;
}

export interface RunningMaster {
  address: HostPort;
  identity: MasterIdentity;
  nodes: NodeRegistry;
  stop(): Promise<void>;
}

interface MasterState {
  identity: MasterIdentity;
  nodes: NodeRegistry;
  joinFailures: Map<string, number[]>;
  log: Log;
  now: () => number;
}

export async function startMaster(options: MasterOptions): Promise<RunningMaster> {
  const { log } = options;
  const now = options.now ?? Date.now;
  await ensureDataDirectory(options.dataDir);
  const hosts = masterHosts(options.listen.host, options.advertise?.host);
  const identity = await loadOrCreateMasterIdentity(options.dataDir, hosts, log);
  const state: MasterState = {
    identity,
    nodes: new NodeRegistry(options.nodeTimeoutMs ?? NODE_TIMEOUT_S_DEFAULT * 1000),
    joinFailures: new Map(),
    log,
    now,
  };
  const server: TlsServer = await listenTls({
    listen: options.listen,
    identity: identity.tls,
    acceptAnonymous: true,
    label: 'the master',
    handler: (request) => dispatch(state, request),
    onChannel: (channel) => watchChannel(state, channel),
    onBug: (error) => log.error(`handler bug: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
  });
  log.info(`master ${VERSION} serving with replicas=${options.replicas ?? REPLICAS_DEFAULT}`);
  return {
    address: server.address,
    identity,
    nodes: state.nodes,
    stop: () => server.close(),
  };
}

function watchChannel(state: MasterState, channel: Channel): void {
  channel.on('close', () => {
    if (channel.peer.kind === 'node') state.nodes.disconnected(channel.peer.nodeId, channel);
  });
}

function dispatch(state: MasterState, request: AnyIncoming): Promise<Reply> {
  switch (request.type) {
    case 'ping':
      return Promise.resolve({ data: { role: 'master', version: VERSION } });
    case 'join':
      return join(state, request);
    case 'node.register':
      return register(state, request);
    case 'node.heartbeat':
      return heartbeat(state, request);
    case 'cluster.nodes':
      return Promise.resolve(listNodes(state));
    default: {
      const unhandled: never = request;
      return Promise.reject(new DfsError('BAD_REQUEST', `${(unhandled as AnyIncoming).type} is not served by the master`));
    }
  }
}

async function join(state: MasterState, request: Incoming<'join'>): Promise<Reply<'join'>> {
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

function requireNode(request: AnyIncoming): string {
  if (request.peer.kind !== 'node') throw new DfsError('UNAUTHENTICATED', 'only cluster nodes may send this');
  return request.peer.nodeId;
}

async function register(state: MasterState, request: Incoming<'node.register'>): Promise<Reply<'node.register'>> {
  const nodeId = requireNode(request);
  const { advertise, capacityBytes, usedBytes, freeBytes } = request.data;
  parseHostPort(advertise);
  const previous = state.nodes.list().find((node) => node.nodeId === nodeId);
  state.nodes.register(nodeId, advertise, { capacityBytes, usedBytes, freeBytes }, request.channel, state.now());
  state.log.info(`node ${nodeId} ${previous ? 're-registered' : 'registered'} at ${advertise}`);
  return { data: { heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS } };
}

async function heartbeat(state: MasterState, request: Incoming<'node.heartbeat'>): Promise<Reply<'node.heartbeat'>> {
  const nodeId = requireNode(request);
  if (!state.nodes.heartbeat(nodeId, request.data, request.channel, state.now())) {
    throw new DfsError('NOT_FOUND', 'heartbeat before registration: register first');
  }
  return { data: {} };
}

function listNodes(state: MasterState): Reply<'cluster.nodes'> {
  const nowMs = state.now();
  const nodes = state.nodes.list().map((node) => ({
    nodeId: node.nodeId,
    advertise: node.advertise,
    state: state.nodes.stateOf(node, nowMs),
    capacityBytes: node.capacityBytes,
    usedBytes: node.usedBytes,
    freeBytes: node.freeBytes,
    lastSeenMs: node.lastSeenMs,
    connected: node.channel !== undefined,
  }));
  return { data: { nodes } };
}
