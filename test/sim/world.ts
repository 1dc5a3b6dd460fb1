// One simulation run: the real master (its handlers, repairer and catalog, on a simulated disk) with simulated
// nodes, clients and network, all under one seed and one virtual clock. Faults are injected for the run's
// length; then they stop, the cluster is left to settle, and the invariants are checked.

import { transferTimeoutMs } from '../../src/limits';
import type { Log } from '../../src/log';
import type { Peer } from '../../src/wire/channel';
import type { IncomingOf } from '../../src/wire/channel';
import { DfsError } from '../../src/wire/errors';
import type { MessageType, RequestOf, ResponseOf, ServedBy } from '../../src/wire/messages';
import type { MasterIdentity } from '../../src/master/identity';
import { createMasterState, dispatch, linkClosed } from '../../src/master/master';
import type { MasterState } from '../../src/master/state';
import { PasswordHasher } from '../../src/master/users';
import { Catalog } from '../../src/master/catalog/catalog';
import { SimClient } from './client';
import { SimClock } from './clock';
import { SimDisk } from './disk';
import { Conn, SimLink, SimNetwork, type Serve } from './network';
import { SimNode, type Held } from './node';
import { Prng } from './prng';

export interface SimOptions {
  seed: number;
  /** Virtual minutes of traffic and faults, before the settling. */
  minutes: number;
  nodes?: number;
  clients?: number;
  replicas?: number;
  /** Inject faults (off: a calm run, whose invariants hold without any repair). */
  faults?: boolean;
}

export interface SimResult {
  seed: number;
  violations: string[];
  /** The last lines of the master's log and the faults, to explain a violation. */
  trace: string[];
  stats: { files: number; operations: number; failedOperations: number; faults: Record<string, number>; events: number; masterStarts: number };
  /** A digest of the run (every trace line): the same seed gives the same digest. */
  digest: string;
}

const DATA_DIR = '/sim/master';
/** Longer than a node's full-report interval: a copy the master never heard of is found by then. */
const SETTLE_MS = 15 * 60_000;
const SETTLE_CHECK_MS = 15_000;
const NODE_CAPACITY = 64 * 1024 * 1024 * 1024;
const TRACE_LINES_KEPT = 400;

interface RunningMaster {
  state: MasterState;
  epoch: number;
  stop: () => void;
}

export class World {
  readonly prng: Prng;
  readonly clock = new SimClock();
  readonly network: SimNetwork;
  readonly nodes: SimNode[] = [];
  readonly clients: SimClient[] = [];
  /** Clients keep working while this holds. */
  traffic = true;
  private readonly disk: SimDisk;
  private master: RunningMaster | undefined;
  private masterEpoch = 0;
  private masterStarts = 0;
  private readonly masterConns = new Set<Conn>();
  private readonly violations: string[] = [];
  private readonly trace: string[] = [];
  /** Keep every trace line (a replay being studied), not only the last ones. */
  keepAll = false;
  private hash = 0x811c9dc5;
  private readonly faults: Record<string, number> = {};
  /** The current blob of every file a client was told is stored: deleting its last good copy is a violation. */
  private readonly ackedBlobs = new Map<string, { client: SimClient; path: string }>();
  private readonly log: Log;
  private readonly replicas: number;

  constructor(
    private readonly options: SimOptions,
    private readonly identity: MasterIdentity,
  ) {
    this.prng = new Prng(options.seed);
    this.network = new SimNetwork(this.clock, this.prng);
    this.disk = new SimDisk(this.prng);
    this.replicas = options.replicas ?? 3;
    const line = (level: string) => (message: string) => this.note(`master ${level} ${message}`);
    this.log = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  }

  note(line: string): void {
    const stamped = `${(this.clock.now() / 1000).toFixed(3)}s ${line}`;
    for (let index = 0; index < stamped.length; index++) this.hash = Math.imul(this.hash ^ stamped.charCodeAt(index), 0x01000193) >>> 0;
    this.trace.push(stamped);
    if (!this.keepAll && this.trace.length > TRACE_LINES_KEPT * 2) this.trace.splice(0, this.trace.length - TRACE_LINES_KEPT);
  }

  violation(what: string): void {
    this.note(`VIOLATION ${what}`);
    this.violations.push(`${(this.clock.now() / 1000).toFixed(3)}s ${what}`);
  }

  node(nodeId: string): SimNode {
    const node = this.nodes.find((candidate) => candidate.id === nodeId);
    if (!node) throw new DfsError('NOT_FOUND', `no node ${nodeId}`);
    return node;
  }

  transferTimeoutMs(bytes: number): number {
    return transferTimeoutMs(bytes);
  }

  // ---- The master

  async startMaster(): Promise<void> {
    const scope = this.clock.scope();
    const catalog = await Catalog.open(DATA_DIR, { disk: this.disk.view(), now: () => this.clock.now(), log: this.log, journalRecordsMax: 64 });
    if (this.masterStarts === 0) {
      for (const name of ['alice', 'bob', 'carol']) await catalog.createUser(name, null, false);
    }
    this.masterStarts++;
    const { prng } = this;
    const state = createMasterState({
      identity: this.identity,
      catalog,
      passwords: new PasswordHasher(),
      replicas: this.replicas,
      log: this.log,
      clock: scope,
      newBlobId: (like) => (like ?? prng.hex(1)).slice(0, 2) + prng.hex(15),
    });
    const epoch = ++this.masterEpoch;
    this.master = {
      state,
      epoch,
      stop: () => {
        scope.cancelAll();
        state.repairer.stop();
        void catalog.close().catch(() => undefined);
      },
    };
    this.note(`master started (start ${this.masterStarts}) with ${catalog.entryCount()} entries`);
  }

  crashMaster(): void {
    const master = this.master;
    if (!master) return;
    this.master = undefined;
    this.masterEpoch++;
    this.disk.crash(); // before the stop: nothing the dying master does reaches the disk
    master.stop();
    for (const conn of [...this.masterConns]) conn.close();
    this.masterConns.clear();
    this.note('master crashed');
  }

  /** A connection to the master from `endpoint`; undefined when it is down or cut off (refused, or timed out). */
  connectToMaster(endpoint: string, conn: Conn, peer: Peer, serve: Serve, remoteHost = `10.0.0.${endpoint.slice(1)}`): SimLink | undefined {
    const master = this.master;
    if (!master || !this.network.reachable(endpoint, 'master')) return undefined;
    const link = new SimLink(this.network, conn, peer, endpoint, remoteHost, master.epoch, serve);
    this.masterConns.add(conn);
    conn.onClose.add(() => {
      this.masterConns.delete(conn);
      if (this.master?.epoch === link.masterEpoch) linkClosed(this.master.state, link);
    });
    return link;
  }

  connectClient(client: SimClient, conn: Conn): SimLink | undefined {
    const link = this.connectToMaster(client.id, conn, { kind: 'anonymous' }, () => Promise.reject(new DfsError('BAD_REQUEST', 'a client serves nothing')), `10.1.0.${client.id.slice(1)}`);
    const master = this.master;
    if (!link || !master) return undefined;
    // Logged in (the password exchange is the e2e tests' subject, and scrypt is real time).
    const token = master.state.sessions.open(client.userId, client.user, false, link.remoteHost);
    master.state.channelTokens.set(link, token);
    return link;
  }

  /** A request reaching the master over `link`, handled by the master's own dispatch. */
  async masterServe<T extends MessageType>(link: SimLink, type: T, data: RequestOf<T>): Promise<ResponseOf<T>> {
    const master = this.master;
    if (!master || master.epoch !== link.masterEpoch) throw new DfsError('UNAVAILABLE', 'the master went away');
    // Narrowed by the master's switch on the type, as the real channel's requests are.
    const request = { type, data, body: undefined, bodyBytes: 0, peer: link.peer, channel: link } as unknown as IncomingOf<ServedBy<'master'>>;
    const reply = await dispatch(master.state, request);
    return reply.data as ResponseOf<T>;
  }

  // ---- The model, for the invariants

  acked(blobId: string, client: SimClient, path: string): void {
    this.ackedBlobs.set(blobId, { client, path });
  }

  forgetAcked(blobId: string): void {
    this.ackedBlobs.delete(blobId);
  }

  /** A node is about to delete a copy: never the last good copy of a file a client was told is stored. */
  checkDeletion(node: SimNode, blobId: string, held: Held): void {
    const owner = this.ackedBlobs.get(blobId);
    if (!owner || held.corrupt || held.lost) return;
    const known = owner.client.files.get(owner.path);
    if (!known?.acked || known.blobId !== blobId || held.sha256 !== known.sha256) return;
    const others = this.nodes.filter((other) => other !== node && isGood(other.blobs.get(blobId), known.sha256));
    if (others.length === 0) this.violation(`${node.id} deleted the last good copy of ${owner.client.user}:${owner.path} (blob ${blobId})`);
  }

  // ---- The run

  /** The master, its nodes (started) and clients (idle): what a run starts from, and a scripted scenario too. */
  async boot(): Promise<void> {
    const nodeCount = this.options.nodes ?? 4;
    const clientCount = this.options.clients ?? 2;
    await this.startMaster();
    for (let index = 1; index <= nodeCount; index++) this.nodes.push(new SimNode(this, `n${index}`, `10.0.0.${index}:7001`, NODE_CAPACITY));
    const users = ['alice', 'bob', 'carol'];
    for (let index = 1; index <= clientCount; index++) {
      const user = users[(index - 1) % users.length] as string;
      this.clients.push(new SimClient(this, `c${index}`, this.userId(user), user));
    }
    for (const node of this.nodes) node.start();
  }

  /** The master's state (a scenario's checks read its catalog and registry); undefined while it is down. */
  get masterState(): MasterState | undefined {
    return this.master?.state;
  }

  /** The trace kept so far (a scenario's checks look for what the master logged). */
  get lines(): readonly string[] {
    return this.trace;
  }

  async run(): Promise<SimResult> {
    await this.boot();
    const loops = this.clients.map((client) => client.loop());
    const endMs = this.options.minutes * 60_000;
    if (this.options.faults !== false) this.scheduleFaults(endMs);
    await this.clock.runUntil(endMs);
    // Faults stop: everything comes back, and the cluster is left alone to settle.
    this.traffic = false;
    this.note('faults stop; settling');
    this.network.heal();
    if (!this.master) await this.startMaster();
    for (const node of this.nodes) {
      node.filler = 0;
      if (!node.up) node.start();
    }
    // Settled once every check passes (looked at every SETTLE_CHECK_MS), or the checks' failures are violations.
    let problems = ['not looked at yet'];
    for (let atMs = endMs + SETTLE_CHECK_MS; atMs <= endMs + SETTLE_MS && problems.length > 0; atMs += SETTLE_CHECK_MS) {
      await this.clock.runUntil(atMs);
      problems = this.unsettled();
    }
    for (const problem of problems) this.violation(problem);
    this.note(`settled: ${problems.length} problems`);
    await this.runWhile(Promise.all(loops), 'the clients\' last operations');
    // Every acknowledged file reads back through the master and a node.
    await this.runWhile(Promise.all(this.clients.flatMap((client) => [...client.files].filter(([, known]) => known.acked).map(([path]) => client.get(path, true)))), 'the reads after settling');
    this.master?.stop();
    const operations = this.clients.reduce((sum, client) => sum + client.ok + client.failed, 0);
    const failedOperations = this.clients.reduce((sum, client) => sum + client.failed, 0);
    const files = this.clients.reduce((sum, client) => sum + client.files.size, 0);
    return {
      seed: this.options.seed,
      violations: this.violations,
      trace: this.trace.slice(-TRACE_LINES_KEPT),
      stats: { files, operations, failedOperations, faults: this.faults, events: this.clock.fired, masterStarts: this.masterStarts },
      digest: this.hash.toString(16).padStart(8, '0'),
    };
  }

  /** Runs the clock until `work` is done (at most 10 virtual minutes: longer is a violation). */
  async runWhile(work: Promise<unknown>, what: string): Promise<void> {
    let running = true;
    const done = work.finally(() => (running = false));
    for (let step = 0; running && step < 60; step++) await this.clock.runUntil(this.clock.now() + 10_000);
    if (running) this.violation(`${what} did not finish within 10 virtual minutes`);
    else await done;
  }

  private userId(name: string): number {
    const master = this.master;
    const user = master?.state.catalog.getUser(name);
    if (!user) throw new Error(`sim: no user ${name}`);
    return user.id;
  }

  private fault(kind: string, detail: string): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
    this.note(`fault ${kind} ${detail}`);
  }

  /** Faults at random moments until `endMs`, each undone after a while (a node restarted, a partition healed). */
  private scheduleFaults(endMs: number): void {
    const { prng, clock } = this;
    const later = (ms: number, undo: () => void): void => {
      clock.after(ms, () => {
        if (this.traffic) undo();
      });
    };
    const next = (): void => {
      if (clock.now() >= endMs) return;
      this.injectFault(later);
      clock.after(prng.int(2_000, 25_000), next);
    };
    clock.after(prng.int(5_000, 20_000), next);
  }

  private injectFault(later: (ms: number, undo: () => void) => void): void {
    const { prng } = this;
    const node = prng.pick(this.nodes);
    const roll = prng.next();
    if (roll < 0.2) {
      const down = this.nodes.filter((candidate) => !candidate.up).length;
      if (!node.up || down >= this.replicas - 1) return;
      node.crash();
      const downMs = prng.chance(0.5) ? prng.int(1_000, 20_000) : prng.int(35_000, 120_000); // beyond the node timeout: declared dead
      this.fault('node-crash', `${node.id} for ${downMs} ms`);
      later(downMs, () => node.start());
    } else if (roll < 0.32) {
      const other = prng.chance(0.5) ? 'master' : prng.pick([...this.nodes.map((candidate) => candidate.id), ...this.clients.map((client) => client.id)]);
      if (other === node.id) return;
      const forMs = prng.int(2_000, 60_000);
      this.network.cut(node.id, other);
      this.fault('partition', `${node.id} | ${other} for ${forMs} ms`);
      later(forMs, () => this.network.heal(node.id, other));
    } else if (roll < 0.44) {
      // A disk loses or damages a copy of which another node holds a good one: losing every copy of a file is
      // beyond what replication promises (and what the master could repair).
      const blobs = this.copiesElsewhere(node);
      if (blobs.length === 0) return;
      const blobId = prng.pick(blobs);
      const held = node.blobs.get(blobId);
      if (held) held.corrupt = true;
      this.fault('corrupt-copy', `${blobId} on ${node.id}`);
    } else if (roll < 0.5) {
      const blobs = this.copiesElsewhere(node);
      if (blobs.length === 0) return;
      const blobId = prng.pick(blobs);
      const held = node.blobs.get(blobId);
      if (held) held.lost = true;
      this.fault('lost-copy', `${blobId} on ${node.id}`);
    } else if (roll < 0.6) {
      const forMs = prng.int(10_000, 90_000);
      node.filler = Math.max(0, node.capacityBytes - node.usedBytes - prng.int(0, 4 * 1024 * 1024));
      this.fault('full-disk', `${node.id} for ${forMs} ms`);
      later(forMs, () => (node.filler = 0));
    } else if (roll < 0.7) {
      node.resetMasterLink();
      this.fault('link-reset', node.id);
    } else if (roll < 0.8) {
      const forMs = prng.int(5_000, 40_000);
      this.network.slow(forMs, prng.int(500, 8_000));
      this.fault('slow-network', `${forMs} ms`);
    } else if (roll < 0.88) {
      if (!this.master) return;
      const downMs = prng.int(500, 20_000);
      this.crashMaster();
      this.fault('master-crash', `for ${downMs} ms`);
      later(downMs, () => void this.startMaster());
    }
  }

  /** The intact blobs on `node` of which another node holds an intact copy too. */
  private copiesElsewhere(node: SimNode): string[] {
    return [...node.blobs].filter(([blobId, held]) => isGood(held, held.sha256) && this.nodes.some((other) => other !== node && isGood(other.blobs.get(blobId), held.sha256))).map(([blobId]) => blobId);
  }

  /** After settling: every file at its replication factor on nodes that hold it, nothing else anywhere. */
  unsettled(): string[] {
    const problems: string[] = [];
    const master = this.master;
    if (!master) return ['the master is not running after settling'];
    const { catalog } = master.state;
    const files = new Map<string, { sha256: string; size: number }>();
    for (let afterId = 0; ; ) {
      const page = catalog.filesAfter(afterId, 1_000);
      const last = page[page.length - 1];
      if (!last) break;
      afterId = last.id;
      for (const file of page) files.set(file.blobId, { sha256: file.sha256, size: file.size });
    }
    const replicas = catalog.replicasOfBlobs([...files.keys()]);
    for (const [blobId, file] of files) {
      const rows = replicas.get(blobId) ?? [];
      const good = rows.filter((row) => row.state === 'good');
      if (good.length !== this.replicas) problems.push(`blob ${blobId}: ${good.length} good copies recorded after settling, want ${this.replicas} (${rows.map((row) => `${row.nodeId}:${row.state}`).join(' ')})`);
      for (const row of rows) {
        if (row.state !== 'good') problems.push(`blob ${blobId}: a ${row.state} copy on ${row.nodeId} is still recorded after settling`);
        else if (!isGood(this.node(row.nodeId).blobs.get(blobId), file.sha256)) problems.push(`blob ${blobId}: recorded good on ${row.nodeId}, which does not hold it intact`);
      }
      const holders = this.nodes.filter((node) => node.blobs.has(blobId)).length;
      if (holders > this.replicas) problems.push(`blob ${blobId}: ${holders} copies on nodes after settling, want ${this.replicas}`);
    }
    for (const node of this.nodes) {
      for (const blobId of node.blobs.keys()) if (!files.has(blobId)) problems.push(`orphan blob ${blobId} left on ${node.id} after settling`);
    }
    for (const client of this.clients) {
      for (const [path, known] of client.files) {
        if (!known.acked) continue;
        const entry = catalog.lookup(client.userId, path);
        if (!entry || entry.blobId !== known.blobId || entry.sha256 !== known.sha256) {
          problems.push(`acknowledged file ${client.user}:${path} (blob ${known.blobId}) is ${entry ? `now blob ${entry.blobId ?? '-'}` : 'gone'}`);
        }
      }
    }
    return problems;
  }
}

function isGood(held: Held | undefined, sha256: string): boolean {
  return held !== undefined && !held.corrupt && !held.lost && held.sha256 === sha256;
}

/** Runs one seed. */
export async function simulate(options: SimOptions, identity: MasterIdentity): Promise<SimResult> {
  return new World(options, identity).run();
}
