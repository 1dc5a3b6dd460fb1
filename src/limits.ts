// Every maximum, timeout and interval in dfs, in one place. Units are the last part of each name.
// Relations between limits are asserted at the bottom so a careless edit fails at start-up.

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;

/** A control frame's JSON payload; checked before anything is allocated for it. */
export const FRAME_BYTES_MAX = 16 * MIB;
/** A body streamed after a frame (file bytes): any size a node could hold. */
export const BODY_BYTES_MAX = Number.MAX_SAFE_INTEGER;
/** Bytes a receiver buffers for a body before it pauses the socket (back-pressure). */
export const BODY_BUFFER_BYTES = 1 * MIB;
/** Size of read and write chunks on the data path (16 KiB defaults are 4x slower here). */
export const IO_CHUNK_BYTES = 1 * MIB;

export const REQUEST_TIMEOUT_MS = 30_000;
export const CONNECT_TIMEOUT_MS = 10_000;
/** A TLS peer that sends nothing valid for this long is dropped. */
export const IDLE_TIMEOUT_MS = 5 * 60_000;
/** Requests in flight on one connection; past it the peer is told to slow down. */
export const REQUESTS_IN_FLIGHT_MAX = 256;

export const HEARTBEAT_INTERVAL_MS = 2_000;
export const NODE_TIMEOUT_S_DEFAULT = 30;
export const RECONNECT_DELAY_MS_MIN = 200;
export const RECONNECT_DELAY_MS_MAX = 5_000;

/** Failed joins tolerated per address per window before further tries are refused outright. */
export const JOIN_FAILURES_MAX = 5;
export const JOIN_FAILURE_WINDOW_MS = 60_000;

/** Failed logins tolerated per user and address per window; then RATE_LIMITED until it passes. */
export const LOGIN_FAILURES_MAX = 5;
export const LOGIN_FAILURE_WINDOW_MS = 5 * 60_000;
export const SESSION_TTL_MS = 24 * 3600_000;
export const SESSIONS_MAX = 100_000;
/** scrypt cost: ~50 ms per hash here, which also slows guessing. */
export const SCRYPT_COST = 16_384;
export const PASSWORD_BYTES_MAX = 1024;

export const REPLICAS_DEFAULT = 3;
export const REPLICAS_MAX = 16;
export const DEMO_NODES_DEFAULT = 3;
export const DEMO_NODES_MAX = 16;

export const NAME_BYTES_MAX = 255;
export const PATH_BYTES_MAX = 4096;

/** Lines kept in the shell's history file (~/.dfs_history). */
export const SHELL_HISTORY_LINES_MAX = 1_000;
/** Entries `tree` holds in memory to draw one tree; past it the user is told to use find. */
export const SHELL_TREE_ENTRIES_MAX = 200_000;

function assert(condition: boolean, what: string): void {
  if (!condition) throw new Error(`limits: ${what}`);
}
assert(IO_CHUNK_BYTES <= BODY_BUFFER_BYTES, 'a chunk fits in the body buffer');
assert(FRAME_BYTES_MAX < 2 ** 32, 'frame length fits the u32 header field');
assert(HEARTBEAT_INTERVAL_MS * 3 < NODE_TIMEOUT_S_DEFAULT * 1000, 'a node misses several heartbeats before it is dead');
assert(RECONNECT_DELAY_MS_MIN < RECONNECT_DELAY_MS_MAX, 'reconnect backoff grows');
assert(NAME_BYTES_MAX < PATH_BYTES_MAX, 'a name fits in a path');

// The master's catalog (src/store/catalog.ts, journal.ts).
/** Entries (or du rows) in one page of ls, find, du or tree; cursors make the rest reachable. */
export const PAGE_ENTRIES_DEFAULT = 10_000;
export const PAGE_ENTRIES_MAX = 10_000;
export const USER_NAME_BYTES_MAX = 32;
/** A `find -name` pattern. */
export const GLOB_BYTES_MAX = 1024;
/** A blob id as the nodes name blobs; opaque to the catalog. */
export const BLOB_ID_BYTES_MAX = 128;
/** A password salt or scrypt hash as stored in the catalog. */
export const SECRET_BYTES_MAX = 1024;
/** Files one catalog createFiles call commits in one transaction and one journal record. */
export const CREATE_FILES_BATCH_MAX = 10_000;
/** The journal past which a snapshot is taken in the background (and the journal restarted). */
export const JOURNAL_BYTES_MAX_DEFAULT = 64 * MIB;
/** One journal record (one mutation's statements); checked when written and when replayed. */
export const JOURNAL_RECORD_BYTES_MAX = 64 * MIB;
/** Bytes one group commit writes with one write and one fdatasync. */
export const JOURNAL_BATCH_BYTES_MAX = 8 * MIB;
/** Records waiting for their fsync; past it mutations are refused (RATE_LIMITED) until the disk catches up. */
export const JOURNAL_BACKLOG_BYTES_MAX = 64 * MIB;
/** Read size when replaying a journal at start-up. */
export const JOURNAL_READ_CHUNK_BYTES = 4 * MIB;
/** Records replayed in one SQL transaction at start-up (one commit per chunk, not per record). */
export const JOURNAL_REPLAY_RECORDS_PER_TRANSACTION = 1_000;

assert(PAGE_ENTRIES_DEFAULT <= PAGE_ENTRIES_MAX, 'the default page fits the maximum');
assert(JOURNAL_RECORD_BYTES_MAX < 2 ** 32, 'record length fits the u32 header field');
assert(JOURNAL_BATCH_BYTES_MAX <= JOURNAL_BACKLOG_BYTES_MAX, 'a batch fits in the backlog');
assert(JOURNAL_RECORD_BYTES_MAX <= JOURNAL_BYTES_MAX_DEFAULT, 'a record fits in one journal generation');
