// The storage node role: joins once, serves its port (blob.put/blob.get to ticket holders, the rest
// to cluster members only), and keeps one mutual-TLS link to the master, registering after every
// (re)connect, heartbeating its space, and answering the master's requests on that link.

import { listenerLogging, onRolePorts, type RolePorts } from '../ports';
import { BLOB_REPORT_BATCH_MAX, FULL_REPORT_INTERVAL_MS, HEARTBEAT_INTERVAL_MS, UNCONFIRMED_REPORT_DELAY_MS, HEARTBEAT_RECEIVING_MAX, LOG_REPEAT_INTERVAL_MS, LEAVING_NOTICE_MS, RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from '../limits';
import { LogThrottle, type Log } from '../log';
import { formatHostPort, isLoopback, isWildcard, parseHostPort, type HostPort } from '../wire/address';
import { NODE_CN_PREFIX } from '../trust/ca';
import { service, type Channel, type IncomingOf, type Reply, type Service } from '../wire/channel';
import { TicketVerifier } from '../trust/ticket';
import { BlobStore } from '../store/blobs';
import * as transfers from './transfers';
import type { NodeContext } from './transfers';
import type { ServedBy } from '../wire/messages';
import { DfsError, isDfsError } from '../wire/errors';
import { connectTls, MASTER_CN, type TlsServer } from '../trust/tls';
import { ChannelPool, peerLinks } from '../wire/pool';
import { VERSION } from '../version';
import { ensurePrivateDirectory } from '../store/files';
import { lockDirectory } from '../store/lock';
import { joinCluster, loadNodeIdentity, type NodeIdentity } from './identity';
import { measureSpace, type Space } from './space';
import { SCRUB_DEFAULTS, startScrubbing, type ScrubSettings } from './scrub';

export interface NodeOptions {
  master: HostPort;
  tokenText: string | undefined;
  caPem: string | undefined;
  dataDir: string;
  listen: HostPort;
  advertise: HostPort | undefined;
  capacityBytes: number | undefined;
  /** --scrub-rate and --scrub-interval; SCRUB_DEFAULTS when absent. */
  scrub?: ScrubSettings;
  log: Log;
  /** Called once, when the node first registered with the master: it serves the cluster from then on. */
  onRegistered?: () => void;
  /** Where to serve /metrics and /healthz (none: not served). */
  metrics?: HostPort | undefined;
}

export interface RunningNode {
  nodeId: string;
  address: HostPort;
  metricsAddress: HostPort | undefined;
  /** Settings that change without a restart (a reload, SIGHUP): the space offered and the scrubbing. */
  reconfigure(settings: { capacityBytes: number | undefined; scrub: ScrubSettings }): Promise<void>;
  stop(): Promise<void>;
}

export async function startNode(options: NodeOptions): Promise<RunningNode> {
  return onRolePorts(options.listen, options.metrics, (ports) => serveNode(options, ports));
}

async function serveNode(options: NodeOptions, { tls, metrics, metricsServer }: RolePorts): Promise<RunningNode> {
  const { log } = options;
  await ensurePrivateDirectory(options.dataDir);
  const lock = await lockDirectory(options.dataDir, 'node');
  const identity = await obtainIdentity(options);
  const store = await BlobStore.open(options.dataDir, {
    ...(options.capacityBytes !== undefined ? { capacityBytes: options.capacityBytes } : {}),
    log: (message) => log.warn(`blob store: ${message}`),
  });
  log.info(`holding ${store.count} blob(s), ${store.usedBytes} bytes`);
  const peerPool = new ChannelPool();
  const context: NodeContext = {
    nodeId: identity.nodeId,
    store,
    verifier: new TicketVerifier(() => (link.ticketKey ? [link.ticketKey] : []), identity.nodeId, Date.now),
    master: () => link.requestChannel(),
    peers: peerLinks((address, nodeId) => connectTls({ address: parseHostPort(address), caPem: identity.caPem, identity, expectCommonName: `${NODE_CN_PREFIX}${nodeId}` }), peerPool),
    advertise: () => link.advertised,
    ticketKey: () => link.ticketKey,
    activeTransfers: 0,
    receiving: new Set(),
    reportAgainSoon: () => link.reportAgainSoon(),
    suspect: (blobId) => scrubber.suspect(blobId),
    log,
  };
  const nodeService = metrics.metered(service('node', (request) => dispatch(context, request)));
  // Anonymous peers are let in for blob.put/blob.get (they carry tickets); the channel refuses them
  // every message whose caller is 'node' or 'master'.
  const server = tls.serve({
    identity,
    acceptAnonymous: true,
    label: `node ${identity.nodeId}`,
    service: nodeService,
    ...listenerLogging(log, new LogThrottle(log, LOG_REPEAT_INTERVAL_MS)),
  });
  const link: MasterLink = new MasterLink(options, identity, server, context, nodeService);
  link.start();
  let scrubber = startScrubbing(context, options.scrub ?? SCRUB_DEFAULTS);
  metrics.gauge('dfs_node_blobs', 'Blobs this node holds.', () => [[{}, store.count]]);
  metrics.gauge('dfs_node_used_bytes', 'Bytes of the blobs this node holds.', () => [[{}, store.usedBytes]]);
  metrics.gauge('dfs_node_transfers_active', 'Uploads, copies and reads under way on this node.', () => [[{}, context.activeTransfers]]);
  metrics.gauge('dfs_node_registered', '1 while this node is registered with the master.', () => [[{}, link.registered ? 1 : 0]]);
  metrics.gauge('dfs_node_disk_writable', '0 once the disk refused a write as read-only.', () => [[{}, store.writable ? 1 : 0]]);
  metrics.health(() => (!link.registered ? 'not registered with the master' : !store.writable ? 'the disk refuses writes (read-only)' : undefined));
  return {
    nodeId: identity.nodeId,
    address: server.address,
    metricsAddress: metricsServer?.address,
    reconfigure: async ({ capacityBytes, scrub }) => {
      store.setCapacity(capacityBytes);
      await scrubber.stop();
      scrubber = startScrubbing(context, scrub);
    },
    stop: async () => {
      const scrubbed = scrubber.stop(); // a re-hash stops at once; a report in flight ends with the link
      await link.leave();
      link.stop();
      peerPool.close();
      await server.close();
      await metricsServer?.close();
      await scrubbed;
      await lock.release();
    },
  };
}

async function obtainIdentity(options: NodeOptions): Promise<NodeIdentity> {
  const existing = await loadNodeIdentity(options.dataDir);
  if (existing) {
    options.log.info(`member of the cluster as ${existing.nodeId}`);
    return existing;
  }
  if (options.tokenText === undefined) {
    throw new DfsError('UNAUTHENTICATED', `${options.dataDir} holds no node identity: join with --token or --token-file`);
  }
  return joinCluster({
    master: options.master,
    tokenText: options.tokenText,
    caPem: options.caPem,
    advertiseHost: options.advertise?.host ?? (isWildcard(options.listen.host) ? undefined : options.listen.host),
    dataDir: options.dataDir,
    log: options.log,
  });
}

function dispatch(context: NodeContext, request: IncomingOf<ServedBy<'node'>>): Promise<Reply> {
  switch (request.type) {
    case 'ping':
      return Promise.resolve({ data: { role: 'node', version: VERSION } });
    case 'blob.put':
      return transfers.blobPut(context, request);
    case 'blob.replicate':
      return transfers.blobReplicate(context, request);
    case 'node.replicate':
      return transfers.replicateBlob(context, request);
    case 'node.copy':
      return transfers.copyBlob(context, request);
    case 'blob.get':
      return transfers.blobGet(context, request);
    case 'node.prepare.get':
      return transfers.prepareGet(context, request);
    case 'node.blob.verify':
      return transfers.verifyBlob(context, request);
    case 'node.blob.delete':
      return transfers.deleteBlobs(context, request);
    default: {
      const unhandled: never = request;
      return Promise.reject(new DfsError('BAD_REQUEST', `${String((unhandled as { type: string }).type)} is not served by a node`));
    }
  }
}

/** The node's side of its master connection: connect, register, heartbeat, and reconnect on loss. */
class MasterLink {
  private channel: Channel | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private reportDueMs = 0;
  /** A full report is being sent (after registering, or again): one at a time. */
  private reporting: Promise<void> | undefined;
  private reconnectDelayMs = RECONNECT_DELAY_MS_MIN;
  private stopped = false;
  private everRegistered = false;
  /** The ticket key the master handed over at registration; none before the first one. */
  ticketKey: Buffer | undefined;
  /** The address this node told the master, where clients reach it. */
  advertised = '';

  constructor(
    private readonly options: NodeOptions,
    private readonly identity: NodeIdentity,
    private readonly server: TlsServer,
    private readonly context: NodeContext,
    private readonly nodeService: Service,
  ) {}

  /** Whether the node is registered with the master over a link that is open now. */
  get registered(): boolean {
    return this.channel !== undefined && !this.channel.closed && this.everRegistered;
  }

  /** The registered link to the master, for reports; UNAVAILABLE while there is none. */
  requestChannel(): Channel {
    if (!this.channel || this.channel.closed || !this.everRegistered) throw new DfsError('UNAVAILABLE', 'no link to the master right now');
    return this.channel;
  }

  start(): void {
    void this.connect();
  }

  /** Tells the master this node is shutting down (it places nothing new here); best effort, briefly. */
  async leave(): Promise<void> {
    const channel = this.channel;
    if (!channel || channel.closed || !this.everRegistered) return;
    await channel.request('node.leaving', {}, { timeoutMs: LEAVING_NOTICE_MS }).catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.reportTimer);
    this.channel?.close();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      const channel = await connectTls({
        address: this.options.master,
        caPem: this.identity.caPem,
        identity: this.identity,
        expectCommonName: MASTER_CN,
        service: this.nodeService,
      });
      if (this.stopped) return channel.close();
      this.channel = channel;
      channel.on('close', (reason: DfsError) => this.lost(channel, reason));
      await this.register(channel);
    } catch (error) {
      this.retryLater(error); // first: closing reports the close as the reason, which says less
      this.channel?.close();
    }
  }

  private async register(channel: Channel): Promise<void> {
    const space = await this.space();
    const advertise = this.advertise(channel);
    if (isLoopback(parseHostPort(advertise).host) && !isLoopback(this.options.master.host) && !this.everRegistered) {
      this.options.log.warn(`advertising ${advertise}, a loopback address, to a master on ${formatHostPort(this.options.master)}: clients and nodes on other machines cannot reach this node there; give --advertise HOST:PORT with an address they can reach`);
    }
    const response = await channel.request('node.register', { advertise, version: VERSION, ...space });
    this.ticketKey = Buffer.from(response.data.ticketKey, 'base64url');
    this.advertised = advertise;
    this.options.log.info(`${this.everRegistered ? 're-registered' : 'registered'} with the master at ${formatHostPort(this.options.master)} as ${this.identity.nodeId} (${advertise})`);
    if (!this.everRegistered) this.options.onRegistered?.();
    this.everRegistered = true;
    this.reconnectDelayMs = RECONNECT_DELAY_MS_MIN;
    clearInterval(this.heartbeatTimer);
    const intervalMs = Math.min(response.data.heartbeatIntervalMs, HEARTBEAT_INTERVAL_MS * 10);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(channel), intervalMs);
    await this.reportBlobs(channel);
  }

  /** Lists every blob again shortly (once, however many reports went unanswered meanwhile), over the link then
   * registered: the master reconciles as after a registration, so a copy it never heard of is recorded or deleted. */
  reportAgainSoon(): void {
    this.reportIn(UNCONFIRMED_REPORT_DELAY_MS);
  }

  /** The next full report in `delayMs`, unless one is due sooner; each one schedules the next. */
  private reportIn(delayMs: number): void {
    if (this.stopped || (this.reportTimer !== undefined && this.reportDueMs <= Date.now() + delayMs)) return;
    clearTimeout(this.reportTimer);
    this.reportDueMs = Date.now() + delayMs;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      const channel = this.channel;
      if (!channel || channel.closed || !this.everRegistered) return; // the next registration reports anyway
      void this.reportBlobs(channel).catch((error: unknown) => this.options.log.warn(`report of held blobs: ${DfsError.wrap(error).message}`));
    }, delayMs);
  }

  /** What this node holds, in pages: the master reconciles its catalog with it after every registration, and
   * again every FULL_REPORT_INTERVAL_MS. */
  private async reportBlobs(channel: Channel): Promise<void> {
    this.reportIn(FULL_REPORT_INTERVAL_MS);
    while (this.reporting) await this.reporting.catch(() => undefined);
    const report = this.sendReport(channel);
    this.reporting = report;
    try {
      await report;
    } finally {
      if (this.reporting === report) this.reporting = undefined;
    }
  }

  private async sendReport(channel: Channel): Promise<void> {
    let page: { blobId: string; size: number; sha256: string }[] = [];
    for (const blob of this.context.store.list()) {
      page.push({ blobId: blob.id, size: blob.size, sha256: blob.sha256 });
      if (page.length < BLOB_REPORT_BATCH_MAX) continue;
      await channel.request('node.blob.report', { blobs: page, last: false });
      page = [];
    }
    await channel.request('node.blob.report', { blobs: page, last: true });
  }

  private advertise(channel: Channel): string {
    const { advertise, listen } = this.options;
    const host = advertise?.host ?? (isWildcard(listen.host) ? channel.localHost : listen.host);
    return formatHostPort({ host, port: advertise?.port ?? this.server.address.port });
  }

  private async heartbeat(channel: Channel): Promise<void> {
    try {
      const space = await this.space();
      // Taken after the space's awaits and sent at once: a blob stored meanwhile, whose report went out before this
      // heartbeat, is in these figures (the master counts it from the report only if no heartbeat came between).
      const receiving = [...take(this.context.receiving, HEARTBEAT_RECEIVING_MAX)];
      await channel.request('node.heartbeat', { ...space, activeTransfers: this.context.activeTransfers, receiving });
    } catch (error) {
      if (error instanceof DfsError && error.code === 'NOT_FOUND') channel.close(error); // master forgot us: reconnect
    }
  }

  private async space(): Promise<Space & { blobs: number; readOnly: boolean }> {
    const { store } = this.context;
    const disk = await measureSpace(this.options.dataDir, store.usedBytes, store.capacityLimitBytes);
    const freeBytes = await store.freeBytes(); // probes a read-only disk
    // The counts as they are now, after the awaits: a blob stored during them counts.
    return { ...disk, usedBytes: store.usedBytes, freeBytes, blobs: store.count, readOnly: !store.writable };
  }

  private lost(channel: Channel, reason: DfsError): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    clearInterval(this.heartbeatTimer);
    if (this.stopped) return;
    this.options.log.warn(`lost the master: ${reason.message}; reconnecting`);
    this.retryLater(reason);
  }

  private retryLater(error: unknown): void {
    if (this.stopped || this.reconnectTimer?.hasRef()) return;
    const message = error instanceof Error ? error.message : String(error);
    if (isDfsError(error, 'FORBIDDEN')) {
      // Forgotten by the admin: only a new join (a wiped data directory) brings it back; ask again rarely.
      this.reconnectDelayMs = RECONNECT_DELAY_MS_MAX;
      this.options.log.error(`the master refuses this node: ${message}`);
    } else this.options.log.warn(`cannot reach the master (${message}); retrying in ${this.reconnectDelayMs} ms`);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, this.reconnectDelayMs);
    this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, RECONNECT_DELAY_MS_MAX);
  }
}

/** The first `count` values of an iterable. */
function* take<T>(values: Iterable<T>, count: number): Generator<T> {
  if (count <= 0) return;
  let taken = 0;
  for (const value of values) {
    yield value;
    if (++taken >= count) return;
  }
}
