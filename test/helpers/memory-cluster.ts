// A small, faithful in-memory ClusterApi for unit tests of the shell: one user's namespace with
// the semantics and errors of the master's catalog (src/master/catalog/: rm of an empty directory
// without -r, mv(1) into directories, find -size on directories too, walks in path order), users
// and passwords, and a fixed node list. Walks use explicit stacks, like the master.

import { clusterTotal, type ClusterApi, type ClusterTotal, type CopyOptions, type Entry, type FsckReport, type EntryKind, type Fetched, type FindFilter, type Identity, type NodeInfo, type RebalanceStatus, type SizeFilter, type Usage, type UserInfo } from '../../src/client/api';
import { DfsError } from '../../src/wire/errors';
import { baseName, isWithin, joinPath, parentOf, ROOT, validateName, validatePath } from '../../src/paths';
import { globRegExp } from '../../src/shell/glob';

interface StoredEntry {
  kind: EntryKind;
  /** Files only. */
  bytes: number;
  mtimeMs: number;
  sha256: string | null;
  replicas: { have: number; want: number; nodes: string[] } | null;
}

export interface FileOptions {
  mtimeMs?: number;
  sha256?: string;
  replicas?: { have: number; want: number; nodes: string[] };
}

/** GNU find -size: the size rounded up to whole units, compared with the count. */
function matchesSize(bytes: number, filter: SizeFilter): boolean {
  const units = Math.ceil(bytes / filter.unitBytes);
  return filter.cmp === 'gt' ? units > filter.count : filter.cmp === 'lt' ? units < filter.count : units === filter.count;
}

export class MemoryCluster implements ClusterApi {
  readonly masterAddress: string;
  readonly entries = new Map<string, StoredEntry>([[ROOT, { kind: 'dir', bytes: 0, mtimeMs: 0, sha256: null, replicas: null }]]);
  readonly accounts = new Map<string, { password: string | undefined; admin: boolean; locked?: boolean; quota?: { bytes?: number; files?: number } }>([
    ['shared', { password: undefined, admin: false }],
    ['admin', { password: 'admin-secret', admin: true }],
  ]);
  nodeList: NodeInfo[] = [];
  /** Every call, as "method path…", for tests that check what the shell asked. */
  readonly calls: string[] = [];
  closed = false;
  now = Date.UTC(2024, 4, 1, 12, 34);

  constructor(
    private identity: Identity = { user: 'shared', admin: false },
    masterAddress = '127.0.0.1:7070',
  ) {
    this.masterAddress = masterAddress;
  }

  // ---- setup helpers for tests ----

  addDir(path: string): this {
    this.makeDirectories(path, true);
    return this;
  }

  addFile(path: string, bytes: number, options: FileOptions = {}): this {
    this.addDir(parentOf(path));
    this.entries.set(path, {
      kind: 'file',
      bytes,
      mtimeMs: options.mtimeMs ?? this.now,
      sha256: options.sha256 ?? `${'ab'.repeat(31)}${String(bytes % 100).padStart(2, '0')}`,
      replicas: options.replicas ?? { have: 3, want: 3, nodes: ['node-1', 'node-2', 'node-3'] },
    });
    return this;
  }

  // ---- ClusterApi ----

  async whoami(): Promise<Identity> {
    this.calls.push('whoami');
    return { ...this.identity };
  }

  async passwd(oldPassword: string | undefined, newPassword: string): Promise<void> {
    this.calls.push('passwd');
    const user = this.accounts.get(this.identity.user);
    if (!user || this.identity.user === 'shared') throw new DfsError('FORBIDDEN', 'the shared user has no password to change');
    if (user.password !== undefined && user.password !== oldPassword) throw new DfsError('UNAUTHENTICATED', 'wrong password');
    user.password = newPassword;
  }

  async useradd(name: string, password: string | undefined): Promise<void> {
    this.calls.push(`useradd ${name}`);
    if (!this.identity.admin) throw new DfsError('FORBIDDEN', 'only admin adds users');
    validateName(name);
    if (this.accounts.has(name)) throw new DfsError('EXISTS', `user ${name} exists`);
    this.accounts.set(name, { password, admin: false });
  }

  async stat(path: string): Promise<Entry> {
    this.calls.push(`stat ${path}`);
    return this.entryAt(this.lookup(path), path);
  }

  async list(path: string): Promise<Entry[]> {
    this.calls.push(`list ${path}`);
    const stored = this.lookup(path);
    if (stored.kind === 'file') return [this.entryAt(stored, path)];
    return this.childrenOf(path).map((child) => this.entryAt(this.lookup(child), child));
  }

  async mkdir(path: string, parents: boolean): Promise<void> {
    this.calls.push(`mkdir ${path}${parents ? ' -p' : ''}`);
    this.makeDirectories(path, parents);
  }

  /** Like the catalog: a file, an empty directory, or with `recursive` a whole subtree. */
  async remove(path: string, recursive: boolean): Promise<number> {
    this.calls.push(`remove ${path}${recursive ? ' -r' : ''}`);
    if (path === ROOT) throw new DfsError('BAD_REQUEST', 'refusing to remove /');
    const stored = this.lookup(path);
    if (stored.kind === 'dir' && !recursive && this.childrenOf(path).length > 0) throw new DfsError('NOT_EMPTY', 'directory not empty');
    const doomed = [...this.entries.keys()].filter((candidate) => isWithin(candidate, path));
    for (const candidate of doomed) this.entries.delete(candidate);
    return doomed.length;
  }

  /** Like the catalog (mv(1)): into an existing directory; a file replaces a file; never a directory. */
  async move(source: string, target: string): Promise<Entry> {
    this.calls.push(`move ${source} ${target}`);
    validatePath(target);
    if (source === ROOT) throw new DfsError('BAD_REQUEST', 'cannot move /');
    const moving = this.lookup(source);
    const destination = this.entries.get(target)?.kind === 'dir' ? joinPath(target, baseName(source)) : target;
    if (destination === source) return this.entryAt(moving, source);
    if (moving.kind === 'dir' && isWithin(destination, source)) throw new DfsError('BAD_REQUEST', 'cannot move a directory into itself');
    if (this.lookup(parentOf(destination)).kind !== 'dir') throw new DfsError('NOT_A_DIRECTORY', 'not a directory');
    const replaced = this.entries.get(destination);
    if (replaced && moving.kind === 'dir') throw new DfsError('EXISTS', 'file exists');
    if (replaced?.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', 'cannot overwrite a directory with a file');
    const moved = [...this.entries.entries()].filter(([candidate]) => isWithin(candidate, source));
    for (const [candidate] of moved) this.entries.delete(candidate);
    for (const [candidate, entry] of moved) this.entries.set(destination + candidate.slice(source.length), entry);
    return this.entryAt(moving, destination);
  }

  /** Like the master's fs.copy: a file to an exact path whose parent is a directory; a file replaces a file only with overwrite. */
  async copy(source: string, target: string, options: CopyOptions = {}): Promise<Entry> {
    this.calls.push(`copy ${source} ${target}`);
    validatePath(target);
    const copied = this.lookup(source);
    if (copied.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', 'is a directory (cp -r copies directories)');
    if (source === target) throw new DfsError('BAD_REQUEST', 'source and target are the same file');
    const replaced = this.entries.get(target);
    if (replaced?.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', 'is a directory');
    if (replaced && !options.overwrite) throw new DfsError('EXISTS', 'file exists');
    if (this.lookup(parentOf(target)).kind !== 'dir') throw new DfsError('NOT_A_DIRECTORY', 'not a directory');
    const entry = { ...copied, mtimeMs: this.now };
    this.entries.set(target, entry);
    return this.entryAt(entry, target);
  }

  async *find(path: string, filter: FindFilter): AsyncIterable<Entry> {
    this.calls.push(`find ${path}`);
    const name = filter.name === undefined ? undefined : globRegExp(filter.name);
    for (const entry of this.walk(path)) {
      if (name && !name.test(entry.name)) continue;
      if (filter.type && entry.kind !== filter.type) continue;
      if (filter.size && !matchesSize(entry.size, filter.size)) continue;
      yield entry;
    }
  }

  async *du(path: string, summary: boolean): AsyncIterable<{ path: string; bytes: number }> {
    this.calls.push(`du ${path}${summary ? ' -s' : ''}`);
    const start = this.entryAt(this.lookup(path), path);
    const directories = summary || start.kind === 'file' ? [start] : this.walk(path).filter((entry) => entry.kind === 'dir');
    // Path order, like the catalog: a directory before its subdirectories.
    for (const entry of directories) yield { path: entry.path, bytes: entry.size };
  }

  async *tree(path: string): AsyncIterable<Entry> {
    this.calls.push(`tree ${path}`);
    if (this.lookup(path).kind !== 'dir') throw new DfsError('NOT_A_DIRECTORY', `${path} is a file`);
    for (const entry of this.walk(path)) if (entry.path !== path) yield entry;
  }

  // The data path is not modelled here; the end-to-end tests (test/e2e/data.test.ts) cover it.
  async put(): Promise<void> {
    throw new DfsError('UNAVAILABLE', 'the memory cluster holds no bytes');
  }

  async get(): Promise<Fetched> {
    throw new DfsError('UNAVAILABLE', 'the memory cluster holds no bytes');
  }

  async cat(): Promise<Fetched> {
    throw new DfsError('UNAVAILABLE', 'the memory cluster holds no bytes');
  }

  /** Every file is healthy unless its replicas say otherwise (have < want: under; 0: missing). */
  async fsck(path: string): Promise<FsckReport> {
    this.calls.push(`fsck ${path}`);
    const report: FsckReport = { files: 0, bytes: 0, healthy: 0, under: 0, missing: 0, corrupt: 0, safeMode: false, copying: 0, problems: [] };
    for (const entry of this.walk(path)) {
      if (entry.kind !== 'file') continue;
      report.files++;
      report.bytes += entry.size;
      const have = entry.replicas?.have ?? 0;
      const want = entry.replicas?.want ?? 3;
      const problem = have === 0 ? 'missing' : have < want ? 'under' : undefined;
      if (!problem) report.healthy++;
      else {
        report[problem]++;
        report.problems.push({ path: entry.path, problem, have, want, bad: 0 });
      }
    }
    return report;
  }

  async nodes(): Promise<NodeInfo[]> {
    this.calls.push('nodes');
    return this.nodeList.map((node) => ({ ...node }));
  }

  async cluster(): Promise<{ nodes: NodeInfo[]; total: ClusterTotal }> {
    this.calls.push('nodes');
    const nodes = this.nodeList.map((node) => ({ ...node }));
    return { nodes: this.identity.admin ? nodes : [], total: clusterTotal(nodes) };
  }

  // The admin's user tools: the accounts above, everyone's files being this one namespace's.

  private account(name: string, what: string): { password: string | undefined; admin: boolean; locked?: boolean; quota?: { bytes?: number; files?: number } } {
    this.calls.push(`${what} ${name}`);
    if (!this.identity.admin) throw new DfsError('FORBIDDEN', `${what} is for the admin user only`);
    const account = this.accounts.get(name);
    if (!account) throw new DfsError('NOT_FOUND', `no user ${name}`);
    return account;
  }

  async users(): Promise<UserInfo[]> {
    this.calls.push('users');
    if (!this.identity.admin) throw new DfsError('FORBIDDEN', 'users is for the admin user only');
    return [...this.accounts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([user, account]) => ({ user, admin: account.admin, ...this.usage(user), lockedForMs: account.locked ? 60_000 : 0 }));
  }

  async resetPassword(user: string, password: string): Promise<void> {
    this.account(user, 'reset').password = password;
  }

  async userdel(user: string, withFiles: boolean): Promise<{ files: number }> {
    this.account(user, 'userdel');
    const { files } = this.usage(user);
    if (files > 0 && !withFiles) throw new DfsError('NOT_EMPTY', `${user} owns ${files} file(s)`);
    this.accounts.delete(user);
    return { files };
  }

  async unlock(user: string): Promise<boolean> {
    const account = this.account(user, 'unlock');
    const was = account.locked === true;
    account.locked = false;
    return was;
  }

  async setQuota(user: string, quota: { bytes?: number; files?: number }): Promise<void> {
    this.account(user, 'quota').quota = quota;
  }

  async drain(node: string, drain: boolean): Promise<string> {
    this.calls.push(`${drain ? 'drain' : 'undrain'} ${node}`);
    if (!this.identity.admin) throw new DfsError('FORBIDDEN', 'drain is for the admin user only');
    const found = this.nodeList.find((info) => info.nodeId === node || info.advertise === node);
    if (!found) throw new DfsError('NOT_FOUND', `no node ${node}`);
    found.state = drain ? 'drained' : 'alive';
    return found.nodeId;
  }

  async forget(node: string): Promise<string> {
    this.calls.push(`forget ${node}`);
    if (!this.identity.admin) throw new DfsError('FORBIDDEN', 'forget is for the admin user only');
    const found = this.nodeList.find((info) => info.nodeId === node || info.advertise === node);
    if (!found) throw new DfsError('NOT_FOUND', `no node ${node}`);
    this.nodeList = this.nodeList.filter((info) => info !== found);
    return found.nodeId;
  }

  async rotateToken(): Promise<void> {
    this.calls.push('token rotate');
    if (!this.identity.admin) throw new DfsError('FORBIDDEN', 'token rotate is for the admin user only');
  }

  async backup(localDir: string): Promise<{ catalogBytes: number }> {
    this.calls.push(`backup ${localDir}`);
    throw new DfsError('FORBIDDEN', 'the memory cluster has no master to back up');
  }

  async touch(path: string): Promise<Entry> {
    this.calls.push(`touch ${path}`);
    const stored = this.lookup(path);
    stored.mtimeMs = this.now;
    return this.entryAt(stored, path);
  }

  async setrep(path: string, replicas: number, recursive: boolean): Promise<number> {
    this.calls.push(`setrep ${replicas} ${path}${recursive ? ' -R' : ''}`);
    const stored = this.lookup(path);
    const paths = stored.kind === 'file' ? [path] : recursive ? [...this.walk(path)].filter((entry) => entry.kind === 'file').map((entry) => entry.path) : [];
    if (stored.kind === 'dir' && !recursive) throw new DfsError('IS_A_DIRECTORY', 'is a directory');
    for (const each of paths) {
      const entry = this.entries.get(each);
      if (entry?.replicas) entry.replicas = { ...entry.replicas, want: replicas };
    }
    return paths.length;
  }

  async rebalance(thresholdPct: number, stop: boolean): Promise<RebalanceStatus> {
    this.calls.push(`rebalance ${thresholdPct}${stop ? ' stop' : ''}`);
    if (!this.identity.admin) throw new DfsError('FORBIDDEN', 'rebalance is for the admin user only');
    return { running: !stop, thresholdPct, moved: 0, bytes: 0, failed: 0, inFlight: 0, startedMs: this.now };
  }

  async df(): Promise<{ total: ClusterTotal; user: Usage & { user: string } }> {
    this.calls.push('df');
    return { total: clusterTotal(this.nodeList), user: { user: this.identity.user, ...this.usage(this.identity.user) } };
  }

  /** The logged-in user owns this namespace's files; others own none. */
  private usage(user: string): Usage {
    const quota = this.accounts.get(user)?.quota ?? {};
    const limits = { ...(quota.bytes !== undefined ? { quotaBytes: quota.bytes } : {}), ...(quota.files !== undefined ? { quotaFiles: quota.files } : {}) };
    if (user !== this.identity.user) return { files: 0, bytes: 0, ...limits };
    const files = [...this.entries.values()].filter((entry) => entry.kind === 'file');
    return { files: files.length, bytes: files.reduce((sum, entry) => sum + entry.bytes, 0), ...limits };
  }

  /** Times interrupt() was called (the REPL's Ctrl-C); the memory cluster's work is instant, so nothing stops. */
  interrupts = 0;

  interrupt(): void {
    this.interrupts++;
  }

  resume(): void {}

  close(): void {
    this.closed = true;
  }

  // ---- internals ----

  private makeDirectories(path: string, parents: boolean): void {
    validatePath(path);
    const missing: string[] = [];
    let cursor = path;
    for (; !this.entries.has(cursor); cursor = parentOf(cursor)) missing.unshift(cursor);
    const existing = this.entries.get(cursor);
    if (missing.length === 0) {
      if (parents && existing?.kind === 'dir') return;
      throw new DfsError('EXISTS', `${path} exists`);
    }
    if (existing?.kind === 'file') throw new DfsError('NOT_A_DIRECTORY', `${cursor} is a file`);
    if (missing.length > 1 && !parents) throw new DfsError('NOT_FOUND', `${parentOf(path)} does not exist`);
    for (const directory of missing) this.entries.set(directory, { kind: 'dir', bytes: 0, mtimeMs: this.now, sha256: null, replicas: null });
  }

  private lookup(path: string): StoredEntry {
    validatePath(path);
    const stored = this.entries.get(path);
    if (stored) return stored;
    for (let ancestor = parentOf(path); ancestor !== ROOT; ancestor = parentOf(ancestor)) {
      if (this.entries.get(ancestor)?.kind === 'file') throw new DfsError('NOT_A_DIRECTORY', `${ancestor} is a file`);
    }
    throw new DfsError('NOT_FOUND', `${path} does not exist`);
  }

  private childrenOf(path: string): string[] {
    return [...this.entries.keys()]
      .filter((candidate) => candidate !== ROOT && parentOf(candidate) === path)
      .sort((left, right) => (baseName(left) < baseName(right) ? -1 : baseName(left) > baseName(right) ? 1 : 0));
  }

  private entryAt(stored: StoredEntry, path: string): Entry {
    const size = stored.kind === 'file' ? stored.bytes : this.totalBytes(path);
    return { path, name: baseName(path), kind: stored.kind, size, mtimeMs: stored.mtimeMs, sha256: stored.sha256, replicas: stored.replicas };
  }

  private totalBytes(directory: string): number {
    let total = 0;
    for (const [candidate, entry] of this.entries) if (entry.kind === 'file' && isWithin(candidate, directory)) total += entry.bytes;
    return total;
  }

  /** The start and everything below it, depth first, children by name. */
  private walk(start: string): Entry[] {
    const result: Entry[] = [];
    const stack = [start];
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      const stored = this.lookup(path);
      result.push(this.entryAt(stored, path));
      if (stored.kind === 'dir') stack.push(...this.childrenOf(path).reverse());
    }
    return result;
  }
}
