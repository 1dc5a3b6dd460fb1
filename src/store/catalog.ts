// The master's catalog: users and every user's namespace, in an in-memory sql.js database made
// durable by snapshot + journal. Reads are synchronous; a mutation runs as one SQL
// transaction whose statements become one journal record, and its promise resolves only once that
// record is fsynced. This file owns the schema, the namespace rules (what each operation may do, and
// its errors), and the snapshot/replay orchestration; journal.ts owns the bytes on disk, sqljs.ts the
// database wrapper.
//
// Paths are stored as an order-preserving *path key*: "/" becomes \x01 and the bytes \x01-\x2e move
// up by one, so that sorting keys bytewise lists a directory right before its subtree and siblings
// by name (a pre-order walk). Sorting raw paths would not: "/a.txt" sorts between "/a" and "/a/x".
// Every subtree is then one index range [key, upper(key)), so find, du, tree, rm -r and mv are range
// scans and single range statements, never recursion.

import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import {
  BLOB_ID_BYTES_MAX,
  CREATE_FILES_BATCH_MAX,
  GLOB_BYTES_MAX,
  JOURNAL_BACKLOG_BYTES_MAX,
  JOURNAL_BYTES_MAX_DEFAULT,
  JOURNAL_RECORD_BYTES_MAX,
  JOURNAL_RECORDS_MAX_DEFAULT,
  JOURNAL_REPLAY_RECORDS_PER_TRANSACTION,
  NAME_BYTES_MAX,
  PAGE_ENTRIES_DEFAULT,
  PAGE_ENTRIES_MAX,
  PATH_BYTES_MAX,
  SECRET_BYTES_MAX,
  USER_NAME_BYTES_MAX,
} from '../limits';
import { silentLog, type Log } from '../log';
import { DfsError } from '../net/errors';
import { baseName, isWithin, joinPath, parentOf, ROOT, validateName, validatePath } from '../paths';
import { nodeDisk, type Disk } from './disk';
import {
  JournalWriter,
  journalFileName,
  listJournalGenerations,
  readJournal,
  type JournalScan,
  type JournalStats,
} from './journal';
import { decodeStatements, encodeStatements, loadSqlJs, SqlDatabase, type RecordedStatement, type SqlParam, type SqlRow, type StatementRecorder } from './sqljs';

export type EntryKind = 'file' | 'dir';

export interface Entry {
  path: string;
  name: string;
  kind: EntryKind;
  /** Files: bytes. Directories: the total bytes of every file beneath them. */
  size: number;
  mtimeMs: number;
  blobId: string | null;
  sha256: string | null;
}

/** A copy of a blob on a node, as the catalog knows it: good; bad (missing or damaged there); or
 * deleting (no file needs it any more; the node is asked to remove it, and the row goes when it has). */
export type ReplicaState = 'good' | 'bad' | 'deleting';

export interface Replica {
  nodeId: string;
  state: ReplicaState;
}

export interface UserRecord {
  id: number;
  name: string;
  admin: boolean;
  /** Both null for a user without a password (`shared`). */
  salt: Buffer | null;
  hash: Buffer | null;
  createdMs: number;
}

/** `next` is the cursor to pass as `after` for the following page; undefined on the last page. */
export interface Page<T> {
  items: T[];
  next: string | undefined;
}

/** GNU find -size: ceil(size / unitBytes) compared with count. */
export interface SizeFilter {
  cmp: 'gt' | 'lt' | 'eq';
  count: number;
  unitBytes: number;
}

export interface FindFilter {
  /** Glob (* ? [...]) matched against the entry name, like find -name. */
  name?: string | undefined;
  type?: EntryKind | undefined;
  size?: SizeFilter | undefined;
}

export interface PageOptions {
  after?: string | undefined;
  limit?: number | undefined;
}

export type SnapshotStep = 'exported' | 'written' | 'renamed' | 'cleaned';

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

const SCHEMA_VERSION = 2;
const SNAPSHOT_FILE = 'catalog.snapshot';
const SNAPSHOT_TEMPORARY_FILE = 'catalog.snapshot.tmp';
/** A snapshot file is [magic 8][u32 CRC32 of the image][u32 0][SQLite image]. */
const SNAPSHOT_MAGIC = Buffer.from('DFSCAT01');
const SNAPSHOT_HEADER_BYTES = 16;

const DIR = 0;
const FILE = 1;

// Which nodes hold which blob (state: REPLICA_STATES index). Version 2 added it; a version-1
// snapshot gets the empty table at open (MIGRATE_1_TO_2), before its journal is replayed.
const REPLICAS_SCHEMA = `
CREATE TABLE replicas (blob TEXT NOT NULL, node TEXT NOT NULL, state INTEGER NOT NULL, PRIMARY KEY (blob, node)) WITHOUT ROWID;
CREATE INDEX replicas_by_state ON replicas (state, node);
`;
const MIGRATE_1_TO_2 = `${REPLICAS_SCHEMA} UPDATE meta SET value = 2 WHERE key = 'schema';`;
const REPLICA_STATES: readonly ReplicaState[] = ['good', 'bad', 'deleting'];
const GOOD = 0;
const DELETING = 2;
const NODE_ID = /^[a-z0-9-]{1,64}$/;

// sha256 is stored as its 32 raw bytes (half the size of its hex). A root's parent is -(owner id),
// never an entry id, so that (parent, name) stays unique across all users' roots.
const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, salt BLOB, hash BLOB,
  admin INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE entries (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, parent INTEGER NOT NULL,
  name TEXT NOT NULL, path_key TEXT NOT NULL, kind INTEGER NOT NULL, size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL, blob TEXT, sha256 BLOB);
CREATE UNIQUE INDEX entries_by_path ON entries (owner, path_key);
CREATE UNIQUE INDEX entries_by_parent ON entries (parent, name);
${REPLICAS_SCHEMA}
INSERT INTO meta (key, value) VALUES ('schema', ${SCHEMA_VERSION}), ('generation', 1);
`;

// sha256 is read as hex(): sql.js returns a BLOB as a freshly allocated Uint8Array, and allocating
// (and collecting) two of those per row made ls of 10,000 entries twice as slow.
const ROW = 'id, parent, name, path_key, kind, size, mtime_ms, blob, hex(sha256)';
// Pages read only what an Entry needs: every column read through sql.js costs about a microsecond.
const LISTED = 'name, kind, size, mtime_ms, blob, hex(sha256)';
const LISTED_WITH_KEY = `${LISTED}, path_key`;
const USER = 'id, name, admin, salt, hash, created_ms';

// Every statement text is a constant: the statement cache is keyed by it and the journal records it.
const SQL = {
  meta: `SELECT value FROM meta WHERE key = ?1`,
  entry: `SELECT ${ROW} FROM entries WHERE owner = ?1 AND path_key = ?2`,
  entriesAt: `SELECT ${ROW} FROM entries WHERE owner = ?1 AND path_key IN (SELECT value FROM json_each(?2)) ORDER BY path_key`,
  children: `SELECT ${LISTED} FROM entries WHERE parent = ?1 AND name > ?2 ORDER BY name LIMIT ?3`,
  anyChild: `SELECT 1 FROM entries WHERE parent = ?1 LIMIT 1`,
  child: `SELECT 1 FROM entries WHERE parent = ?1 AND name = ?2`,
  parentOf: `SELECT parent FROM entries WHERE id = ?1`,
  range: `SELECT ${LISTED_WITH_KEY} FROM entries WHERE owner = ?1 AND path_key >= ?2 AND path_key < ?3 ORDER BY path_key LIMIT ?4`,
  rangeDirectories: `SELECT path_key, size FROM entries WHERE owner = ?1 AND path_key >= ?2 AND path_key < ?3 AND kind = ${DIR} ORDER BY path_key LIMIT ?4`,
  rangeFind:
    `SELECT ${LISTED_WITH_KEY} FROM entries WHERE owner = ?1 AND path_key >= ?2 AND path_key < ?3` +
    ` AND (?4 IS NULL OR name GLOB ?4) AND (?5 IS NULL OR kind = ?5)` +
    ` AND (?6 IS NULL OR CASE ?6 WHEN 'gt' THEN (size + ?7 - 1) / ?7 > ?8 WHEN 'lt' THEN (size + ?7 - 1) / ?7 < ?8` +
    ` ELSE (size + ?7 - 1) / ?7 = ?8 END) ORDER BY path_key LIMIT ?9`,
  // Key bytes equal path bytes: the key encoding maps ASCII to ASCII one for one.
  rangeLongestKey: `SELECT max(length(CAST(path_key AS BLOB))) FROM entries WHERE owner = ?1 AND path_key > ?2 AND path_key < ?3`,
  rangeBlobs: `SELECT blob FROM entries WHERE owner = ?1 AND path_key > ?2 AND path_key < ?3 AND kind = ${FILE}`,
  maxEntryId: `SELECT coalesce(max(id), 0) FROM entries`,
  countEntries: `SELECT count(*) FROM entries`,
  insertEntry: `INSERT INTO entries (id, owner, parent, name, path_key, kind, size, mtime_ms, blob, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
  updateFile: `UPDATE entries SET size = ?2, mtime_ms = ?3, blob = ?4, sha256 = ?5 WHERE id = ?1`,
  // A directory changed: ?1 bytes more below it and every ancestor, its mtime set to ?2 (past
  // CHAIN_ARITY_MAX ids; below it the arity-specific form in chainStatements).
  changeChain: `UPDATE entries SET size = size + ?1, mtime_ms = CASE id WHEN ?3 THEN ?2 ELSE mtime_ms END WHERE id IN (SELECT value FROM json_each(?4))`,
  touch: `UPDATE entries SET mtime_ms = ?2 WHERE id = ?1`,
  deleteEntry: `DELETE FROM entries WHERE id = ?1`,
  deleteRange: `DELETE FROM entries WHERE owner = ?1 AND path_key > ?2 AND path_key < ?3`,
  moveEntry: `UPDATE entries SET parent = ?2, name = ?3, path_key = ?4 WHERE id = ?1`,
  moveRange: `UPDATE entries SET path_key = ?4 || substr(path_key, ?5) WHERE owner = ?1 AND path_key > ?2 AND path_key < ?3`,
  user: `SELECT ${USER} FROM users WHERE name = ?1`,
  userById: `SELECT ${USER} FROM users WHERE id = ?1`,
  users: `SELECT ${USER} FROM users ORDER BY id`,
  maxUserId: `SELECT coalesce(max(id), 0) FROM users`,
  insertUser: `INSERT INTO users (id, name, salt, hash, admin, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
  setPassword: `UPDATE users SET salt = ?2, hash = ?3 WHERE id = ?1`,
  replicasOf: `SELECT node, state FROM replicas WHERE blob = ?1 ORDER BY node`,
  replicasOfBlobs: `SELECT blob, node, state FROM replicas WHERE blob IN (SELECT value FROM json_each(?1)) ORDER BY blob, node`,
  putReplica: `INSERT OR REPLACE INTO replicas (blob, node, state) VALUES (?1, ?2, ?3)`,
  setReplicaState: `UPDATE replicas SET state = ?3 WHERE blob = ?1 AND node = ?2`,
  freeReplicas: `UPDATE replicas SET state = ${DELETING} WHERE blob IN (SELECT value FROM json_each(?1))`,
  deleteReplica: `DELETE FROM replicas WHERE blob = ?1 AND node = ?2`,
  // A copy of a blob a file references is good; of any other blob (its file went away), to be deleted.
  // A copy already recorded keeps its state: a late report never revives or condemns it.
  addReplica: `INSERT OR IGNORE INTO replicas (blob, node, state) VALUES (?1, ?2,
    CASE WHEN EXISTS (SELECT 1 FROM entries WHERE blob = ?1) THEN ${GOOD} ELSE ${DELETING} END)`,
  replicasDeleting: `SELECT blob, node FROM replicas WHERE state = ${DELETING} ORDER BY node, blob LIMIT ?1`,
  filesAfter: `SELECT id, owner, blob, size, hex(sha256) FROM entries WHERE id > ?1 AND kind = ${FILE} AND blob IS NOT NULL ORDER BY id LIMIT ?2`,
  // (state, node) is indexed: naming every state makes the node lookup an index range.
  replicasOn: `SELECT blob, state FROM replicas WHERE state IN (0, 1, 2) AND node = ?1`,
  replicaNodes: `SELECT DISTINCT node FROM replicas`,
  filesOfBlobs: `SELECT blob, size, hex(sha256) FROM entries WHERE blob IN (SELECT value FROM json_each(?1))`,
} as const;

// An IN list of parameters runs twice as fast as json_each: one statement text per depth (cached),
// and past CHAIN_ARITY_MAX the json_each form, so the statement cache stays bounded.
const CHAIN_ARITY_MAX = 32;
const chainStatements = Array.from({ length: CHAIN_ARITY_MAX + 1 }, (_, arity) => {
  const ids = Array.from({ length: arity }, (_, index) => `?${index + 3}`).join(', ');
  return `UPDATE entries SET size = size + ?1, mtime_ms = CASE id WHEN ?3 THEN ?2 ELSE mtime_ms END WHERE id IN (${ids})`;
});

interface EntryRow {
  id: number;
  parent: number;
  name: string;
  key: string;
  kind: number;
  size: number;
  mtimeMs: number;
  blobId: string | null;
  sha256: string | null;
}

const USER_NAME = /^[a-z_][a-z0-9_.-]*$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export class Catalog {
  private readonly now: () => number;
  private readonly journalBytesMax: number;
  private readonly journalRecordsMax: number;
  private readonly log: Log;
  private readonly onSnapshotStep: ((step: SnapshotStep) => void | Promise<void>) | undefined;
  private entries: number;
  private nextEntryId: number;
  /** Entries added (negative: removed) by the transaction in progress; applied when it commits. */
  private pendingEntries = 0;
  private snapshotting: Promise<void> | undefined;
  private snapshots = 0;
  private journalFailureLogged = false;
  /** Reloading the durable state after a journal write failed; changes wait for it. */
  private recovering: Promise<void> | undefined;
  private closing = false;
  private closed = false;
  private readonly disk: Disk;

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
    this.entries = integer(db.first(SQL.countEntries, [])?.[0]);
    this.nextEntryId = integer(db.first(SQL.maxEntryId, [])?.[0]) + 1;
  }

  /** Loads the snapshot in `directory` (if any), replays the journals that follow it, and cuts a torn tail. */
  static async open(directory: string, options: CatalogOptions = {}): Promise<Catalog> {
    const disk = options.disk ?? nodeDisk;
    await disk.makeDirectory(directory);
    const { db, journal } = await loadDurable(directory, disk);
    return new Catalog(directory, db, journal, options);
  }

  // ---------------------------------------------------------------------------------------------
  // Users

  getUser(name: string): UserRecord | undefined {
    this.checkOpen();
    const row = this.db.first(SQL.user, [name]);
    return row && toUser(row);
  }

  getUserById(id: number): UserRecord | undefined {
    this.checkOpen();
    const row = this.db.first(SQL.userById, [id]);
    return row && toUser(row);
  }

  listUsers(): UserRecord[] {
    this.checkOpen();
    return this.db.all(SQL.users, []).map(toUser);
  }

  /** A new user with an empty root directory. EXISTS if the name is taken. */
  async createUser(name: string, secret: { salt: Buffer; hash: Buffer } | null, admin: boolean): Promise<UserRecord> {
    checkUserName(name);
    checkSecret(secret);
    return this.mutate((recorder) => {
      if (this.db.first(SQL.user, [name])) throw new DfsError('EXISTS', `user ${name} already exists`);
      const id = integer(this.db.first(SQL.maxUserId, [])?.[0]) + 1;
      const now = this.timestamp();
      recorder.run(SQL.insertUser, [id, name, secret?.salt ?? null, secret?.hash ?? null, admin ? 1 : 0, now]);
      this.insertEntry(recorder, { owner: id, parent: -id, path: ROOT, kind: DIR, size: 0, now, blobId: null, sha256: null });
      return { id, name, admin, salt: secret?.salt ?? null, hash: secret?.hash ?? null, createdMs: now };
    });
  }

  /** Sets (or with null, removes) a user's password. */
  async setPassword(userId: number, secret: { salt: Buffer; hash: Buffer } | null): Promise<void> {
    checkSecret(secret);
    await this.mutate((recorder) => {
      if (!this.db.first(SQL.userById, [userId])) throw new DfsError('NOT_FOUND', `no user with id ${userId}`);
      recorder.run(SQL.setPassword, [userId, secret?.salt ?? null, secret?.hash ?? null]);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Reading the namespace

  stat(owner: number, path: string): Entry {
    this.checkOpen();
    checkPath(path);
    return toEntry(this.requireEntry(owner, path));
  }

  /** The entry at `path`, or undefined: stat without the error (one lookup; stat explains a miss). */
  lookup(owner: number, path: string): Entry | undefined {
    this.checkOpen();
    checkPath(path);
    const row = this.entryAt(owner, path);
    return row && toEntry(row);
  }

  /** A directory's children by name (byte order); `after` is the last name of the previous page. */
  list(owner: number, path: string, options: PageOptions = {}): Page<Entry> {
    this.checkOpen();
    checkPath(path);
    const limit = pageLimit(options.limit);
    const after = options.after ?? '';
    if (typeof after !== 'string' || Buffer.byteLength(after) > NAME_BYTES_MAX) throw new DfsError('BAD_REQUEST', 'invalid page cursor');
    const directory = this.requireEntry(owner, path);
    if (directory.kind !== DIR) throw new DfsError('NOT_A_DIRECTORY', 'not a directory');
    const entries = this.db.all(SQL.children, [directory.id, after, limit + 1]).map((row) => listedEntry(row, joinPath(path, text(row[0]))));
    return page(entries, limit, (entry) => entry.name);
  }

  /** Entries at or below `path` that match every given filter, in path order (find). */
  find(owner: number, path: string, filter: FindFilter, options: PageOptions = {}): Page<Entry> {
    this.checkOpen();
    const { start, end, limit } = this.subtreePage(owner, path, options);
    const glob = filter.name === undefined ? null : toSqliteGlob(checkGlob(filter.name));
    const kind = filter.type === undefined ? null : kindOf(filter.type);
    const size = filter.size === undefined ? null : checkSizeFilter(filter.size);
    const params = [owner, start, end, glob, kind, size?.cmp ?? null, size?.unitBytes ?? 1, size?.count ?? 0, limit + 1];
    const entries = this.db.all(SQL.rangeFind, params).map((row) => listedEntry(row, keyToPath(text(row[6]))));
    return page(entries, limit, (entry) => entry.path);
  }

  /** Bytes per directory at or below `path` (summary: `path` alone; a file: the file), in path order. */
  du(owner: number, path: string, options: { summary: boolean } & PageOptions): Page<{ path: string; bytes: number }> {
    this.checkOpen();
    const { top, start, end, limit } = this.subtreePage(owner, path, options);
    if (options.summary || top.kind === FILE) {
      const items = options.after === undefined ? [{ path, bytes: top.size }] : [];
      return { items, next: undefined };
    }
    const rows = this.db.all(SQL.rangeDirectories, [owner, start, end, limit + 1]);
    return page(
      rows.map((row) => ({ path: keyToPath(text(row[0])), bytes: integer(row[1]) })),
      limit,
      (item) => item.path,
    );
  }

  /** `path` and everything below it in path order: each directory right before its contents. */
  tree(owner: number, path: string, options: PageOptions = {}): Page<Entry> {
    this.checkOpen();
    const { start, end, limit } = this.subtreePage(owner, path, options);
    const entries = this.db.all(SQL.range, [owner, start, end, limit + 1]).map((row) => listedEntry(row, keyToPath(text(row[6]))));
    return page(entries, limit, (entry) => entry.path);
  }

  entryCount(): number {
    return this.entries;
  }

  stats(): CatalogStats {
    const { generation, bytes: journalBytes, records: journalRecords } = this.journal;
    return { ...this.journal.stats, generation, journalBytes, journalRecords, snapshots: this.snapshots };
  }

  // ---------------------------------------------------------------------------------------------
  // Changing the namespace

  /** EXISTS (unless `parents` and it is a directory); NOT_FOUND parent without `parents`; NOT_A_DIRECTORY. */
  async mkdir(owner: number, path: string, options: { parents?: boolean | undefined } = {}): Promise<Entry> {
    checkPath(path);
    return this.mutate((recorder) => {
      const existing = this.entryAt(owner, path);
      if (existing) {
        if (options.parents && existing.kind === DIR) return toEntry(existing);
        throw new DfsError('EXISTS', 'file exists');
      }
      const now = this.timestamp();
      const made = { owner, path, kind: DIR, size: 0, now, blobId: null, sha256: null };
      if (!options.parents) {
        const parent = this.requireParentDirectory(owner, path);
        this.insertEntry(recorder, { ...made, parent: parent.id });
        recorder.run(SQL.touch, [parent.id, now]);
        return newEntry(made);
      }
      const ancestors = this.existingAncestors(owner, path);
      const deepest = ancestors[ancestors.length - 1];
      if (deepest === undefined) throw new DfsError('NOT_FOUND', 'no such user namespace');
      if (deepest.kind !== DIR) throw new DfsError('NOT_A_DIRECTORY', `not a directory: ${keyToPath(deepest.key)}`);
      let parentId = deepest.id;
      for (const missing of [...ancestorPaths(path).slice(ancestors.length), path]) {
        parentId = this.insertEntry(recorder, { ...made, parent: parentId, path: missing });
      }
      recorder.run(SQL.touch, [deepest.id, now]);
      return newEntry(made);
    });
  }

  /**
   * Commits a file (its bytes are already on the nodes). The parent must be a directory; an existing
   * file is replaced only with `overwrite`, and its blob id is returned so its bytes can be freed.
   */
  async createFile(
    owner: number,
    path: string,
    file: { size: number; blobId: string; sha256: string; overwrite: boolean; nodeIds?: readonly string[] },
  ): Promise<{ entry: Entry; replacedBlobId: string | null }> {
    const [made] = await this.commitFiles([{ owner, path, ...file }]);
    if (!made) throw new Error('catalog: a committed file went missing');
    return made;
  }

  /**
   * Commits uploaded files (each with its blob and the nodes holding a good copy) as one transaction and one
   * journal record: all or nothing (a batch of put -r; createFile is a batch of one).
   */
  async commitFiles(
    files: readonly { owner: number; path: string; size: number; blobId: string; sha256: string; overwrite: boolean; nodeIds?: readonly string[] }[],
  ): Promise<{ entry: Entry; replacedBlobId: string | null }[]> {
    for (const file of files) {
      checkPath(file.path);
      checkFile(file);
      for (const nodeId of file.nodeIds ?? []) checkNodeId(nodeId);
    }
    return this.mutate((recorder) => {
      const now = this.timestamp();
      // A batch's files share directories: each parent is looked up, and its size chain updated, once.
      const parents = new Map<string, EntryRow>();
      const growth = new Map<number, number>();
      const made = files.map((file) => {
        const { owner, path } = file;
        const sha256 = file.sha256.toLowerCase();
        const existing = this.entryAt(owner, path);
        if (existing?.kind === DIR) throw new DfsError('IS_A_DIRECTORY', files.length > 1 ? `${path}: is a directory` : 'is a directory');
        if (existing && !file.overwrite) throw new DfsError('EXISTS', files.length > 1 ? `${path}: file exists` : 'file exists');
        const parentKey = `${owner}:${parentOf(path)}`;
        const parent = parents.get(parentKey) ?? this.requireParentDirectory(owner, path);
        parents.set(parentKey, parent);
        const entry = { owner, parent: parent.id, path, kind: FILE, size: file.size, now, blobId: file.blobId, sha256 };
        if (existing) {
          recorder.run(SQL.updateFile, [existing.id, file.size, now, file.blobId, Buffer.from(sha256, 'hex')]);
        } else {
          this.insertEntry(recorder, entry);
        }
        growth.set(parent.id, (growth.get(parent.id) ?? 0) + file.size - (existing?.size ?? 0));
        const replacedBlobId = existing && existing.blobId !== file.blobId ? existing.blobId : null;
        for (const nodeId of file.nodeIds ?? []) recorder.run(SQL.putReplica, [file.blobId, nodeId, GOOD]);
        if (replacedBlobId !== null) this.freeReplicas(recorder, [replacedBlobId]);
        return { entry: newEntry(entry), replacedBlobId };
      });
      for (const [parentId, delta] of growth) this.changeDirectory(recorder, parentId, delta, now);
      return made;
    });
  }

  /**
   * Commits many new files into one directory as one transaction and one journal record (bulk
   * imports, benchmarks). All or nothing: EXISTS if any name exists or repeats.
   */
  async createFiles(
    owner: number,
    directory: string,
    files: readonly { name: string; size: number; blobId: string; sha256: string }[],
  ): Promise<{ created: number }> {
    checkPath(directory);
    if (!Array.isArray(files) || files.length > CREATE_FILES_BATCH_MAX) throw new DfsError('BAD_REQUEST', `at most ${CREATE_FILES_BATCH_MAX} files per batch`);
    const names = new Set<string>();
    for (const file of files) {
      if (typeof file.name !== 'string') throw new DfsError('BAD_REQUEST', 'a file name must be a string');
      validateName(file.name); // joinPath alone would accept "a/b" as a deeper path
      checkPath(joinPath(directory, file.name));
      checkFile(file);
      if (names.has(file.name)) throw new DfsError('EXISTS', `${file.name} appears twice in the batch`);
      names.add(file.name);
    }
    return this.mutate((recorder) => {
      const parent = this.requireEntry(owner, directory);
      if (parent.kind !== DIR) throw new DfsError('NOT_A_DIRECTORY', 'not a directory');
      if (files.some((file) => this.db.first(SQL.child, [parent.id, file.name]))) throw new DfsError('EXISTS', 'file exists');
      const now = this.timestamp();
      let bytes = 0;
      for (const file of files) {
        const path = joinPath(directory, file.name);
        this.insertEntry(recorder, { owner, parent: parent.id, path, kind: FILE, size: file.size, now, blobId: file.blobId, sha256: file.sha256.toLowerCase() });
        bytes += file.size;
      }
      if (files.length > 0) this.changeDirectory(recorder, parent.id, bytes, now);
      return { created: files.length };
    });
  }

  /** Removes a file, an empty directory, or with `recursive` a whole subtree; returns the blobs it referenced. */
  async remove(owner: number, path: string, options: { recursive?: boolean | undefined } = {}): Promise<{ removed: number; blobIds: string[] }> {
    checkPath(path);
    if (path === ROOT) throw new DfsError('BAD_REQUEST', 'refusing to remove /');
    return this.mutate((recorder) => {
      const target = this.requireEntry(owner, path);
      const blobIds = new Set<string>();
      if (target.blobId !== null) blobIds.add(target.blobId);
      let removed = 0;
      if (target.kind === DIR) {
        if (!options.recursive && this.db.first(SQL.anyChild, [target.id])) throw new DfsError('NOT_EMPTY', 'directory not empty');
        const [below, upper] = descendantRange(target.key);
        this.db.each(SQL.rangeBlobs, [owner, below, upper], (row) => {
          blobIds.add(text(row[0]));
        });
        removed += recorder.run(SQL.deleteRange, [owner, below, upper]);
      }
      removed += recorder.run(SQL.deleteEntry, [target.id]);
      this.pendingEntries -= removed;
      this.changeDirectory(recorder, target.parent, -target.size, this.timestamp());
      this.freeReplicas(recorder, [...blobIds]);
      return { removed, blobIds: [...blobIds] };
    });
  }

  /**
   * Renames like mv(1): onto an existing directory moves into it; a file onto a file replaces it
   * (its blob id is returned); a directory never replaces anything (EXISTS); a directory cannot move
   * into its own subtree. One transaction; the subtree's paths are rewritten by one range UPDATE.
   */
  async move(owner: number, source: string, target: string): Promise<{ entry: Entry; replacedBlobId: string | null }> {
    checkPath(source);
    checkPath(target);
    if (source === ROOT) throw new DfsError('BAD_REQUEST', 'cannot move /');
    return this.mutate((recorder) => {
      const moving = this.requireEntry(owner, source);
      const into = this.entryAt(owner, target);
      const destination = into?.kind === DIR ? joinPath(target, baseName(source)) : target;
      if (destination === source) return { entry: toEntry(moving), replacedBlobId: null };
      if (moving.kind === DIR && isWithin(destination, source)) {
        throw new DfsError('BAD_REQUEST', 'cannot move a directory into itself');
      }
      this.checkMovedPathLengths(owner, moving, source, destination);
      const parent = this.requireParentDirectory(owner, destination);
      const replaced = this.entryAt(owner, destination);
      if (replaced && moving.kind === DIR) throw new DfsError('EXISTS', 'file exists');
      if (replaced?.kind === DIR) throw new DfsError('IS_A_DIRECTORY', 'cannot overwrite a directory with a file');
      this.applyMove(recorder, owner, { moving, destination, parentId: parent.id, replaced });
      const replacedBlobId = replaced && replaced.blobId !== moving.blobId ? replaced.blobId : null;
      if (replacedBlobId !== null) this.freeReplicas(recorder, [replacedBlobId]);
      const entry = { ...toEntry(moving), path: destination, name: baseName(destination) };
      return { entry, replacedBlobId };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Replicas: which nodes hold which blob

  /** The copies of a blob the catalog knows of, by node id. */
  replicasOf(blobId: string): Replica[] {
    this.checkOpen();
    return this.db.all(SQL.replicasOf, [blobId]).map((row) => ({ nodeId: text(row[0]), state: replicaState(row[1]) }));
  }

  /** The copies of several blobs in one query (a page of a listing), by blob id; blobs without copies are absent. */
  replicasOfBlobs(blobIds: readonly string[]): Map<string, Replica[]> {
    this.checkOpen();
    const byBlob = new Map<string, Replica[]>();
    if (blobIds.length === 0) return byBlob;
    for (const row of this.db.all(SQL.replicasOfBlobs, [JSON.stringify(blobIds)])) {
      const blobId = text(row[0]);
      const list = byBlob.get(blobId) ?? [];
      list.push({ nodeId: text(row[1]), state: replicaState(row[2]) });
      byBlob.set(blobId, list);
    }
    return byBlob;
  }

  /** Files with a blob, in id order after `afterId`: a page of the repairer's sweep over the whole catalog. */
  filesAfter(afterId: number, limit: number): { id: number; owner: number; blobId: string; size: number; sha256: string }[] {
    this.checkOpen();
    return this.db.all(SQL.filesAfter, [afterId, limit]).map((row) => ({
      id: Number(row[0]),
      owner: Number(row[1]),
      blobId: text(row[2]),
      size: Number(row[3]),
      sha256: text(row[4]).toLowerCase(),
    }));
  }

  /** Every copy recorded on one node, by blob id (to reconcile with what the node reports it holds). */
  replicasOn(nodeId: string): Map<string, ReplicaState> {
    this.checkOpen();
    return new Map(this.db.all(SQL.replicasOn, [nodeId]).map((row) => [text(row[0]), replicaState(row[1])]));
  }

  /** The size and SHA-256 of the files that have these blobs (a node's report is checked against them). */
  blobFiles(blobIds: readonly string[]): Map<string, { size: number; sha256: string }> {
    this.checkOpen();
    if (blobIds.length === 0) return new Map();
    return new Map(this.db.all(SQL.filesOfBlobs, [JSON.stringify(blobIds)]).map((row) => [text(row[0]), { size: Number(row[1]), sha256: text(row[2]).toLowerCase() }]));
  }

  /** The nodes any copy is recorded on: those a restarted master waits to hear from. */
  replicaNodes(): string[] {
    this.checkOpen();
    return this.db.all(SQL.replicaNodes, []).map((row) => text(row[0]));
  }

  /** Several copies' states changed (`null` forgets the copy) in one journaled transaction. */
  async changeReplicas(changes: readonly { blobId: string; nodeId: string; state: ReplicaState | null }[]): Promise<void> {
    if (changes.length === 0) return;
    for (const change of changes) checkNodeId(change.nodeId);
    await this.mutate((recorder) => {
      for (const { blobId, nodeId, state } of changes) {
        if (state === null) recorder.run(SQL.deleteReplica, [blobId, nodeId]);
        else recorder.run(SQL.putReplica, [blobId, nodeId, REPLICA_STATES.indexOf(state)]);
      }
    });
  }

  /** Records (or changes) the state of one copy of a blob on one node. */
  async setReplica(blobId: string, nodeId: string, state: ReplicaState): Promise<void> {
    checkNodeId(nodeId);
    if (typeof blobId !== 'string' || blobId.length === 0 || Buffer.byteLength(blobId) > BLOB_ID_BYTES_MAX) {
      throw new DfsError('BAD_REQUEST', `blob id must be 1-${BLOB_ID_BYTES_MAX} bytes`);
    }
    await this.mutate((recorder) => {
      recorder.run(SQL.putReplica, [blobId, nodeId, REPLICA_STATES.indexOf(state)]);
    });
  }

  /** Records a new copy of a blob (a replica a chain delivered, or one a node reports): good while a file
   * references the blob, else `deleting` (the file was removed or replaced meanwhile) so the deletion pass
   * removes it; a copy already recorded keeps its state. Journaled. */
  async addReplica(blobId: string, nodeId: string): Promise<ReplicaState> {
    const [state] = await this.addReplicas([{ blobId, nodeId }]);
    if (!state) throw new Error(`catalog: replica of ${blobId} on ${nodeId} was not recorded`);
    return state;
  }

  /** addReplica for several copies as one transaction and one journal record (a batch's chain member);
   * their states in the same order. */
  async addReplicas(copies: readonly { blobId: string; nodeId: string }[]): Promise<ReplicaState[]> {
    for (const { blobId, nodeId } of copies) {
      checkNodeId(nodeId);
      if (typeof blobId !== 'string' || blobId.length === 0 || Buffer.byteLength(blobId) > BLOB_ID_BYTES_MAX) {
        throw new DfsError('BAD_REQUEST', `blob id must be 1-${BLOB_ID_BYTES_MAX} bytes`);
      }
    }
    await this.mutate((recorder) => {
      for (const { blobId, nodeId } of copies) recorder.run(SQL.addReplica, [blobId, nodeId]);
    });
    const byBlob = this.replicasOfBlobs([...new Set(copies.map((copy) => copy.blobId))]);
    return copies.map(({ blobId, nodeId }) => {
      const added = byBlob.get(blobId)?.find((replica) => replica.nodeId === nodeId);
      if (!added) throw new Error(`catalog: replica of ${blobId} on ${nodeId} was not recorded`);
      return added.state;
    });
  }

  /** Forgets a copy once its node removed it (or never had it). */
  async forgetReplica(blobId: string, nodeId: string): Promise<void> {
    await this.mutate((recorder) => {
      recorder.run(SQL.deleteReplica, [blobId, nodeId]);
    });
  }

  /** Copies no file needs any more, to be deleted on their nodes (at most `limit`, by node). */
  replicasToDelete(limit: number): { blobId: string; nodeId: string }[] {
    this.checkOpen();
    return this.db.all(SQL.replicasDeleting, [limit]).map((row) => ({ blobId: text(row[0]), nodeId: text(row[1]) }));
  }

  /** Blobs no entry references any more: their copies become `deleting`, in the same transaction. */
  private freeReplicas(recorder: StatementRecorder, blobIds: readonly string[]): void {
    if (blobIds.length > 0) recorder.run(SQL.freeReplicas, [JSON.stringify(blobIds)]);
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots

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
    const generation = this.journal.generation + 1;
    // Not journaled: it only means something inside the snapshot (which journals follow it).
    this.db.script(`UPDATE meta SET value = ${generation} WHERE key = 'generation'`);
    const image = this.db.export();
    this.journal.rotate(generation);
    return this.persistSnapshot(image, generation);
  }

  private async persistSnapshot(image: Uint8Array, generation: number): Promise<void> {
    await this.onSnapshotStep?.('exported');
    const temporary = path.join(this.directory, SNAPSHOT_TEMPORARY_FILE);
    const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
    SNAPSHOT_MAGIC.copy(header, 0);
    header.writeUInt32LE(crc32(image), SNAPSHOT_MAGIC.length);
    await this.disk.writeDurable(temporary, [header, Buffer.from(image.buffer, image.byteOffset, image.byteLength)]);
    await this.onSnapshotStep?.('written');
    await this.disk.rename(temporary, path.join(this.directory, SNAPSHOT_FILE));
    await this.disk.syncDirectory(this.directory);
    this.snapshots++;
    await this.onSnapshotStep?.('renamed');
    // Older journals are covered by the snapshot; wait until nothing is still being written to them.
    await this.journal.barrier().catch(() => undefined);
    for (const old of await listJournalGenerations(this.directory, this.disk)) {
      if (old < generation) await this.disk.remove(path.join(this.directory, journalFileName(old)));
    }
    await this.onSnapshotStep?.('cleaned');
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
    this.pendingEntries = 0;
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
      this.pendingEntries = 0; // rolled back
      throw error;
    }
    this.entries += this.pendingEntries;
    this.pendingEntries = 0;
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
      this.entries = integer(db.first(SQL.countEntries, [])?.[0]);
      this.nextEntryId = integer(db.first(SQL.maxEntryId, [])?.[0]) + 1;
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

  // ---------------------------------------------------------------------------------------------
  // Building blocks of the mutations (called inside a transaction)

  /** Inserts one entry with an explicit id (so replay does not depend on rowid allocation); returns the id. */
  private insertEntry(
    recorder: StatementRecorder,
    entry: { owner: number; parent: number; path: string; kind: number; size: number; now: number; blobId: string | null; sha256: string | null },
  ): number {
    const id = this.nextEntryId++;
    const blob = entry.blobId;
    const sha256 = entry.sha256 === null ? null : Buffer.from(entry.sha256, 'hex');
    const params: SqlParam[] = [id, entry.owner, entry.parent, baseName(entry.path), pathToKey(entry.path), entry.kind, entry.size, entry.now, blob, sha256];
    recorder.run(SQL.insertEntry, params);
    this.pendingEntries++;
    return id;
  }

  private applyMove(
    recorder: StatementRecorder,
    owner: number,
    move: { moving: EntryRow; destination: string; parentId: number; replaced: EntryRow | undefined },
  ): void {
    const { moving, destination, parentId, replaced } = move;
    const replacedSize = replaced?.size ?? 0;
    const now = this.timestamp();
    // The moved bytes leave the source's chain and join the destination's (common ancestors net
    // zero); the replaced file's bytes leave the destination's chain.
    if (moving.parent === parentId) {
      this.changeDirectory(recorder, parentId, -replacedSize, now);
    } else {
      this.changeDirectory(recorder, moving.parent, -moving.size, now);
      this.changeDirectory(recorder, parentId, moving.size - replacedSize, now);
    }
    if (replaced) {
      recorder.run(SQL.deleteEntry, [replaced.id]);
      this.pendingEntries--;
    }
    const newKey = pathToKey(destination);
    recorder.run(SQL.moveEntry, [moving.id, parentId, baseName(destination), newKey]);
    if (moving.kind === DIR) {
      const [below, upper] = descendantRange(moving.key);
      const [newBelow] = descendantRange(newKey);
      recorder.run(SQL.moveRange, [owner, below, upper, newBelow, codePoints(below) + 1]);
    }
  }

  /** Every path under the destination must still be a valid path (at most PATH_BYTES_MAX bytes). */
  private checkMovedPathLengths(owner: number, moving: EntryRow, source: string, destination: string): void {
    checkPath(destination);
    if (moving.kind !== DIR) return;
    const [below, upper] = descendantRange(moving.key);
    const longest = this.db.first(SQL.rangeLongestKey, [owner, below, upper])?.[0];
    if (typeof longest !== 'number') return; // an empty directory
    if (longest - Buffer.byteLength(source) + Buffer.byteLength(destination) > PATH_BYTES_MAX) {
      throw new DfsError('BAD_REQUEST', `paths below the destination would be longer than ${PATH_BYTES_MAX} bytes`);
    }
  }

  /**
   * An entry appeared in, left or changed in directory `id`: its mtime becomes `now`, and it and
   * every ancestor grow by `delta` bytes (O(depth), one statement).
   */
  private changeDirectory(recorder: StatementRecorder, id: number, delta: number, now: number): void {
    if (delta === 0) {
      recorder.run(SQL.touch, [id, now]);
      return;
    }
    const chain = this.chainUpFrom(id);
    const sql = chainStatements[chain.length];
    if (sql === undefined) recorder.run(SQL.changeChain, [delta, now, id, JSON.stringify(chain)]);
    else recorder.run(sql, [delta, now, ...chain]);
  }

  // ---------------------------------------------------------------------------------------------
  // Lookups

  private entryAt(owner: number, path: string): EntryRow | undefined {
    const row = this.db.first(SQL.entry, [owner, pathToKey(path)]);
    return row && toRow(row);
  }

  private requireEntry(owner: number, path: string): EntryRow {
    const entry = this.entryAt(owner, path);
    if (entry) return entry;
    throw this.missingError(owner, path);
  }

  /** NOT_A_DIRECTORY when a component of `path` is a file, else NOT_FOUND. */
  private missingError(owner: number, path: string): DfsError {
    const blocking = this.existingAncestors(owner, path).find((ancestor) => ancestor.kind !== DIR);
    if (blocking) return new DfsError('NOT_A_DIRECTORY', `not a directory: ${keyToPath(blocking.key)}`);
    return new DfsError('NOT_FOUND', 'no such file or directory');
  }

  private requireParentDirectory(owner: number, path: string): EntryRow {
    const parentPath = parentOf(path);
    const parent = this.entryAt(owner, parentPath);
    if (parent === undefined) throw this.missingError(owner, parentPath);
    if (parent.kind !== DIR) throw new DfsError('NOT_A_DIRECTORY', `not a directory: ${parentPath}`);
    return parent;
  }

  /** The ancestors of `path` that exist, root first (they always form an unbroken chain from the root). */
  private existingAncestors(owner: number, path: string): EntryRow[] {
    const keys = ancestorPaths(path).map(pathToKey);
    const rows = this.db.all(SQL.entriesAt, [owner, JSON.stringify(keys)]).map(toRow);
    rows.forEach((row, index) => {
      if (row.key !== keys[index]) throw new Error(`catalog: broken ancestor chain above ${path}`);
    });
    return rows;
  }

  /** `id` and the ids above it up to the root, walking parent links: O(depth) point lookups. */
  private chainUpFrom(id: number): number[] {
    const chain: number[] = [];
    for (let current = id; current > 0; ) {
      chain.push(current);
      // A path has at most PATH_BYTES_MAX / 2 components: a longer chain is a cycle, a bug.
      if (chain.length > PATH_BYTES_MAX / 2 + 1) throw new Error(`catalog: parent links from ${id} do not reach a root`);
      current = integer(this.db.first(SQL.parentOf, [current])?.[0]);
    }
    return chain;
  }

  /** Validates a subtree page request; the range covers `path` itself and everything below it. */
  private subtreePage(owner: number, path: string, options: PageOptions): { top: EntryRow; start: string; end: string; limit: number } {
    checkPath(path);
    const limit = pageLimit(options.limit);
    const top = this.requireEntry(owner, path);
    const [, end] = descendantRange(top.key);
    if (options.after === undefined) return { top, start: top.key, end, limit };
    if (typeof options.after !== 'string') throw new DfsError('BAD_REQUEST', 'invalid page cursor');
    checkPath(options.after);
    if (!isWithin(options.after, path)) throw new DfsError('BAD_REQUEST', `page cursor ${options.after} is not within ${path}`);
    // No key contains \x00, so the first key after K is at least K + \x01.
    return { top, start: `${pathToKey(options.after)}\x01`, end, limit };
  }
}

// -----------------------------------------------------------------------------------------------
// Start-up: snapshot and journal replay

/** Cuts each journal file back to the bytes known durable: a failed write may have left part of a record, a failed
 * fsync whole records in the page cache, none of them acknowledged, none to be replayed. */
async function cutUnacknowledged(directory: string, durable: ReadonlyMap<number, number>, disk: Disk): Promise<void> {
  const firstKnown = Math.min(...durable.keys());
  for (const generation of await listJournalGenerations(directory, disk)) {
    if (generation < firstKnown) continue;
    const file = path.join(directory, journalFileName(generation));
    const bytes = durable.get(generation) ?? 0;
    const handle = await disk.openRead(file);
    const size = handle.size;
    await handle.close();
    if (size > bytes) await disk.truncate(file, bytes);
  }
}

/** The catalog as it is on disk: the snapshot (if any) with the journals after it replayed, a torn tail cut. */
async function loadDurable(directory: string, disk: Disk): Promise<{ db: SqlDatabase; journal: JournalWriter }> {
  await disk.remove(path.join(directory, SNAPSHOT_TEMPORARY_FILE)); // a crash mid-snapshot
  const sql = await loadSqlJs();
  const image = await readSnapshot(directory, disk);
  const db = SqlDatabase.open(sql, image);
  try {
    if (image === undefined) db.script(SCHEMA);
    if (db.first(SQL.meta, ['schema'])?.[0] === 1) db.script(MIGRATE_1_TO_2);
    // Which file has a blob: asked when a node reports a copy the catalog did not record. An index, not
    // data: made at every open (older snapshots lack it), never journaled.
    db.script('CREATE INDEX IF NOT EXISTS entries_by_blob ON entries (blob) WHERE blob IS NOT NULL;');
    const schema = db.first(SQL.meta, ['schema'])?.[0];
    if (schema !== SCHEMA_VERSION) throw new DfsError('INTERNAL', `catalog snapshot has schema ${String(schema)}, expected ${SCHEMA_VERSION}`);
    const first = integer(db.first(SQL.meta, ['generation'])?.[0]);
    const journal = await replayJournals(directory, db, first, image !== undefined, disk);
    return { db, journal };
  } catch (error) {
    db.close();
    throw error;
  }
}

async function readSnapshot(directory: string, disk: Disk): Promise<Uint8Array | undefined> {
  const bytes = await disk.readWhole(path.join(directory, SNAPSHOT_FILE));
  if (bytes === undefined) return undefined;
  const image = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  const intact =
    bytes.length > SNAPSHOT_HEADER_BYTES &&
    bytes.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC) &&
    bytes.readUInt32LE(SNAPSHOT_MAGIC.length) === crc32(image);
  if (!intact) throw new DfsError('INTERNAL', `${path.join(directory, SNAPSHOT_FILE)} is damaged (bad header or checksum)`);
  return image;
}

/** Replays journals `first`, `first`+1, ... in order; deletes older ones; returns a writer for the last. */
async function replayJournals(directory: string, db: SqlDatabase, first: number, fromSnapshot: boolean, disk: Disk): Promise<JournalWriter> {
  const generations = await listJournalGenerations(directory, disk);
  for (const old of generations.filter((generation) => generation < first)) {
    await disk.remove(path.join(directory, journalFileName(old))); // covered by the snapshot
  }
  const replayable = generations.filter((generation) => generation >= first);
  if (!fromSnapshot && replayable.length > 0 && replayable[0] !== first) {
    throw new DfsError('INTERNAL', `catalog: no snapshot, but the journals start at generation ${String(replayable[0])}`);
  }
  let current = { generation: first, bytes: 0, records: 0 };
  for (const [index, generation] of replayable.entries()) {
    const file = path.join(directory, journalFileName(generation));
    const scan = await replayJournal(db, file, disk);
    if (scan.goodBytes < scan.fileBytes) {
      // Only the last generation can have a torn tail: a later file is created after an fsync of this one.
      if (index < replayable.length - 1) throw new DfsError('INTERNAL', `${file} is damaged at byte ${scan.goodBytes} and later journals exist`);
      await disk.truncate(file, scan.goodBytes);
    }
    current = { generation, bytes: scan.goodBytes, records: scan.records };
  }
  return new JournalWriter({ directory, ...current, disk });
}

async function replayJournal(db: SqlDatabase, file: string, disk: Disk): Promise<JournalScan> {
  let batch: RecordedStatement[][] = [];
  const flush = (): void => {
    try {
      if (batch.length > 0) db.replay(batch);
    } catch (error) {
      throw new DfsError('INTERNAL', `${file}: replay failed: ${describe(error)}`);
    }
    batch = [];
  };
  const scan = await readJournal(file, (payload) => {
    try {
      batch.push(decodeStatements(payload));
    } catch (error) {
      // The checksum matched, so these are the bytes we wrote: not a torn tail but a bug or tampering.
      throw new DfsError('INTERNAL', `${file}: a checksummed record is not a statement list: ${describe(error)}`);
    }
    if (batch.length >= JOURNAL_REPLAY_RECORDS_PER_TRANSACTION) flush();
  }, disk);
  flush();
  return scan;
}

// -----------------------------------------------------------------------------------------------
// Path keys

const KEY_BYTE = Uint8Array.from({ length: 256 }, (_, byte) => (byte === 0x2f ? 0x01 : byte >= 0x01 && byte <= 0x2e ? byte + 1 : byte));
const PATH_BYTE = Uint8Array.from({ length: 256 }, (_, byte) => (byte === 0x01 ? 0x2f : byte >= 0x02 && byte <= 0x2f ? byte - 1 : byte));
const PATH_LOW_BYTES = /[\x01-\x2e]/; // characters a key shifts up (besides "/")
const KEY_LOW_BYTES = /[\x02-\x2f]/; // characters a path shifted down

/** "/" → \x01, \x01-\x2e → \x02-\x2f: bytewise order of keys is a pre-order walk of the tree. */
export function pathToKey(path: string): string {
  return PATH_LOW_BYTES.test(path) ? mapBytes(path, KEY_BYTE) : path.replaceAll('/', '\x01');
}

export function keyToPath(key: string): string {
  return KEY_LOW_BYTES.test(key) ? mapBytes(key, PATH_BYTE) : key.replaceAll('\x01', '/');
}

/** Only ASCII bytes are remapped, so the UTF-8 stays valid. */
function mapBytes(text: string, table: Uint8Array): string {
  const bytes = Buffer.from(text, 'utf8');
  for (let index = 0; index < bytes.length; index++) bytes[index] = table[bytes[index] as number] as number;
  return bytes.toString('utf8');
}

/** Keys strictly inside the subtree of `key` are in (below, upper): every one starts with `below`. */
function descendantRange(key: string): [below: string, upper: string] {
  const below = key === '\x01' ? key : `${key}\x01`;
  return [below, `${below.slice(0, -1)}\x02`];
}

/** The proper ancestors of a path, root first. */
function ancestorPaths(path: string): string[] {
  const ancestors: string[] = [];
  for (let current = path; current !== ROOT; ) {
    current = parentOf(current);
    ancestors.push(current);
  }
  return ancestors.reverse();
}

/** SQLite's substr counts characters (code points), not UTF-16 units. */
function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

// -----------------------------------------------------------------------------------------------
// find -name → SQLite GLOB. Both are case-sensitive with * ? [...] and ranges; find writes [!x]
// where SQLite writes [^x]; a backslash makes the next character literal ([*] in GLOB); a "[" that
// opens no complete set is literal, as in fnmatch; POSIX classes like [[:digit:]] are expanded.

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  xdigit: '0-9a-fA-F',
  space: ' \t\n\r\f\v',
  blank: ' \t',
};

export function toSqliteGlob(pattern: string): string {
  let glob = '';
  for (let index = 0; index < pattern.length; ) {
    const character = pattern[index] as string;
    if (character === '\\' && index + 1 < pattern.length) {
      glob += literalGlob(pattern[index + 1] as string);
      index += 2;
    } else if (character === '[') {
      const set = bracketGlob(pattern, index);
      glob += set?.glob ?? '[[]';
      index = set?.next ?? index + 1;
    } else {
      glob += character;
      index++;
    }
  }
  return glob;
}

function literalGlob(character: string): string {
  return character === '*' || character === '?' || character === '[' ? `[${character}]` : character;
}

/** The set starting at pattern[start] === '[', or undefined if it is never closed. */
function bracketGlob(pattern: string, start: number): { glob: string; next: number } | undefined {
  let index = start + 1;
  let negated = false;
  if (pattern[index] === '!' || pattern[index] === '^') {
    negated = true;
    index++;
  }
  let body = '';
  if (pattern[index] === ']') {
    body += ']';
    index++;
  }
  while (index < pattern.length && pattern[index] !== ']') {
    const close = pattern.startsWith('[:', index) ? pattern.indexOf(':]', index + 2) : -1;
    const expansion = close > 0 ? POSIX_CLASSES[pattern.slice(index + 2, close)] : undefined;
    if (expansion !== undefined) {
      body += expansion;
      index = close + 2;
    } else {
      body += pattern[index] === '\\' && index + 1 < pattern.length ? pattern[++index] : pattern[index];
      index++;
    }
  }
  if (index >= pattern.length) return undefined;
  return { glob: `[${negated ? '^' : ''}${body}]`, next: index + 1 };
}

// -----------------------------------------------------------------------------------------------
// Rows and values

function toRow(row: SqlRow): EntryRow {
  return {
    id: integer(row[0]),
    parent: integer(row[1]),
    name: text(row[2]),
    key: text(row[3]),
    kind: integer(row[4]),
    size: integer(row[5]),
    mtimeMs: integer(row[6]),
    blobId: nullableText(row[7]),
    sha256: hexDigest(row[8]),
  };
}

/** The entry a mutation just wrote, without reading it back. */
function newEntry(made: { path: string; kind: number; size: number; now: number; blobId: string | null; sha256: string | null }): Entry {
  const kind = made.kind === DIR ? 'dir' : 'file';
  return { path: made.path, name: baseName(made.path), kind, size: made.size, mtimeMs: made.now, blobId: made.blobId, sha256: made.sha256 };
}

/** An entry from a row of LISTED columns. */
function listedEntry(row: SqlRow, path: string): Entry {
  return {
    path,
    name: text(row[0]),
    kind: row[1] === DIR ? 'dir' : 'file',
    size: integer(row[2]),
    mtimeMs: integer(row[3]),
    blobId: nullableText(row[4]),
    sha256: hexDigest(row[5]),
  };
}

function toEntry(row: EntryRow): Entry {
  return {
    path: keyToPath(row.key),
    name: row.name,
    kind: row.kind === DIR ? 'dir' : 'file',
    size: row.size,
    mtimeMs: row.mtimeMs,
    blobId: row.blobId,
    sha256: row.sha256,
  };
}

function toUser(row: SqlRow): UserRecord {
  return {
    id: integer(row[0]),
    name: text(row[1]),
    admin: row[2] === 1,
    salt: bytes(row[3]),
    hash: bytes(row[4]),
    createdMs: integer(row[5]),
  };
}

function integer(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`catalog: expected an integer, found ${String(value)}`);
  return value;
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`catalog: expected text, found ${String(value)}`);
  return value;
}

function bytes(value: unknown): Buffer | null {
  if (value === null) return null;
  if (!(value instanceof Uint8Array)) throw new Error('catalog: expected a BLOB');
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function nullableText(value: unknown): string | null {
  return value === null ? null : text(value);
}

/** hex() of a NULL is '' (a directory); SQLite's hex is uppercase, ours lowercase. */
function hexDigest(value: unknown): string | null {
  const digest = text(value);
  return digest === '' ? null : digest.toLowerCase();
}

function kindOf(kind: EntryKind): number {
  if (kind === 'dir') return DIR;
  if (kind === 'file') return FILE;
  throw new DfsError('BAD_REQUEST', `unknown entry type ${String(kind)}`);
}

function page<T>(items: T[], limit: number, cursor: (item: T) => string): Page<T> {
  if (items.length <= limit) return { items, next: undefined };
  items.length = limit;
  const last = items[limit - 1];
  return { items, next: last === undefined ? undefined : cursor(last) };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// -----------------------------------------------------------------------------------------------
// Input checks: every one throws BAD_REQUEST before anything changes.

function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string') throw new DfsError('BAD_REQUEST', 'a path must be a string');
  validatePath(path);
  // A lone UTF-16 surrogate cannot be stored as UTF-8: it would come back as U+FFFD, a different name.
  if (Buffer.from(path, 'utf8').toString('utf8') !== path) throw new DfsError('BAD_REQUEST', 'path is not valid Unicode');
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return PAGE_ENTRIES_DEFAULT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > PAGE_ENTRIES_MAX) {
    throw new DfsError('BAD_REQUEST', `page limit must be 1..${PAGE_ENTRIES_MAX}`);
  }
  return limit;
}

function checkUserName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > USER_NAME_BYTES_MAX || !USER_NAME.test(name)) {
    throw new DfsError('BAD_REQUEST', `invalid user name "${String(name)}": 1-${USER_NAME_BYTES_MAX} of a-z 0-9 _ . - , not starting with a digit, "." or "-"`);
  }
}

function checkSecret(secret: { salt: Buffer; hash: Buffer } | null): void {
  if (secret === null) return;
  for (const part of [secret.salt, secret.hash]) {
    if (!(part instanceof Uint8Array) || part.length === 0 || part.length > SECRET_BYTES_MAX) {
      throw new DfsError('BAD_REQUEST', `a password salt and hash must be 1-${SECRET_BYTES_MAX} bytes`);
    }
  }
}

function checkNodeId(nodeId: unknown): void {
  if (typeof nodeId !== 'string' || !NODE_ID.test(nodeId)) throw new DfsError('BAD_REQUEST', 'malformed node id');
}

function replicaState(value: unknown): ReplicaState {
  const state = REPLICA_STATES[integer(value)];
  if (state === undefined) throw new Error(`catalog: unknown replica state ${String(value)}`);
  return state;
}

function checkFile(file: { size: number; blobId: string; sha256: string }): void {
  if (!Number.isSafeInteger(file.size) || file.size < 0) throw new DfsError('BAD_REQUEST', 'file size must be a non-negative integer');
  if (typeof file.blobId !== 'string' || file.blobId.length === 0 || Buffer.byteLength(file.blobId) > BLOB_ID_BYTES_MAX) {
    throw new DfsError('BAD_REQUEST', `blob id must be 1-${BLOB_ID_BYTES_MAX} bytes`);
  }
  if (typeof file.sha256 !== 'string' || !SHA256_HEX.test(file.sha256.toLowerCase())) {
    throw new DfsError('BAD_REQUEST', 'sha256 must be 64 hex digits');
  }
}

function checkGlob(pattern: string): string {
  if (typeof pattern !== 'string' || Buffer.byteLength(pattern) > GLOB_BYTES_MAX || pattern.includes('\0')) {
    throw new DfsError('BAD_REQUEST', `a name pattern must be a string of at most ${GLOB_BYTES_MAX} bytes without NUL`);
  }
  return pattern;
}

function checkSizeFilter(size: SizeFilter): SizeFilter {
  const valid =
    (size.cmp === 'gt' || size.cmp === 'lt' || size.cmp === 'eq') &&
    Number.isSafeInteger(size.count) &&
    size.count >= 0 &&
    Number.isSafeInteger(size.unitBytes) &&
    size.unitBytes >= 1;
  if (!valid) throw new DfsError('BAD_REQUEST', 'invalid size filter');
  return size;
}
