// The cluster as a user program sees it: ClusterApi over one TLS connection to the master, logged
// in, reconnecting (and resuming the session, or logging in again) when the connection drops.

import { formatHostPort, type HostPort } from '../wire/address';
import type { Channel } from '../wire/channel';
import { DfsError, Interrupted, isDfsError } from '../wire/errors';
import type { MessageType, RequestOf, ResponseOf } from '../wire/messages';
import { connectTls, MASTER_CN } from '../trust/tls';
import { promises as fs } from 'node:fs';
import { checkBackupTarget, writeBackup } from './backup';
import { LocalFileError, type ClusterApi, type ClusterTotal, type CopyOptions, type Entry, type Fetched, type FindFilter, type FsckReport, type GetOptions, type Identity, type NodeInfo, type PutFile, type PutOptions, type RebalanceStatus, type Usage, type UserInfo } from './api';
import { ChannelPool, type PeerLinks } from '../wire/pool';
import { LOGIN_RETRY_WAIT_MS_MAX, PUT_UNREACHABLE_RETRIES_MAX, transferTimeoutMs } from '../limits';
import { download, nodeLinks, NodeUnreachable, receiveFile, sendFiles, streamSink, type FileSource, type LocalFile } from './transfer';

export interface ConnectClusterOptions {
  address: HostPort;
  caPem: string;
  user: string;
  password: string | undefined;
}

type WireEntry = ResponseOf<'fs.stat'>;

function fromWire(entry: WireEntry): Entry {
  return {
    path: entry.path,
    name: entry.name,
    kind: entry.kind,
    size: entry.size,
    mtimeMs: entry.mtimeMs,
    sha256: entry.sha256 ?? null,
    replicas: entry.replicas ?? null,
  };
}

export async function connectCluster(options: ConnectClusterOptions): Promise<RemoteClient> {
  const client = new RemoteClient(options);
  await client.connect();
  return client;
}

export class RemoteClient implements ClusterApi {
  readonly masterAddress: string;
  private channel: Channel | undefined;
  private token: string | undefined;
  private identity: Identity | undefined;
  private connecting: Promise<Channel> | undefined;
  /** Set by interrupt(): loops over the master's answers (pages, replication waits) stop at the next one. */
  private interrupted = false;
  /** Connections to nodes, reused from one transfer to the next. */
  private readonly pool = new ChannelPool();
  private readonly links: PeerLinks;

  constructor(private readonly options: ConnectClusterOptions) {
    this.masterAddress = formatHostPort(options.address);
    this.links = nodeLinks(options.caPem, this.pool);
  }

  /** Connects and logs in (or resumes the session); used at start and after a lost connection. */
  async connect(): Promise<Channel> {
    if (this.channel && !this.channel.closed) return this.channel;
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<Channel> {
    const { address, caPem } = this.options;
    const channel = await connectTls({ address, caPem, expectCommonName: MASTER_CN });
    try {
      if (this.token !== undefined) {
        try {
          this.identity = (await channel.request('auth.resume', { token: this.token })).data;
          this.channel = channel;
          return channel;
        } catch (error) {
          if (!isDfsError(error, 'SESSION_EXPIRED')) throw error;
        }
      }
      const { data } = await this.login(channel);
      this.token = data.token;
      this.identity = { user: data.user, admin: data.admin };
      this.channel = channel;
      return channel;
    } catch (error) {
      channel.close();
      throw error;
    }
  }

  /** One request; a connection found closed before sending is reopened, but nothing is resent — except a request
   * the master refused unread because the session had ended, which is sent again once after a new login. */
  private async call<T extends MessageType>(type: T, data: RequestOf<T>, timeoutMs?: number): Promise<ResponseOf<T>> {
    // After Ctrl-C nothing new is asked, except file.put.cancel: it is how an interrupted upload cleans up.
    if (this.interrupted && type !== 'file.put.cancel') throw new Interrupted();
    const options = timeoutMs === undefined ? {} : { timeoutMs };
    const channel = await this.connect();
    try {
      return (await channel.request(type, data, options)).data;
    } catch (error) {
      if (this.interrupted && channel.closed) throw new Interrupted();
      if (!isDfsError(error, 'SESSION_EXPIRED')) throw error;
      this.token = undefined;
      if (this.channel === channel) this.channel = undefined;
      channel.close();
      return (await (await this.connect()).request(type, data, options)).data;
    }
  }

  private async *pages<T extends 'fs.find' | 'fs.tree' | 'fs.list', I>(
    type: T,
    data: RequestOf<T>,
    items: (page: ResponseOf<T>) => I[],
  ): AsyncGenerator<I> {
    let after: string | undefined;
    do {
      if (this.interrupted) throw new Interrupted();
      const page = await this.call(type, { ...data, ...(after !== undefined ? { after } : {}) });
      yield* items(page);
      after = page.next;
    } while (after !== undefined);
  }

  async whoami(): Promise<Identity> {
    return this.call('auth.whoami', {});
  }

  async passwd(oldPassword: string | undefined, newPassword: string): Promise<void> {
    await this.call('auth.passwd', { ...(oldPassword !== undefined ? { oldPassword } : {}), newPassword });
  }

  async useradd(user: string, password: string | undefined): Promise<void> {
    if (!password) throw new DfsError('BAD_REQUEST', 'a new user needs a password');
    await this.call('auth.useradd', { user, password });
  }

  async users(): Promise<UserInfo[]> {
    const users: UserInfo[] = [];
    let after: string | undefined;
    do {
      const page = await this.call('auth.users', after !== undefined ? { after } : {});
      users.push(...page.users);
      after = page.next;
    } while (after !== undefined);
    return users;
  }

  async resetPassword(user: string, password: string): Promise<void> {
    await this.call('auth.reset', { user, password });
  }

  async userdel(user: string, withFiles: boolean): Promise<{ files: number }> {
    return this.call('auth.userdel', { user, withFiles });
  }

  async unlock(user: string): Promise<boolean> {
    return (await this.call('auth.unlock', { user })).wasLocked;
  }

  async setQuota(user: string, quota: { bytes?: number; files?: number }): Promise<void> {
    await this.call('auth.quota', { user, ...quota });
  }

  async drain(node: string, drain: boolean): Promise<string> {
    return (await this.call('cluster.drain', { node, drain })).nodeId;
  }

  async forget(node: string): Promise<string> {
    return (await this.call('cluster.forget', { node })).nodeId;
  }

  async rotateToken(): Promise<void> {
    await this.call('cluster.token.rotate', {});
  }

  async backup(localDir: string): Promise<{ catalogBytes: number }> {
    await checkBackupTarget(localDir);
    const response = await (await this.connect()).request('cluster.backup', {});
    await writeBackup(localDir, response.data, response.body, response.bodyBytes);
    return { catalogBytes: response.data.snapshotBytes };
  }

  async touch(path: string): Promise<Entry> {
    return fromWire(await this.call('fs.touch', { path }));
  }

  async setrep(path: string, replicas: number, recursive: boolean): Promise<number> {
    return (await this.call('fs.setrep', { path, replicas, recursive })).files;
  }

  async df(): Promise<{ total: ClusterTotal; user: Usage & { user: string } }> {
    const { total, user } = await this.call('cluster.df', {});
    const { linked: _linked, ...totals } = total;
    return { total: totals, user };
  }

  async stat(path: string): Promise<Entry> {
    return fromWire(await this.call('fs.stat', { path }));
  }

  async list(path: string): Promise<Entry[]> {
    const entries: Entry[] = [];
    for await (const entry of this.pages('fs.list', { path }, (page) => page.entries)) entries.push(fromWire(entry));
    return entries;
  }

  async mkdir(path: string, parents: boolean): Promise<void> {
    await this.call('fs.mkdir', { path, parents });
  }

  async remove(path: string, recursive: boolean): Promise<number> {
    return (await this.call('fs.remove', { path, recursive })).removed;
  }

  async move(source: string, target: string): Promise<Entry> {
    return fromWire(await this.call('fs.move', { source, target }));
  }

  async *find(path: string, filter: FindFilter): AsyncIterable<Entry> {
    for await (const entry of this.pages('fs.find', { path, ...filter }, (page) => page.entries)) yield fromWire(entry);
  }

  async *du(path: string, summary: boolean): AsyncIterable<{ path: string; bytes: number }> {
    let after: string | undefined;
    do {
      const page = await this.call('fs.du', { path, summary, ...(after !== undefined ? { after } : {}) });
      yield* page.rows;
      after = page.next;
    } while (after !== undefined);
  }

  async *tree(path: string): AsyncIterable<Entry> {
    for await (const entry of this.pages('fs.tree', { path }, (page) => page.entries)) yield fromWire(entry);
  }

  async cluster(): Promise<{ nodes: NodeInfo[]; total: ClusterTotal; rebalance?: RebalanceStatus }> {
    const { nodes, total, rebalance } = await this.call('cluster.nodes', {});
    const { linked: _linked, ...totals } = total;
    return { nodes: nodes.map(({ connected: _connected, ...node }) => node), total: totals, ...(rebalance ? { rebalance } : {}) };
  }

  async rebalance(thresholdPct: number, stop: boolean): Promise<RebalanceStatus> {
    return this.call('cluster.rebalance', { thresholdPct, stop });
  }

  async nodes(): Promise<NodeInfo[]> {
    return (await this.cluster()).nodes;
  }

  async fsck(path: string): Promise<FsckReport> {
    return this.call('cluster.fsck', { path });
  }

  async put(files: readonly PutFile[], options: PutOptions = {}): Promise<void> {
    const listed = await Promise.all(files.map(sized));
    // A first node that cannot be reached (a wrong --advertise, a firewall) is reported, and the put goes elsewhere.
    const unreachable: string[] = [];
    let uploads: { path: string; blobId: string }[];
    for (;;) {
      const begin = await this.call('file.put.begin', {
        files: listed.map((file) => ({ path: file.remotePath, size: file.size })),
        overwrite: options.overwrite ?? false,
        ...(unreachable.length > 0 ? { unreachable } : {}),
      });
      uploads = listed.map((file, index) => ({ path: file.remotePath, blobId: begin.blobIds[index] ?? '' }));
      try {
        await this.settleFailed(sendFiles(this.links, listed, begin, options.onProgress), uploads);
        break;
      } catch (error) {
        if (!(error instanceof NodeUnreachable) || unreachable.length >= PUT_UNREACHABLE_RETRIES_MAX) throw error;
        unreachable.push(error.nodeId);
      }
    }
    if (options.wait === false) return;
    await this.waitForReplicas(async () => (await this.call('file.put.wait', { files: uploads })).complete, listed.reduce((sum, file) => sum + file.size, 0));
  }

  async copy(source: string, target: string, options: CopyOptions = {}): Promise<Entry> {
    // The master answers once a node copied the bytes: as long as a transfer of that size may take.
    const { size } = await this.stat(source);
    const { blobId } = await this.call('fs.copy', { source, target, overwrite: options.overwrite ?? false }, transferTimeoutMs(size));
    if (options.wait !== false) await this.waitForReplicas(async () => (await this.call('file.put.wait', { files: [{ path: target, blobId }] })).complete, size);
    return this.stat(target);
  }

  /**
   * A transfer that failed leaves no doubt behind: the master drops the uploads (their bookings, and any copies
   * their chain made), or says they were committed after all — the node stored the bytes and the master committed
   * them, and only the answer was lost — and then the put succeeded. If the master cannot be asked, the failure stands.
   */
  private async settleFailed(transfer: Promise<unknown>, uploads: { path: string; blobId: string }[]): Promise<void> {
    try {
      await transfer;
    } catch (error) {
      const answer = await this.call('file.put.cancel', { files: uploads }).catch(() => undefined);
      if (answer === undefined || answer.committed.length !== uploads.length || !answer.committed.every(Boolean)) throw error;
    }
  }

  /** Upload step 7: asks `settled` (file.put.wait, each answer held up to
   * REPLICATION_WAIT_MS) until the chains settled, within the time `bytes` may take at the slowest rate
   * allowed; past that the copies that exist are what stat shows. */
  private async waitForReplicas(settled: () => Promise<boolean>, bytes: number): Promise<void> {
    const deadlineMs = Date.now() + transferTimeoutMs(bytes);
    while (Date.now() < deadlineMs) {
      if (this.interrupted) throw new Interrupted();
      if (await settled()) return;
    }
  }

  async get(remotePath: string, localPath: string, options: GetOptions = {}): Promise<Fetched> {
    return receiveFile(this.links, this.source(remotePath), localPath, options.onProgress);
  }

  async cat(remotePath: string, output: NodeJS.WritableStream, options: GetOptions = {}): Promise<Fetched> {
    return download(this.links, this.source(remotePath), streamSink(output), options.onProgress);
  }

  /** Download steps 1-4 for a file, asked again (avoiding the nodes that failed) when a read must move on; step 6's
   * blame for bytes that hashed wrong. */
  private source(remotePath: string): FileSource {
    return {
      locate: (exclude) => this.call('file.get.begin', { path: remotePath, ...(exclude.length > 0 ? { exclude } : {}) }),
      blame: async (blobId, nodeIds) => {
        await this.call('file.get.bad', { path: remotePath, blobId, nodeIds });
      },
    };
  }

  /** The identity this client logged in as (known once connected). */
  get user(): Identity {
    if (!this.identity) throw new DfsError('UNAUTHENTICATED', 'not logged in');
    return this.identity;
  }

  /** auth.login, asked again while the master says other logins from here are ahead of it (parallel scripts). */
  private async login(channel: Channel): Promise<{ data: ResponseOf<'auth.login'> }> {
    const { user, password } = this.options;
    const deadlineMs = Date.now() + LOGIN_RETRY_WAIT_MS_MAX;
    for (;;) {
      try {
        return await channel.request('auth.login', { user, ...(password ? { password } : {}) });
      } catch (error) {
        const waitMs = isDfsError(error, 'RATE_LIMITED') ? error.retryAfterMs : undefined;
        if (waitMs === undefined || Date.now() + waitMs > deadlineMs) throw error;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  interrupt(): void {
    this.interrupted = true;
    this.pool.interrupt();
    // A request held at the master (a replication wait, up to REPLICATION_WAIT_MS) ends now too; the next call
    // resumes the session on a new connection.
    this.channel?.close();
    this.channel = undefined;
  }

  resume(): void {
    this.interrupted = false;
    this.pool.resume();
  }

  close(): void {
    this.pool.close();
    this.channel?.close();
    this.channel = undefined;
  }
}

/** A file to put with its size: as listed, or as it is now (a missing or irregular file fails here, before the master is asked). */
async function sized(file: PutFile): Promise<PutFile & LocalFile> {
  if (file.size !== undefined) return { ...file, size: file.size };
  const stats = await fs.stat(file.localPath).catch((error: NodeJS.ErrnoException) => {
    throw new LocalFileError(file.localPath, error.code === 'ENOENT' ? 'No such file or directory' : error.message);
  });
  if (!stats.isFile()) throw new LocalFileError(file.localPath, 'not a regular file');
  return { ...file, size: stats.size };
}
