// The master role: the cluster's trust (joins), its members (nodes), its users and namespace.
// Built from its parts so tests can run it in-process: data dir, listen address, clock, log.

import { systemClock, type Clock } from '../clock';
import { LOG_REPEAT_INTERVAL_MS, NODE_TIMEOUT_S_DEFAULT, ORPHAN_GRACE_S_DEFAULT, REPLICAS_DEFAULT, SAFE_MODE_MAX_MS, SUSPECT_COPIES_MAX, SUSPECT_RECHECK_MS, UNREACHABLE_PROBE_TIMEOUT_MS } from '../limits';
import { LogThrottle, type Log } from '../log';
import type { HostPort } from '../wire/address';
import { service, type IncomingOf, type Link, type Reply } from '../wire/channel';
import { DfsError } from '../wire/errors';
import { NODE_STATES, type ServedBy } from '../wire/messages';
import { connectTls } from '../trust/tls';
import { listenerLogging, onRolePorts, type RolePorts } from '../ports';
import { NODE_CN_PREFIX } from '../trust/ca';
import { parseHostPort } from '../wire/address';
import { Reachability, type Probe } from './reachability';
import { Rebalancer } from './rebalance';
import type { Metrics } from '../metrics';
import type { NodeInfo } from '../client/api';
import { nodeInfos } from './membership';
import { ensurePrivateDirectory } from '../store/files';
import { createBlobId } from '../store/blobs';
import { Catalog } from './catalog/catalog';
import { lockDirectory } from '../store/lock';
import { VERSION } from '../version';
import * as accounts from './accounts';
import { forgottenError } from './catalog/nodes';
import { backup } from './backup';
import * as nodeAdmin from './node-admin';
import * as auth from './auth';
import { loadOrCreateMasterIdentity, masterHosts, type MasterIdentity } from './identity';
import * as membership from './membership';
import * as namespace from './namespace';
import { NodeRegistry } from './core/nodes';
import * as transfers from './transfers';
import { SuspectCopies } from './core/suspects';
import { PendingUploads } from './core/uploads';
import { fsck } from './fsck';
import { Repairer } from './repair';
import { Chains } from './core/replication';
import type { MasterState } from './state';
import { LoginLimiter, PasswordHasher, Sessions } from './users';

export interface MasterOptions {
  dataDir: string;
  listen: HostPort;
  /** Where to serve /metrics and /healthz (none: not served). */
  metrics?: HostPort | undefined;
  advertise?: HostPort;
  replicas?: number;
  nodeTimeoutMs?: number;
  orphanGraceMs?: number;
  log: Log;
  clock?: Clock;
}

export interface RunningMaster {
  address: HostPort;
  metricsAddress: HostPort | undefined;
  identity: MasterIdentity;
  state: MasterState;
  /** Settings that change without a restart (a reload, SIGHUP): the factor every file is kept at (the repairer adds
   * or trims copies) and the node timeout. */
  reconfigure(settings: { replicas: number; nodeTimeoutMs: number }): void;
  stop(): Promise<void>;
}

/** What a master is made of besides its listener: the simulation builds one from these with its own clock,
 * catalog (on a simulated disk) and links. */
export interface MasterParts {
  identity: MasterIdentity;
  catalog: Catalog;
  passwords: PasswordHasher;
  replicas?: number | undefined;
  nodeTimeoutMs?: number | undefined;
  log: Log;
  clock: Clock;
  newBlobId?: ((like?: string) => string) | undefined;
  /** How the master checks a node's address (none: nothing is ever marked unreachable). */
  probe?: Probe | undefined;
  /** Where the identity's files are (none: `token rotate` and `backup` are refused). */
  dataDir?: string | undefined;
  /** Orphans reported this long after start are kept until then (default none). */
  orphanGraceMs?: number | undefined;
}

/** The master's state, its repairer started (stop it with state.repairer.stop()). */
export function createMasterState(parts: MasterParts): MasterState {
  const { clock, catalog, log } = parts;
  const now = (): number => clock.now();
  const nodeTimeoutMs = parts.nodeTimeoutMs ?? NODE_TIMEOUT_S_DEFAULT * 1000;
  const state: MasterState = {
    identity: parts.identity,
    catalog,
    nodes: new NodeRegistry(nodeTimeoutMs),
    sessions: new Sessions(now),
    logins: new LoginLimiter(now),
    passwords: parts.passwords,
    logThrottle: new LogThrottle(log, LOG_REPEAT_INTERVAL_MS),
    channelTokens: new WeakMap(),
    joinFailures: new Map(),
    replicas: parts.replicas ?? REPLICAS_DEFAULT,
    uploads: new PendingUploads(),
    suspects: new SuspectCopies(SUSPECT_RECHECK_MS, SUSPECT_COPIES_MAX),
    chains: new Chains((chain) => void transfers.abandonChain(state, chain), clock, () => state.repairer.poke()),
    reachability: new Reachability(() => state, parts.probe),
    rebalancer: new Rebalancer(() => state),
    repairer: new Repairer(() => state, catalog.replicaNodes(), now(), Math.max(SAFE_MODE_MAX_MS, nodeTimeoutMs), parts.orphanGraceMs ?? 0),
    log,
    now,
    clock,
    newBlobId: parts.newBlobId ?? createBlobId,
    dataDir: parts.dataDir,
  };
  state.nodes.restore(catalog.nodesKnown());
  state.repairer.start();
  state.reachability.start();
  return state;
}

export async function startMaster(options: MasterOptions): Promise<RunningMaster> {
  return onRolePorts(options.listen, options.metrics, (ports) => serveMaster(options, options.clock ?? systemClock, ports));
}

/** The master's figures at each scrape: nodes, space, the catalog and its journal, repair. */
function masterGauges(metrics: Metrics, state: MasterState): void {
  const live = (): NodeInfo[] => nodeInfos(state).filter((node) => node.state !== 'dead');
  metrics.gauge('dfs_nodes', 'Storage nodes, by the state `nodes` shows.', () => {
    const infos = nodeInfos(state);
    return NODE_STATES.map((nodeState) => [{ state: nodeState }, infos.filter((node) => node.state === nodeState).length]);
  });
  metrics.gauge('dfs_capacity_bytes', 'Space the live nodes offer.', () => [[{}, live().reduce((sum, node) => sum + node.capacityBytes, 0)]]);
  metrics.gauge('dfs_used_bytes', 'Space the live nodes use for blobs.', () => [[{}, live().reduce((sum, node) => sum + node.usedBytes, 0)]]);
  metrics.gauge('dfs_free_bytes', 'Space left on the live nodes.', () => [[{}, live().reduce((sum, node) => sum + node.freeBytes, 0)]]);
  metrics.gauge('dfs_catalog_entries', 'Files and directories in the catalog, every user\'s.', () => [[{}, state.catalog.entryCount()]]);
  metrics.gauge('dfs_files_under_replicated', 'Files with fewer good copies on live nodes than wanted, at the last repair sweep.', () => [[{}, state.repairer.status().underReplicated]]);
  metrics.gauge('dfs_files_missing', 'Files with no good copy on a live node, at the last repair sweep.', () => [[{}, state.repairer.status().missing]]);
  metrics.gauge('dfs_repair_copies_in_progress', 'Copies the repairer is making now.', () => [[{}, state.repairer.status().copying]]);
  metrics.gauge('dfs_safe_mode', '1 while the master waits for nodes to report after a start (nothing copied or deleted).', () => [[{}, state.repairer.status().safeMode ? 1 : 0]]);
  metrics.gauge('dfs_journal_records_total', 'Catalog changes made durable in the journal.', () => [[{}, state.catalog.stats().records]]);
  metrics.summary('dfs_journal_fsync_seconds', 'Time to write and fdatasync the journal, per group commit.', () => ({ sum: state.catalog.stats().syncSeconds, count: state.catalog.stats().flushes }));
}

async function serveMaster(options: MasterOptions, clock: Clock, { tls, metrics, metricsServer }: RolePorts): Promise<RunningMaster> {
  const { log } = options;
  await ensurePrivateDirectory(options.dataDir);
  const lock = await lockDirectory(options.dataDir, 'master');
  const identity = await loadOrCreateMasterIdentity(options.dataDir, masterHosts(options.listen.host, options.advertise?.host), log);
  const catalog = await Catalog.open(options.dataDir, { now: () => clock.now(), log });
  const passwords = new PasswordHasher();
  await auth.ensureBuiltinUsers(catalog, passwords, options.dataDir, log);
  const probe: Probe = (nodeId, address) =>
    connectTls({ address: parseHostPort(address), caPem: identity.tls.caPem, expectCommonName: `${NODE_CN_PREFIX}${nodeId}`, timeoutMs: UNREACHABLE_PROBE_TIMEOUT_MS }).then(
      (channel) => {
        channel.close();
        return true;
      },
      () => false,
    );
  const state = createMasterState({ identity, catalog, passwords, replicas: options.replicas, nodeTimeoutMs: options.nodeTimeoutMs, log, clock, probe, dataDir: options.dataDir, orphanGraceMs: options.orphanGraceMs ?? ORPHAN_GRACE_S_DEFAULT * 1000 });
  const server = tls.serve({
    identity: identity.tls,
    acceptAnonymous: true,
    label: 'the master',
    service: metrics.metered(service('master', (request) => dispatch(state, request))),
    onChannel: (channel) => channel.on('close', () => linkClosed(state, channel)),
    ...listenerLogging(log, state.logThrottle),
  });
  masterGauges(metrics, state);
  metrics.health(() => (state.repairer.status().missing > 0 ? `${state.repairer.status().missing} file(s) have no good copy on a live node` : undefined));
  log.info(`master ${VERSION} serving ${catalog.entryCount()} entries with replicas=${state.replicas}`);
  return {
    address: server.address,
    metricsAddress: metricsServer?.address,
    identity,
    state,
    reconfigure: ({ replicas, nodeTimeoutMs }) => {
      state.replicas = replicas;
      state.nodes.nodeTimeoutMs = nodeTimeoutMs;
      state.repairer.poke();
    },
    stop: async () => {
      state.repairer.stop();
      state.rebalancer.stop();
      state.reachability.stop();
      await server.close();
      await metricsServer?.close();
      await catalog.close();
      await lock.release();
    },
  };
}

/** A connection closed: a node's current link going abandons the uploads it was to report. */
export function linkClosed(state: MasterState, link: Link): void {
  if (link.peer.kind === 'node' && state.nodes.disconnected(link.peer.nodeId, link)) void transfers.linkLost(state, link.peer.nodeId);
}

/** One request to the master, answered by its handler. */
export function dispatch(state: MasterState, request: IncomingOf<ServedBy<'master'>>): Promise<Reply> {
  // A forgotten node's certificate is revoked: nothing it says counts.
  if (request.peer.kind === 'node' && state.nodes.isForgotten(request.peer.nodeId)) {
    return Promise.reject(forgottenError(request.peer.nodeId));
  }
  switch (request.type) {
    case 'ping':
      return Promise.resolve({ data: { role: 'master', version: VERSION } });
    case 'join':
      return membership.join(state, request);
    case 'node.register':
      return membership.register(state, request);
    case 'cluster.fsck':
      return fsck(state, request);
    case 'node.leaving':
      return membership.leaving(state, request);
    case 'node.blob.report':
      return state.repairer.report(request);
    case 'node.heartbeat':
      return membership.heartbeat(state, request);
    case 'cluster.nodes':
      return membership.listNodes(state, request);
    case 'auth.login':
      return auth.login(state, request);
    case 'auth.resume':
      return auth.resume(state, request);
    case 'auth.whoami':
      return auth.whoami(state, request);
    case 'auth.passwd':
      return auth.passwd(state, request);
    case 'auth.useradd':
      return auth.useradd(state, request);
    case 'auth.users':
      return accounts.users(state, request);
    case 'auth.reset':
      return accounts.reset(state, request);
    case 'auth.userdel':
      return accounts.userdel(state, request);
    case 'auth.unlock':
      return accounts.unlock(state, request);
    case 'auth.quota':
      return accounts.quota(state, request);
    case 'cluster.df':
      return accounts.df(state, request);
    case 'cluster.drain':
      return nodeAdmin.drain(state, request);
    case 'cluster.forget':
      return nodeAdmin.forget(state, request);
    case 'cluster.token.rotate':
      return nodeAdmin.rotateToken(state, request);
    case 'cluster.rebalance':
      return nodeAdmin.rebalance(state, request);
    case 'cluster.backup':
      return backup(state, request);
    case 'file.put.begin':
      return transfers.putBegin(state, request);
    case 'node.replica.stored':
      return transfers.replicaStored(state, request);
    case 'node.replication.broken':
      return transfers.replicationBroken(state, request);
    case 'file.put.wait':
      return transfers.putWait(state, request);
    case 'file.put.cancel':
      return transfers.putCancel(state, request);
    case 'node.blob.stored':
      return transfers.blobStored(state, request);
    case 'file.get.begin':
      return transfers.getBegin(state, request);
    case 'fs.copy':
      return transfers.copyFile(state, request);
    case 'file.get.bad':
      return transfers.getBad(state, request);
    case 'node.blob.error':
      return transfers.blobError(state, request);
    case 'fs.stat':
      return namespace.stat(state, request);
    case 'fs.list':
      return namespace.list(state, request);
    case 'fs.mkdir':
      return namespace.mkdir(state, request);
    case 'fs.remove':
      return namespace.remove(state, request);
    case 'fs.move':
      return namespace.move(state, request);
    case 'fs.touch':
      return namespace.touch(state, request);
    case 'fs.setrep':
      return namespace.setrep(state, request);
    case 'fs.find':
      return namespace.find(state, request);
    case 'fs.du':
      return namespace.du(state, request);
    case 'fs.tree':
      return namespace.tree(state, request);
    default: {
      const unhandled: never = request;
      return Promise.reject(new DfsError('BAD_REQUEST', `${String((unhandled as { type: string }).type)} is not served by the master`));
    }
  }
}
