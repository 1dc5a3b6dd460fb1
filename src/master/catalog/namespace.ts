// The namespace: every user's tree of entries and its rules (what each operation may do, and its errors) — stat, ls, find, du, tree,
// mkdir, commits of uploaded files, rm and mv — over the entries table, with paths stored as path keys
// (path-keys.ts) so that every subtree is one index range. A directory's size is the total of the files
// beneath it, kept up to date along the parent chain by every change.

import { CREATE_FILES_BATCH_MAX, NAME_BYTES_MAX, PAGE_ENTRIES_DEFAULT, PAGE_ENTRIES_MAX, PATH_BYTES_MAX } from '../../limits';
import { DfsError } from '../../wire/errors';
import { baseName, isWithin, joinPath, parentOf, ROOT, validateName, validatePath } from '../../paths';
import type { CatalogCore } from './core';
import { checkGlob, toSqliteGlob } from './glob';
import { ancestorPaths, codePoints, descendantRange, keyToPath, pathToKey } from './path-keys';
import { checkBlobId, checkNodeId, freeReplicas } from './replicas';
import { chainStatements, DIR, FILE, GOOD, hexDigest, integer, nullableText, SQL, text } from './schema';
import type { SqlParam, SqlRow, StatementRecorder } from './sqljs';

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

/** An uploaded file to commit: its blob is on the nodes named (each holding a good copy). */
export interface FileCommit {
  owner: number;
  path: string;
  size: number;
  blobId: string;
  sha256: string;
  overwrite: boolean;
  nodeIds?: readonly string[];
}

/** An entry as written (a committed file, a moved entry), and the blob of the file it replaced (its bytes to be freed), if any. */
export interface WrittenEntry {
  entry: Entry;
  replacedBlobId: string | null;
}

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

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class Namespace {
  private entries = 0;
  private nextEntryId = 1;
  /** Entries added (negative: removed) by the transaction in progress; applied when it commits. */
  private pendingEntries = 0;

  constructor(private readonly core: CatalogCore) {
    this.recount();
  }

  /** Counts the entries and finds the next free id: at open, and after the database was loaded again from disk. */
  recount(): void {
    this.entries = integer(this.core.db.first(SQL.countEntries, [])?.[0]);
    this.nextEntryId = integer(this.core.db.first(SQL.maxEntryId, [])?.[0]) + 1;
  }

  /** Before each transaction (catalog.ts mutate). */
  beginTransaction(): void {
    this.pendingEntries = 0;
  }

  /** After each transaction: the entries it added or removed count only if it committed. */
  endTransaction(committed: boolean): void {
    if (committed) this.entries += this.pendingEntries;
    this.pendingEntries = 0;
  }

  /** Entries removed by a statement of the transaction in progress outside this class (a user deleted). */
  forgetEntries(removed: number): void {
    this.pendingEntries -= removed;
  }

  entryCount(): number {
    return this.entries;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading the namespace

  stat(owner: number, path: string): Entry {
    this.core.checkOpen();
    checkPath(path);
    return toEntry(this.requireEntry(owner, path));
  }

  /** The entry at `path`, or undefined: stat without the error (one lookup; stat explains a miss). */
  lookup(owner: number, path: string): Entry | undefined {
    this.core.checkOpen();
    checkPath(path);
    const row = this.entryAt(owner, path);
    return row && toEntry(row);
  }

  /** A directory's children by name (byte order); `after` is the last name of the previous page. */
  list(owner: number, path: string, options: PageOptions = {}): Page<Entry> {
    this.core.checkOpen();
    checkPath(path);
    const limit = pageLimit(options.limit);
    const after = options.after ?? '';
    if (typeof after !== 'string' || Buffer.byteLength(after) > NAME_BYTES_MAX) throw new DfsError('BAD_REQUEST', 'invalid page cursor');
    const directory = this.requireEntry(owner, path);
    if (directory.kind !== DIR) throw new DfsError('NOT_A_DIRECTORY', 'not a directory');
    const entries = this.core.db.all(SQL.children, [directory.id, after, limit + 1]).map((row) => listedEntry(row, joinPath(path, text(row[0]))));
    return page(entries, limit, (entry) => entry.name);
  }

  /** Entries at or below `path` that match every given filter, in path order (find). */
  find(owner: number, path: string, filter: FindFilter, options: PageOptions = {}): Page<Entry> {
    this.core.checkOpen();
    const { start, end, limit } = this.subtreePage(owner, path, options);
    const glob = filter.name === undefined ? null : toSqliteGlob(checkGlob(filter.name));
    const kind = filter.type === undefined ? null : kindOf(filter.type);
    const size = filter.size === undefined ? null : checkSizeFilter(filter.size);
    const params = [owner, start, end, glob, kind, size?.cmp ?? null, size?.unitBytes ?? 1, size?.count ?? 0, limit + 1];
    const entries = this.core.db.all(SQL.rangeFind, params).map((row) => listedEntry(row, keyToPath(text(row[6]))));
    return page(entries, limit, (entry) => entry.path);
  }

  /** Bytes per directory at or below `path` (summary: `path` alone; a file: the file), in path order. */
  du(owner: number, path: string, options: { summary: boolean } & PageOptions): Page<{ path: string; bytes: number }> {
    this.core.checkOpen();
    const { top, start, end, limit } = this.subtreePage(owner, path, options);
    if (options.summary || top.kind === FILE) {
      const items = options.after === undefined ? [{ path, bytes: top.size }] : [];
      return { items, next: undefined };
    }
    const rows = this.core.db.all(SQL.rangeDirectories, [owner, start, end, limit + 1]);
    return page(
      rows.map((row) => ({ path: keyToPath(text(row[0])), bytes: integer(row[1]) })),
      limit,
      (item) => item.path,
    );
  }

  /** `path` and everything below it in path order: each directory right before its contents. */
  tree(owner: number, path: string, options: PageOptions = {}): Page<Entry> {
    this.core.checkOpen();
    const { start, end, limit } = this.subtreePage(owner, path, options);
    const entries = this.core.db.all(SQL.range, [owner, start, end, limit + 1]).map((row) => listedEntry(row, keyToPath(text(row[6]))));
    return page(entries, limit, (entry) => entry.path);
  }

  // ---------------------------------------------------------------------------------------------
  // Changing the namespace

  /** EXISTS (unless `parents` and it is a directory); NOT_FOUND parent without `parents`; NOT_A_DIRECTORY. */
  async mkdir(owner: number, path: string, options: { parents?: boolean | undefined } = {}): Promise<Entry> {
    checkPath(path);
    return this.core.mutate((recorder) => {
      const existing = this.entryAt(owner, path);
      if (existing) {
        if (options.parents && existing.kind === DIR) return toEntry(existing);
        throw new DfsError('EXISTS', 'file exists');
      }
      const now = this.core.timestamp();
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
    file: Omit<FileCommit, 'owner' | 'path'>,
  ): Promise<WrittenEntry> {
    const [made] = await this.commitFiles([{ owner, path, ...file }]);
    if (!made) throw new Error('catalog: a committed file went missing');
    return made;
  }

  /**
   * Commits uploaded files (each with its blob and the nodes holding a good copy) as one transaction and one
   * journal record: all or nothing (a batch of put -r; createFile is a batch of one).
   */
  async commitFiles(
    files: readonly FileCommit[],
  ): Promise<WrittenEntry[]> {
    for (const file of files) {
      checkPath(file.path);
      checkFile(file);
      for (const nodeId of file.nodeIds ?? []) checkNodeId(nodeId);
    }
    return this.core.mutate((recorder) => {
      const now = this.core.timestamp();
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
        if (replacedBlobId !== null) freeReplicas(recorder, [replacedBlobId]);
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
    return this.core.mutate((recorder) => {
      const parent = this.requireEntry(owner, directory);
      if (parent.kind !== DIR) throw new DfsError('NOT_A_DIRECTORY', 'not a directory');
      if (files.some((file) => this.core.db.first(SQL.child, [parent.id, file.name]))) throw new DfsError('EXISTS', 'file exists');
      const now = this.core.timestamp();
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

  /** Sets an entry's modification time to now (touch). */
  async touch(owner: number, path: string): Promise<Entry> {
    checkPath(path);
    return this.core.mutate((recorder) => {
      const target = this.requireEntry(owner, path);
      const now = this.core.timestamp();
      recorder.run(SQL.touch, [target.id, now]);
      return { ...toEntry(target), mtimeMs: now };
    });
  }

  /** Sets the replication factor of a file, or with `recursive` of every file under a directory; how many. */
  async setReplication(owner: number, path: string, want: number, recursive: boolean): Promise<number> {
    checkPath(path);
    if (!Number.isSafeInteger(want) || want < 1) throw new DfsError('BAD_REQUEST', `a replication factor is a whole number of at least 1, not ${want}`);
    return this.core.mutate((recorder) => {
      const target = this.requireEntry(owner, path);
      const blobIds: string[] = [];
      if (target.kind === DIR) {
        if (!recursive) throw new DfsError('IS_A_DIRECTORY', 'is a directory (setrep -R sets every file under it)');
        const [below, upper] = descendantRange(target.key);
        this.core.db.each(SQL.rangeBlobs, [owner, below, upper], (row) => {
          blobIds.push(text(row[0]));
        });
      } else if (target.blobId !== null) blobIds.push(target.blobId);
      for (const blobId of blobIds) recorder.run(SQL.setWant, [blobId, want]);
      return blobIds.length;
    });
  }

  /** Removes a file, an empty directory, or with `recursive` a whole subtree; returns the blobs it referenced. */
  async remove(owner: number, path: string, options: { recursive?: boolean | undefined } = {}): Promise<{ removed: number; blobIds: string[] }> {
    checkPath(path);
    if (path === ROOT) throw new DfsError('BAD_REQUEST', 'refusing to remove /');
    return this.core.mutate((recorder) => {
      const target = this.requireEntry(owner, path);
      const blobIds = new Set<string>();
      if (target.blobId !== null) blobIds.add(target.blobId);
      let removed = 0;
      if (target.kind === DIR) {
        if (!options.recursive && this.core.db.first(SQL.anyChild, [target.id])) throw new DfsError('NOT_EMPTY', 'directory not empty');
        const [below, upper] = descendantRange(target.key);
        this.core.db.each(SQL.rangeBlobs, [owner, below, upper], (row) => {
          blobIds.add(text(row[0]));
        });
        removed += recorder.run(SQL.deleteRange, [owner, below, upper]);
      }
      removed += recorder.run(SQL.deleteEntry, [target.id]);
      this.pendingEntries -= removed;
      this.changeDirectory(recorder, target.parent, -target.size, this.core.timestamp());
      freeReplicas(recorder, [...blobIds]);
      return { removed, blobIds: [...blobIds] };
    });
  }

  /**
   * Renames like mv(1): onto an existing directory moves into it; a file onto a file replaces it
   * (its blob id is returned); a directory never replaces anything (EXISTS); a directory cannot move
   * into its own subtree. One transaction; the subtree's paths are rewritten by one range UPDATE.
   */
  async move(owner: number, source: string, target: string): Promise<WrittenEntry> {
    checkPath(source);
    checkPath(target);
    if (source === ROOT) throw new DfsError('BAD_REQUEST', 'cannot move /');
    return this.core.mutate((recorder) => {
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
      if (replacedBlobId !== null) freeReplicas(recorder, [replacedBlobId]);
      const entry = { ...toEntry(moving), path: destination, name: baseName(destination) };
      return { entry, replacedBlobId };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Building blocks of the mutations (called inside a transaction)

  /** Inserts one entry with an explicit id (so replay does not depend on rowid allocation); returns the id. */
  insertEntry(
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
    const now = this.core.timestamp();
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
    const longest = this.core.db.first(SQL.rangeLongestKey, [owner, below, upper])?.[0];
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
    const row = this.core.db.first(SQL.entry, [owner, pathToKey(path)]);
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
    const rows = this.core.db.all(SQL.entriesAt, [owner, JSON.stringify(keys)]).map(toRow);
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
      current = integer(this.core.db.first(SQL.parentOf, [current])?.[0]);
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
// Rows and entries

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

function checkFile(file: { size: number; blobId: string; sha256: string }): void {
  if (!Number.isSafeInteger(file.size) || file.size < 0) throw new DfsError('BAD_REQUEST', 'file size must be a non-negative integer');
  checkBlobId(file.blobId);
  if (typeof file.sha256 !== 'string' || !SHA256_HEX.test(file.sha256.toLowerCase())) {
    throw new DfsError('BAD_REQUEST', 'sha256 must be 64 hex digits');
  }
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
