// The catalog's tables and every SQL statement it runs, with how their columns are encoded and read
// back.

export const SCHEMA_VERSION = 5;

/** entries.kind */
export const DIR = 0;
export const FILE = 1;

/** A copy of a blob on a node, as the catalog knows it: good; bad (missing or damaged there); or
 * deleting (no file needs it any more; the node is asked to remove it, and the row goes when it has).
 * replicas.state is the index in this list. */
export const REPLICA_STATES = ['good', 'bad', 'deleting'] as const;
export type ReplicaState = (typeof REPLICA_STATES)[number];
export const GOOD = 0;
const DELETING = 2;

// Which nodes hold which blob (state: REPLICA_STATES index). Version 2 added it; a version-1
// snapshot gets the empty table at open (MIGRATE_1_TO_2), before its journal is replayed.
const REPLICAS_SCHEMA = `
CREATE TABLE replicas (blob TEXT NOT NULL, node TEXT NOT NULL, state INTEGER NOT NULL, PRIMARY KEY (blob, node)) WITHOUT ROWID;
CREATE INDEX replicas_by_state ON replicas (state, node);
`;
export const MIGRATE_1_TO_2 = `${REPLICAS_SCHEMA} UPDATE meta SET value = 2 WHERE key = 'schema';`;

// Each user's count of files, kept by triggers as file entries come and go (a journal replayed re-runs the
// statements, and with them the triggers; a statement's count of changed rows leaves out a trigger's), and the
// user's quotas (NULL: none). Version 3 added them; a version-2 snapshot gets them at open (MIGRATE_2_TO_3), its
// counts taken from its entries.
const FILE_COUNT_TRIGGERS = `
CREATE TRIGGER files_in AFTER INSERT ON entries WHEN NEW.kind = 1 BEGIN UPDATE users SET files = files + 1 WHERE id = NEW.owner; END;
CREATE TRIGGER files_out AFTER DELETE ON entries WHEN OLD.kind = 1 BEGIN UPDATE users SET files = files - 1 WHERE id = OLD.owner; END;
`;
export const MIGRATE_2_TO_3 = `
ALTER TABLE users ADD COLUMN files INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN quota_bytes INTEGER;
ALTER TABLE users ADD COLUMN quota_files INTEGER;
UPDATE users SET files = (SELECT count(*) FROM entries WHERE owner = users.id AND kind = 1);
${FILE_COUNT_TRIGGERS}
UPDATE meta SET value = 3 WHERE key = 'schema';`;

// The storage nodes the master has known (so a restart still lists the dead and the drained): each one's address
// when it last registered, whether the admin drains it, and whether it was forgotten (its certificate is no longer
// accepted). Version 4 added it.
const NODES_SCHEMA = `
CREATE TABLE nodes (id TEXT PRIMARY KEY, advertise TEXT NOT NULL, registered_ms INTEGER NOT NULL,
  drain INTEGER NOT NULL DEFAULT 0, forgotten INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
`;
export const MIGRATE_3_TO_4 = `${NODES_SCHEMA} UPDATE meta SET value = 4 WHERE key = 'schema';`;

// The replication factor of a file's blob set with setrep (a blob without a row has the master's --replicas): kept
// by blob, so new bytes at a path (an overwrite, a copy) start from the default again, as in HDFS. A blob no file
// needs loses its row. Version 5 added it.
const WANTS_SCHEMA = `CREATE TABLE blob_wants (blob TEXT PRIMARY KEY, want INTEGER NOT NULL) WITHOUT ROWID;`;
export const MIGRATE_4_TO_5 = `${WANTS_SCHEMA} UPDATE meta SET value = 5 WHERE key = 'schema';`;

// sha256 is stored as its 32 raw bytes (half the size of its hex). A root's parent is -(owner id),
// never an entry id, so that (parent, name) stays unique across all users' roots.
export const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, salt BLOB, hash BLOB,
  admin INTEGER NOT NULL, created_ms INTEGER NOT NULL, files INTEGER NOT NULL DEFAULT 0, quota_bytes INTEGER,
  quota_files INTEGER);
CREATE TABLE entries (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, parent INTEGER NOT NULL,
  name TEXT NOT NULL, path_key TEXT NOT NULL, kind INTEGER NOT NULL, size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL, blob TEXT, sha256 BLOB);
CREATE UNIQUE INDEX entries_by_path ON entries (owner, path_key);
CREATE UNIQUE INDEX entries_by_parent ON entries (parent, name);
${REPLICAS_SCHEMA}
${FILE_COUNT_TRIGGERS}
${NODES_SCHEMA}
${WANTS_SCHEMA}
INSERT INTO meta (key, value) VALUES ('schema', ${SCHEMA_VERSION}), ('generation', 1);
`;

// Which file has a blob: asked when a node reports a copy the catalog did not record. An index, not
// data: made at every open (older snapshots lack it), never journaled.
export const INDEXES_MADE_AT_OPEN = 'CREATE INDEX IF NOT EXISTS entries_by_blob ON entries (blob) WHERE blob IS NOT NULL;';

// sha256 is read as hex(): sql.js returns a BLOB as a freshly allocated Uint8Array, and allocating
// (and collecting) two of those per row made ls of 10,000 entries twice as slow.
const ROW = 'id, parent, name, path_key, kind, size, mtime_ms, blob, hex(sha256)';
// Pages read only what an Entry needs: every column read through sql.js costs about a microsecond.
const LISTED = 'name, kind, size, mtime_ms, blob, hex(sha256)';
const LISTED_WITH_KEY = `${LISTED}, path_key`;
const USER = 'id, name, admin, salt, hash, created_ms, files, quota_bytes, quota_files';

// Every statement text is a constant: the statement cache is keyed by it and the journal records it.
export const SQL = {
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
  usersAfter: `SELECT ${USER} FROM users WHERE name > ?1 ORDER BY name LIMIT ?2`,
  // A deleted user's id is never given again (meta 'last_user_id'): nothing keyed by it may reach a new user.
  maxUserId: `SELECT max(coalesce((SELECT max(id) FROM users), 0), coalesce((SELECT value FROM meta WHERE key = 'last_user_id'), 0))`,
  userUsage: `SELECT u.files, e.size FROM users u JOIN entries e ON e.owner = u.id AND e.parent = -u.id WHERE u.id = ?1`,
  setQuota: `UPDATE users SET quota_bytes = ?2, quota_files = ?3 WHERE id = ?1`,
  ownerBlobs: `SELECT blob FROM entries WHERE owner = ?1 AND kind = ${FILE}`,
  ownerHasFiles: `SELECT 1 FROM entries WHERE owner = ?1 AND parent >= 0 LIMIT 1`,
  deleteOwnerEntries: `DELETE FROM entries WHERE owner = ?1`,
  deleteUser: `DELETE FROM users WHERE id = ?1`,
  rememberUserId: `INSERT INTO meta (key, value) VALUES ('last_user_id', ?1) ON CONFLICT (key) DO UPDATE SET value = max(value, ?1)`,
  insertUser: `INSERT INTO users (id, name, salt, hash, admin, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
  setPassword: `UPDATE users SET salt = ?2, hash = ?3 WHERE id = ?1`,
  knownNodes: `SELECT id, advertise, registered_ms, drain, forgotten FROM nodes ORDER BY id`,
  knownNode: `SELECT advertise, drain, forgotten FROM nodes WHERE id = ?1`,
  noteNode: `INSERT INTO nodes (id, advertise, registered_ms) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET advertise = ?2, registered_ms = ?3`,
  setNodeDrain: `UPDATE nodes SET drain = ?2 WHERE id = ?1`,
  forgetNode: `UPDATE nodes SET forgotten = 1, drain = 0 WHERE id = ?1`,
  deleteReplicasOn: `DELETE FROM replicas WHERE node = ?1`,
  wantsOf: `SELECT blob, want FROM blob_wants WHERE blob IN (SELECT value FROM json_each(?1))`,
  setWant: `INSERT OR REPLACE INTO blob_wants (blob, want) VALUES (?1, ?2)`,
  forgetWants: `DELETE FROM blob_wants WHERE blob IN (SELECT value FROM json_each(?1))`,
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
  filesOfBlobs: `SELECT blob, size, hex(sha256), owner FROM entries WHERE blob IN (SELECT value FROM json_each(?1))`,
} as const;

// An IN list of parameters runs twice as fast as json_each: one statement text per depth (cached),
// and past CHAIN_ARITY_MAX the json_each form, so the statement cache stays bounded.
const CHAIN_ARITY_MAX = 32;
export const chainStatements = Array.from({ length: CHAIN_ARITY_MAX + 1 }, (_, arity) => {
  const ids = Array.from({ length: arity }, (_, index) => `?${index + 3}`).join(', ');
  return `UPDATE entries SET size = size + ?1, mtime_ms = CASE id WHEN ?3 THEN ?2 ELSE mtime_ms END WHERE id IN (${ids})`;
});

// -----------------------------------------------------------------------------------------------
// Reading columns: a value of another type than the schema says is a bug, never a user's error.

export function integer(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`catalog: expected an integer, found ${String(value)}`);
  return value;
}

export function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`catalog: expected text, found ${String(value)}`);
  return value;
}

export function bytes(value: unknown): Buffer | null {
  if (value === null) return null;
  if (!(value instanceof Uint8Array)) throw new Error('catalog: expected a BLOB');
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function nullableText(value: unknown): string | null {
  return value === null ? null : text(value);
}

/** hex() of a NULL is '' (a directory); SQLite's hex is uppercase, ours lowercase. */
export function hexDigest(value: unknown): string | null {
  const digest = text(value);
  return digest === '' ? null : digest.toLowerCase();
}
