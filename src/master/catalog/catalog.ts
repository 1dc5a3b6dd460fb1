// The master's catalog: users and every user's namespace, in an in-memory sql.js database made
// durable by snapshot + journal. Reads are synchronous; a mutation runs as one SQL
// transaction whose statements become one journal record, and its promise resolves only once that
// record is fsynced. This file ties the parts together and owns the transactions, when snapshots are
// taken, and rolling back to the disk after a failed journal write. The parts: schema.ts (tables and
// statements), namespace.ts (entries and their rules), path-keys.ts, glob.ts, users.ts, replicas.ts,
// snapshot.ts (the files on disk, replay at start-up); journal.ts owns the journal's bytes on disk,
// sqljs.ts the database wrapper.

import { JOURNAL_BACKLOG_BYTES_MAX, JOURNAL_BYTES_MAX_DEFAULT, JOURNAL_RECORD_BYTES_MAX, JOURNAL_RECORDS_MAX_DEFAULT } from '../../limits';
import { silentLog, type Log } from '../../log';
import { DfsError } from '../../wire/errors';
import { nodeDisk, type Disk } from '../../store/disk';
import { describe, type CatalogCore } from './core';
import type { JournalStats, JournalWriter } from './journal';
import { Namespace, type Entry, type FileCommit, type FindFilter, type Page, type PageOptions, type WrittenEntry } from './namespace';
import { KnownNodes, type KnownNode } from './nodes';
import { Replicas, type Replica, type ReplicaState } from './replicas';
import { cutUnacknowledged, exportSnapshot, loadDurable, persistSnapshot, snapshotFile, type SnapshotStep } from './snapshot';
import { encodeStatements, type SqlDatabase, type StatementRecorder } from './sqljs';
import { Users, type Quota, type UserRecord } from './users';

export type { Entry, EntryKind, FileCommit, FindFilter, Page, PageOptions, SizeFilter, WrittenEntry } from './namespace';
export type { Replica, ReplicaState } from './replicas';
export type { SnapshotStep } from './snapshot';
export type { Quota, UserRecord } from './users';
export type { KnownNode } from './nodes';

export interface CatalogOptions {
  now?: () => number;
  /** Journal size past which a snapshot is taken in the background. */
  journalBytesMax?: number;
  /** Journal records past which a snapshot is taken in the background (replay time is per record). */
  journalRecordsMax?: number;
  log?: Log;
  /** Where the journal and snapshots are kept (the simulation's disk; tests count and fail operations). */
  disk?: Disk;
  /** Called after each step of a snapshot; tests copy the data directory here to simulate crashes. */
  onSnapshotStep?: (step: SnapshotStep) => void | Promise<void>;
}

export interface CatalogStats extends JournalStats {
  generation: number;
  journalBytes: number;
  journalRecords: number;
  snapshots: number;
}

export class Catalog {
  private readonly now: () => number;
  private readonly journalBytesMax: number;
  private readonly journalRecordsMax: number;
  private readonly log: Log;
  private readonly onSnapshotStep: ((step: SnapshotStep) => void | Promise<void>) | undefined;
  private readonly disk: Disk;
  private readonly namespace: Namespace;
  private readonly users: Users;
  private readonly knownNodes: KnownNodes;
  private readonly replicas: Replicas;
  private snapshotting: Promise<void> | undefined;
  private snapshots = 0;
  private journalFailureLogged = false;
  /** Reloading the durable state after a journal write failed; changes wait for it. */
  private recovering: Promise<void> | undefined;
  private closing = false;
  private closed = false;

  private constructor(
    private readonly directory: string,
    private db: SqlDatabase,
    private journal: JournalWriter,
    options: CatalogOptions,
  ) {
    this.disk = options.disk ?? nodeDisk;
    this.now = options.now ?? Date.now;
    this.journalBytesMax = options.journalBytesMax ?? JOURNAL_BYTES_MAX_DEFAULT;
    this.journalRecordsMax = options.journalRecordsMax ?? JOURNAL_RECORDS_MAX_DEFAULT;
    this.log = options.log ?? silentLog;
    this.onSnapshotStep = options.onSnapshotStep;
    const database = (): SqlDatabase => this.db;
    const core: CatalogCore = {
      get db() {
        return database();
      },
      checkOpen: () => this.checkOpen(),
      mutate: (work) => this.mutate(work),
      timestamp: () => this.timestamp(),
    };
    this.namespace = new Namespace(core);
    this.users = new Users(core, this.namespace);
    this.knownNodes = new KnownNodes(core);
    this.replicas = new Replicas(core);
  }

  /** Loads the snapshot in `directory` (if any), replays the journals that follow it, and cuts a torn tail. */
  static async open(directory: string, options: CatalogOptions = {}): Promise<Catalog> {
    const disk = options.disk ?? nodeDisk;
    await disk.makeDirectory(directory);
    const { db, journal } = await loadDurable(directory, disk);
    return new Catalog(directory, db, journal, options);
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes the master has known (nodes.ts)

  nodesKnown(): KnownNode[] {
    return this.knownNodes.list();
  }

  /** FORBIDDEN for a forgotten node. */
  nodeRegistered(nodeId: string, advertise: string, nowMs: number): Promise<void> {
    return this.knownNodes.registered(nodeId, advertise, nowMs);
  }

  setNodeDrain(nodeId: string, drain: boolean): Promise<void> {
    return this.knownNodes.setDrain(nodeId, drain);
  }

  /** Forgets a node and every copy recorded there. */
  forgetNode(nodeId: string): Promise<void> {
    return this.knownNodes.forget(nodeId);
  }

  // Users (users.ts)

  getUser(name: string): UserRecord | undefined {
    return this.users.getUser(name);
  }

  getUserById(id: number): UserRecord | undefined {
    return this.users.getUserById(id);
  }

  listUsers(): UserRecord[] {
    return this.users.listUsers();
  }

  usersAfter(after: string | undefined): { users: UserRecord[]; next: string | undefined } {
    return this.users.usersAfter(after);
  }

  /** A new user with an empty root directory. EXISTS if the name is taken. */
  createUser(name: string, secret: { salt: Buffer; hash: Buffer } | null, admin: boolean): Promise<UserRecord> {
    return this.users.createUser(name, secret, admin);
  }

  /** Sets (or with null, removes) a user's password. */
  setPassword(userId: number, secret: { salt: Buffer; hash: Buffer } | null): Promise<void> {
    return this.users.setPassword(userId, secret);
  }

  /** The user's files and their bytes (sizes, not replicas). */
  usage(userId: number): { files: number; bytes: number } {
    return this.users.usage(userId);
  }

  setQuota(userId: number, quota: Quota): Promise<void> {
    return this.users.setQuota(userId, quota);
  }

  /** Deletes a user (NOT_EMPTY while they own files, unless `withFiles`); returns the blobs freed. */
  deleteUser(userId: number, withFiles: boolean): Promise<{ files: number; blobIds: string[] }> {
    return this.users.deleteUser(userId, withFiles);
  }

  // ---------------------------------------------------------------------------------------------
  // The namespace (namespace.ts, where each rule is described)

  stat(owner: number, path: string): Entry {
    return this.namespace.stat(owner, path);
  }

  lookup(owner: number, path: string): Entry | undefined {
    return this.namespace.lookup(owner, path);
  }

  list(owner: number, path: string, options: PageOptions = {}): Page<Entry> {
    return this.namespace.list(owner, path, options);
  }

  find(owner: number, path: string, filter: FindFilter, options: PageOptions = {}): Page<Entry> {
    return this.namespace.find(owner, path, filter, options);
  }

  du(owner: number, path: string, options: { summary: boolean } & PageOptions): Page<{ path: string; bytes: number }> {
    return this.namespace.du(owner, path, options);
  }

  tree(owner: number, path: string, options: PageOptions = {}): Page<Entry> {
    return this.namespace.tree(owner, path, options);
  }

  entryCount(): number {
    return this.namespace.entryCount();
  }

  mkdir(owner: number, path: string, options: { parents?: boolean | undefined } = {}): Promise<Entry> {
    return this.namespace.mkdir(owner, path, options);
  }

  createFile(owner: number, path: string, file: Omit<FileCommit, 'owner' | 'path'>): Promise<WrittenEntry> {
    return this.namespace.createFile(owner, path, file);
  }

  commitFiles(files: readonly FileCommit[]): Promise<WrittenEntry[]> {
    return this.namespace.commitFiles(files);
  }

  createFiles(owner: number, directory: string, files: readonly { name: string; size: number; blobId: string; sha256: string }[]): Promise<{ created: number }> {
    return this.namespace.createFiles(owner, directory, files);
  }

  touch(owner: number, path: string): Promise<Entry> {
    return this.namespace.touch(owner, path);
  }

  /** Sets the replication factor of a file (or with `recursive` every file under a directory); how many. */
  setReplication(owner: number, path: string, want: number, recursive: boolean): Promise<number> {
    return this.namespace.setReplication(owner, path, want, recursive);
  }

  /** The factors setrep gave these blobs (absent: the master's --replicas). */
  wantsOf(blobIds: readonly string[]): Map<string, number> {
    return this.replicas.wantsOf(blobIds);
  }

  remove(owner: number, path: string, options: { recursive?: boolean | undefined } = {}): Promise<{ removed: number; blobIds: string[] }> {
    return this.namespace.remove(owner, path, options);
  }

  move(owner: number, source: string, target: string): Promise<WrittenEntry> {
    return this.namespace.move(owner, source, target);
  }

  // ---------------------------------------------------------------------------------------------
  // Replicas: which nodes hold which blob (replicas.ts)

  replicasOf(blobId: string): Replica[] {
    return this.replicas.replicasOf(blobId);
  }

  replicasOfBlobs(blobIds: readonly string[]): Map<string, Replica[]> {
    return this.replicas.replicasOfBlobs(blobIds);
  }

  filesAfter(afterId: number, limit: number): { id: number; owner: number; blobId: string; size: number; sha256: string }[] {
    return this.replicas.filesAfter(afterId, limit);
  }

  replicasOn(nodeId: string): Map<string, ReplicaState> {
    return this.replicas.replicasOn(nodeId);
  }

  blobFiles(blobIds: readonly string[]): Map<string, { size: number; sha256: string; owner: number }> {
    return this.replicas.blobFiles(blobIds);
  }

  replicaNodes(): string[] {
    return this.replicas.replicaNodes();
  }

  changeReplicas(changes: readonly { blobId: string; nodeId: string; state: ReplicaState | null }[]): Promise<void> {
    return this.replicas.changeReplicas(changes);
  }

  setReplica(blobId: string, nodeId: string, state: ReplicaState): Promise<void> {
    return this.replicas.setReplica(blobId, nodeId, state);
  }

  addReplica(blobId: string, nodeId: string): Promise<ReplicaState> {
    return this.replicas.addReplica(blobId, nodeId);
  }

  addReplicas(copies: readonly { blobId: string; nodeId: string }[]): Promise<ReplicaState[]> {
    return this.replicas.addReplicas(copies);
  }

  forgetReplica(blobId: string, nodeId: string): Promise<void> {
    return this.replicas.forgetReplica(blobId, nodeId);
  }

  replicasToDelete(limit: number): { blobId: string; nodeId: string }[] {
    return this.replicas.replicasToDelete(limit);
  }

  // ---------------------------------------------------------------------------------------------
  // Durability

  stats(): CatalogStats {
    const { generation, bytes: journalBytes, records: journalRecords } = this.journal;
    return { ...this.journal.stats, generation, journalBytes, journalRecords, snapshots: this.snapshots };
  }

  /**
   * Exports the database now (synchronously) and switches appends to the next journal generation,
   * then writes the image to catalog.snapshot.tmp, fsyncs, renames it over catalog.snapshot, fsyncs
   * the directory and deletes the journals it covers. One snapshot at a time; a call during one
   * waits for it and then takes its own.
   */
  async snapshot(): Promise<void> {
    while (this.snapshotting) await this.snapshotting.catch(() => undefined);
    this.checkOpen();
    this.checkJournal();
    const run = this.takeSnapshot();
    this.snapshotting = run;
    try {
      await run;
    } finally {
      this.snapshotting = undefined;
    }
  }

  /** The catalog as a snapshot file's bytes, exported now (synchronously, so it is one moment's state) for a backup:
   * a master started on a directory holding it loads it as its own. The journal goes on as it was. */
  backupSnapshot(): Buffer[] {
    this.checkOpen();
    return snapshotFile(this.db.export());
  }

  /** Takes a last snapshot (unless the journal failed) and releases everything. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    while (this.snapshotting) await this.snapshotting.catch(() => undefined);
    try {
      if (!this.journal.failed) await this.snapshot();
    } finally {
      this.closed = true;
      await this.journal.close();
      this.db.close();
    }
  }

  private takeSnapshot(): Promise<void> {
    const { image, generation } = exportSnapshot(this.db, this.journal);
    const target = {
      directory: this.directory,
      disk: this.disk,
      journal: this.journal,
      onStep: this.onSnapshotStep,
      onRenamed: () => {
        this.snapshots++;
      },
    };
    return persistSnapshot(target, image, generation);
  }

  private snapshotIfJournalFull(): void {
    const full = this.journal.bytes >= this.journalBytesMax || this.journal.records >= this.journalRecordsMax;
    if (!full || this.snapshotting || this.closing) return;
    this.snapshot().catch((error: unknown) => {
      this.log.warn(`catalog: background snapshot failed (the journal still holds everything): ${describe(error)}`);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Mutations: one transaction, one journal record, resolved after the fsync that covers it.

  private mutate<T>(work: (recorder: StatementRecorder) => T): Promise<T> {
    this.checkOpen();
    if (this.closing) throw new DfsError('UNAVAILABLE', 'the catalog is closing');
    this.checkJournal();
    if (this.journal.backlogBytes > JOURNAL_BACKLOG_BYTES_MAX) {
      throw new DfsError('RATE_LIMITED', 'the catalog journal is behind; retry shortly');
    }
    this.namespace.beginTransaction();
    let payload: Buffer | undefined;
    let result: T;
    try {
      // The record is encoded before COMMIT: a change that cannot be journaled is rolled back.
      ({ result } = this.db.transaction(work, (statements) => {
        payload = statements.length === 0 ? undefined : encodeStatements(statements);
        if (payload && payload.length > JOURNAL_RECORD_BYTES_MAX) {
          throw new DfsError('BAD_REQUEST', `this change would need a ${payload.length}-byte journal record; the limit is ${JOURNAL_RECORD_BYTES_MAX}`);
        }
      }));
    } catch (error) {
      this.namespace.endTransaction(false); // rolled back
      throw error;
    }
    this.namespace.endTransaction(true);
    // Nothing changed (mkdir -p of an existing directory): still wait for what it observed to be durable.
    const durable = payload === undefined ? this.journal.barrier() : this.journal.append(payload);
    if (payload !== undefined) this.snapshotIfJournalFull();
    return durable.then(
      () => result,
      (error: unknown) => {
        throw this.journalError(error);
      },
    );
  }

  private checkOpen(): void {
    if (this.closed) throw new DfsError('UNAVAILABLE', 'the catalog is closed');
  }

  private checkJournal(): void {
    if (this.recovering) throw new DfsError('UNAVAILABLE', 'the master is rolling back a change it could not write to its journal; retry shortly');
    if (this.journal.failed) throw this.journalError(this.journal.failed);
  }

  /**
   * A journal write failed (a full or failing disk): the change it carried, and any made in memory after it, were
   * never acknowledged, so they are rolled back by loading the catalog again from disk (snapshot and journal, a
   * torn tail cut), and changes are accepted again — and fail again, cleanly, while the disk stays full.
   */
  private journalError(cause: unknown): DfsError {
    if (!this.journalFailureLogged) this.log.error(`catalog: ${describe(cause)}; rolling back to what the disk holds`);
    this.journalFailureLogged = true;
    this.recover();
    const full = /ENOSPC|EDQUOT/.test(describe(cause));
    return full
      ? new DfsError('NO_SPACE', "the master's disk is full: the change was not made (free space on the master to go on)")
      : new DfsError('UNAVAILABLE', 'the master could not write its journal: the change was not made; retry shortly');
  }

  private recover(): void {
    if (this.recovering || this.closing) return;
    this.recovering = (async () => {
      while (this.snapshotting) await this.snapshotting.catch(() => undefined);
      await this.journal.close().catch(() => undefined);
      await cutUnacknowledged(this.directory, this.journal.durableBytes, this.disk);
      const { db, journal } = await loadDurable(this.directory, this.disk);
      const stale = this.db;
      this.db = db;
      this.journal = journal;
      stale.close();
      this.namespace.recount();
      this.journalFailureLogged = false;
      this.log.warn('catalog: rolled back to the journal on disk; accepting changes again');
    })()
      .catch((error: unknown) => this.log.error(`catalog: cannot load the catalog from disk again: ${describe(error)}; trying again at the next change`))
      .finally(() => {
        this.recovering = undefined;
      });
  }

  private timestamp(): number {
    return Math.floor(this.now());
  }
}
