// Every maximum, timeout and interval in dfs, in one place. Units are the last part of each name.
// Relations between limits are asserted at the bottom so a careless edit fails at start-up.

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;

/** A control frame's JSON payload; checked before anything is allocated for it. */
export const FRAME_BYTES_MAX = 16 * MIB;
/** The same for a peer that has not logged in or shown a cluster certificate (or, on a node, a valid ticket):
 * its requests are small, and a stranger must not make a role hold megabytes per connection. */
export const FRAME_BYTES_UNTRUSTED_MAX = 64 * KIB;
/** Payload bytes all connections of a process may hold in frames still arriving, together; a frame that would pass
 * it closes its connection (RATE_LIMITED) instead of being allocated. */
export const FRAME_MEMORY_BYTES_MAX = 128 * MIB;
/** A connection that has not logged in (or shown a certificate or ticket) and sends nothing for this long is closed. */
export const UNTRUSTED_IDLE_MS = 30_000;
/** Open connections a server holds (also at most half its file descriptors): past it a new one displaces the
 * oldest connection that has not logged in, or is refused if every one has. A TLS connection costs the master
 * ~33 KB: 10,000 held by idle strangers took it 326 MB over its normal memory, past the 300 MB it may grow. */
export const CONNECTIONS_MAX = 4_096;
/** Connections from one address that have not logged in: past it a new one displaces that address's oldest. */
export const CONNECTIONS_UNTRUSTED_PER_SOURCE_MAX = 256;
/** Logged-in connections of one user (or, on a node, of one address's ticket holders): past it a new one ends
 * that user's oldest. Never another user's. */
export const CONNECTIONS_PER_PRINCIPAL_MAX = 2_000;
/** A body streamed after a frame (file bytes): any size a node could hold. */
export const BODY_BYTES_MAX = Number.MAX_SAFE_INTEGER;
/** Bytes a receiver buffers for a body before it pauses the socket (back-pressure). */
export const BODY_BUFFER_BYTES = 1 * MIB;
/** Size of read and write chunks on the data path (16 KiB defaults are 4x slower here). */
export const IO_CHUNK_BYTES = 1 * MIB;
/** The buffer for moving `bytes` bytes: a chunk, or less for a small file. A 1 MiB buffer per 4 KiB file
 * made garbage collection the largest cost of small puts. */
export function chunkBytesFor(bytes: number): number {
  return Math.min(IO_CHUNK_BYTES, Math.max(4 * KIB, bytes));
}

export const REQUEST_TIMEOUT_MS = 30_000;
export const CONNECT_TIMEOUT_MS = 10_000;
/** A TLS peer that sends nothing valid for this long is dropped. */
export const IDLE_TIMEOUT_MS = 5 * 60_000;
/** Requests in flight on one connection; past it the peer is told to slow down. */
export const REQUESTS_IN_FLIGHT_MAX = 256;
/** Requests one principal (a user, a ticket holder's address, an address not logged in) has running on a server, over
 * all its connections; more wait their turn (channel.ts Fairness), so one user's flood cannot crowd out the rest. */
export const PRINCIPAL_REQUESTS_IN_FLIGHT_MAX = 256;
/** Frames a connection's one read is decoded for before other connections get a turn (the rest waits a tick); one
 * for a peer that has not logged in (a login is one request: a stranger's pipeline waits its turn frame by frame). */
export const FRAMES_PER_TURN = 8;

export const HEARTBEAT_INTERVAL_MS = 2_000;
export const NODE_TIMEOUT_S_DEFAULT = 30;
export const RECONNECT_DELAY_MS_MIN = 200;
export const RECONNECT_DELAY_MS_MAX = 5_000;

/** Failed joins tolerated per address per window before further tries are refused outright. */
export const JOIN_FAILURES_MAX = 5;
export const JOIN_FAILURE_WINDOW_MS = 60_000;

/** Failed logins tolerated per user and address per window; then RATE_LIMITED until it passes. A guess counts
 * when it is made, before its password is hashed, so guesses sent at once cannot slip past the limit. */
export const LOGIN_FAILURES_MAX = 5;
export const LOGIN_FAILURE_WINDOW_MS = 5 * 60_000;
/** Failed logins per user from all addresses in a short window: guessing from many addresses is capped too, and a
 * stranger can keep the real user out only while guessing, and for one window after. */
export const LOGIN_USER_FAILURES_MAX = 30;
export const LOGIN_USER_FAILURE_WINDOW_MS = 60_000;
/** Failed logins from one address, for any users: the first ones are free, then each waits twice as long as the
 * last (from 1 s up to the maximum); an address quiet for the forget time starts afresh. */
export const LOGIN_SOURCE_FAILURES_FREE = 10;
export const LOGIN_SOURCE_BACKOFF_MS_MAX = 10 * 60_000;
export const LOGIN_SOURCE_FORGET_MS = 15 * 60_000;
/** Keys (user and address, user, address) the login limiter remembers in each of its books; past it the
 * expired go first, then the oldest. */
export const LOGIN_LIMITER_KEYS_MAX = 10_000;
/** A session unused this long ends; each use extends it, up to the absolute lifetime. */
export const SESSION_IDLE_MS = 3600_000;
export const SESSION_TTL_MS = 24 * 3600_000;
export const SESSIONS_MAX = 100_000;
/** Sessions one user holds (the oldest of that user's ends for a new one), and one address opens (past it a new
 * login from there ends that address's oldest session of the same user, or is refused): no login ever ends
 * another user's session. */
export const SESSIONS_PER_USER_MAX = 10_000;
export const SESSIONS_PER_SOURCE_MAX = 1_000;
/** scrypt cost: ~50 ms per hash here, which also slows guessing. */
export const SCRYPT_COST = 16_384;
/** Password hashes running at once, and waiting: scrypt runs on the thread pool the journal's fsyncs need, so a
 * flood of logins must leave it threads (libuv has 4). Past the queue a login is refused as busy. */
export const PASSWORD_HASHES_IN_FLIGHT_MAX = 2;
/** A login refused only because others are being checked is asked again after this (the master says so)… */
export const LOGIN_RETRY_AFTER_MS = 200;
/** …by a client for at most this long in all. */
export const LOGIN_RETRY_WAIT_MS_MAX = 10_000;
export const PASSWORD_HASHES_QUEUED_MAX = 16;
export const PASSWORD_BYTES_MAX = 1024;
export const PASSWORD_CHARS_MIN = 8;
/** Repeated warnings of one kind (failed logins, refused connections) are logged once per interval, with a count. */
export const LOG_REPEAT_INTERVAL_MS = 10_000;

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
/** Names one glob may expand to (remote or local): past it the user is asked to narrow the pattern. */
export const GLOB_MATCHES_MAX = 100_000;
/** Bytes `tail` keeps of a file's end. */
export const SHELL_TAIL_BYTES_MAX = 16 * MIB;

function assert(condition: boolean, what: string): void {
  if (!condition) throw new Error(`limits: ${what}`);
}
assert(IO_CHUNK_BYTES <= BODY_BUFFER_BYTES, 'a chunk fits in the body buffer');
assert(FRAME_BYTES_MAX < 2 ** 32, 'frame length fits the u32 header field');
assert(FRAME_BYTES_UNTRUSTED_MAX <= FRAME_BYTES_MAX && FRAME_BYTES_MAX <= FRAME_MEMORY_BYTES_MAX, 'frame limits nest');
assert(CONNECTIONS_UNTRUSTED_PER_SOURCE_MAX < CONNECTIONS_MAX && CONNECTIONS_PER_PRINCIPAL_MAX < CONNECTIONS_MAX, 'one source or user never fills a server');
assert(HEARTBEAT_INTERVAL_MS * 3 < NODE_TIMEOUT_S_DEFAULT * 1000, 'a node misses several heartbeats before it is dead');
assert(RECONNECT_DELAY_MS_MIN < RECONNECT_DELAY_MS_MAX, 'reconnect backoff grows');
assert(NAME_BYTES_MAX < PATH_BYTES_MAX, 'a name fits in a path');
assert(LOGIN_FAILURES_MAX <= LOGIN_USER_FAILURES_MAX, 'one address alone cannot lock a user out everywhere');
assert(SESSION_IDLE_MS <= SESSION_TTL_MS, 'an idle session ends before its lifetime does');
assert(SESSIONS_PER_SOURCE_MAX <= SESSIONS_PER_USER_MAX && SESSIONS_PER_USER_MAX <= SESSIONS_MAX, 'session caps nest');

// The master's catalog (src/master/catalog/).
/** Entries (or du rows) in one page of ls, find, du or tree; cursors make the rest reachable. */
export const PAGE_ENTRIES_DEFAULT = 10_000;
export const PAGE_ENTRIES_MAX = 10_000;
export const USER_NAME_BYTES_MAX = 32;
/** Users in one page of `users` (the admin's list); the client fetches the rest page by page. */
export const USERS_PAGE_MAX = 1_000;
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
/** Or past this many records: replay costs ~50 µs a record, so this bounds the replay part of a cold start (~5 s). */
export const JOURNAL_RECORDS_MAX_DEFAULT = 100_000;
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

// The node's blob store (src/store/blobs.ts) and data-plane tickets (src/trust/ticket.ts).
/** Disk space the blob store leaves free for everything else on that disk (identity, logs, the OS). */
export const BLOB_RESERVE_BYTES_DEFAULT = 64 * MIB;
/** Bytes one blob writer has handed to the disk and not yet seen written; write() waits past it.
 * 2-8 MiB measured alike here; 1 MiB serialises hashing and writing (~40 % slower). */
export const BLOB_WRITE_IN_FLIGHT_BYTES = 4 * MIB;
/** A blob writer starts an fdatasync behind its writes each time this many more bytes are on disk (see
 * FileBlobWriter.syncBehind): the commit's own fdatasync then finds little left to write. */
export const BLOB_SYNC_BEHIND_BYTES = 32 * MIB;
/** Chunks smaller than this are copied into an IO_CHUNK_BYTES staging buffer before they are written:
 * 16 KiB pwrites ran at ~55 MB/s, the same bytes coalesced at ~600 MB/s; from 256 KiB up a direct write is as fast. */
export const BLOB_COALESCE_BELOW_BYTES = 256 * KIB;
/** Blob files stat'ed at once while a store opens (the scan reads names and sizes, never content). */
export const BLOB_SCAN_PARALLEL = 32;
/** A data-plane ticket as text; checked before it is parsed (a real one is ~300 characters). */
export const TICKET_CHARS_MAX = 1024;
/** How long a ticket is valid for: it must be presented within this, not finish the transfer within it. */
export const TICKET_TTL_MS_DEFAULT = 5 * 60_000;
export const TICKET_TTL_MS_MAX = 60 * 60_000;
/** Clocks of master and node may differ this much; a ticket expiring later than TTL max + skew is refused. */
export const TICKET_CLOCK_SKEW_MS = 60_000;
/** Ticket nonces a node remembers (until their ticket expires) to refuse replays; past it, RATE_LIMITED. */
export const TICKET_NONCES_MAX = 100_000;

// The data path (src/master/transfers.ts, src/node/node.ts, src/client/transfer.ts).
/** Uploads begun (ticket handed out) and not yet stored that the master remembers; past it, RATE_LIMITED. */
export const UPLOADS_PENDING_MAX = 10_000;
/** Uploads one session may have begun and not finished (put -r holds 4 batches of up to 128 at once). */
export const UPLOADS_PENDING_PER_SESSION_MAX = 1_024;
/** The share of the cluster's free space one user's uploads in progress may book: the rest stays for others. */
export const UPLOAD_BOOKED_SHARE_PER_USER = 0.5;
/** An upload's booking lapses with its ticket unless bytes flow: a node receiving it names it in every heartbeat,
 * which holds the booking this much longer. */
export const UPLOAD_HOLD_MS = 30_000;
/** Once its file is committed, a chain waits this long for its members' reports (they receive the bytes alongside
 * the first node, so they are moments behind it), longer only while their heartbeats say bytes still flow. Then
 * the file's missing copies are the repairer's: a member whose report was lost no longer keeps the file at fewer
 * copies until the ticket's lifetime ends. */
export const COMMITTED_CHAIN_REPORTS_MS = 2 * REQUEST_TIMEOUT_MS;
/** Blobs a heartbeat names as being received, at most (a node's oldest transfers first). */
export const HEARTBEAT_RECEIVING_MAX = 4_096;
/** Blob ids in one node.blob.delete request. */
export const BLOB_DELETE_BATCH_MAX = 1_000;
/** A transfer's request may take REQUEST_TIMEOUT_MS plus its bytes at this slowest rate. */
export const TRANSFER_BYTES_PER_S_MIN = 1 * MIB;
/** How long a request that moves `bytes` may take: the usual timeout plus those bytes at the slowest rate allowed. */
export function transferTimeoutMs(bytes: number): number {
  return REQUEST_TIMEOUT_MS + Math.ceil((bytes / TRANSFER_BYTES_PER_S_MIN) * 1000);
}
/** The longest one file.put.wait holds its answer; the shell asks again while the chain still runs. */
export const REPLICATION_WAIT_MS = 10_000;
/** Tries the master makes to complete a put's broken chain from the copies that exist, this far apart. */
export const CHAIN_REPAIRS_MAX = 3;
export const CHAIN_REPAIR_DELAY_MS = 500;
/** Nodes the master asks, one after another, to prepare a read before it gives up. */
export const READ_PREPARE_TRIES_MAX = 3;
/** One put carries one file of any size, or up to PUT_FILES_MAX files of at most PUT_SMALL_FILE_BYTES_MAX each and
 * PUT_FILES_BYTES_MAX in all: one request to the master, one body to the first node and down the chain, one report
 * per node and one journal record for them all. put -r groups small files this way: per-file round trips made
 * small files CPU-bound at ~80 files/s. */
export const PUT_FILES_MAX = 128;
export const PUT_FILES_BYTES_MAX = 16 * MIB;
export const PUT_SMALL_FILE_BYTES_MAX = 1 * MIB;
/** Files put -r, get -r and cp -r move at once: enough to overlap each file's round trips to the master
 * and the nodes, few enough not to crowd them (each also holds a replication chain). */
export const TREE_TRANSFERS_IN_FLIGHT_MAX = 4;
/** How long a connection to a node waits in a pool for its next transfer, and how many wait per node. */
export const POOL_IDLE_MS = 10_000;
export const POOL_IDLE_PER_PEER_MAX = 16;
/** How long a node shutting down waits for the master to hear it leaves. */
export const LEAVING_NOTICE_MS = 2_000;
/** Blobs per page of a node's report of what it holds. */
export const BLOB_REPORT_BATCH_MAX = 5_000;
/** A node whose report of a stored blob went unanswered keeps the blob and lists everything it holds again this
 * long after (a full report, as after registering): the master then records the copy or deletes it as an orphan. */
export const UNCONFIRMED_REPORT_DELAY_MS = 10_000;
/** Besides, a node lists every blob it holds this often (HDFS's full block report, more often: small clusters): a
 * copy the master never heard of (a report lost with its link, a chain member the master gave up on) is recorded,
 * or deleted as an orphan, within this time. */
export const FULL_REPORT_INTERVAL_MS = 10 * 60_000;
/** The repairer: how often it looks for blobs with too few (or too many) live copies when nothing told it
 * to sooner, how many files it reads per step of a sweep, and how many copies it makes at once — in all,
 * and per node as source or target, so recovery never starves users' transfers. */
export const REPAIR_SWEEP_INTERVAL_MS = 60_000;
export const REPAIR_CHECK_MS = 1_000;
/** Orphans (copies no file needs) that nodes report in this long after the master starts are kept until it is over, as
 * HDFS delays block deletion after start-up: a master restored from an older backup must not delete at once what a
 * newer catalog knew. Later orphans go at once. `--orphan-grace` sets it. */
export const ORPHAN_GRACE_S_DEFAULT = 3600;
/** How often the master probes the address of a node marked unreachable, to trust it again. */
export const UNREACHABLE_PROBE_INTERVAL_MS = 15_000;
/** Probes of one node's address are at least this far apart, however many clients report it unreachable. */
export const UNREACHABLE_PROBE_GAP_MS = 2_000;
/** How long a probe of a node's address may take to reach a TLS handshake. */
export const UNREACHABLE_PROBE_TIMEOUT_MS = 5_000;
/** How many nodes a put may find unreachable, one after another, before it gives up. */
export const PUT_UNREACHABLE_RETRIES_MAX = 3;
/** How often a repair under way logs its progress. */
export const REPAIR_PROGRESS_LOG_MS = 60_000;
export const REPAIR_SWEEP_PAGE = 5_000;
export const REPAIR_STREAMS_MAX = 8;
export const REPAIR_STREAMS_PER_NODE = 2;
/** The balancer (rebalance): blobs planned per round, and moved at once. */
export const REBALANCE_ROUND_MOVES_MAX = 64;
export const REBALANCE_STREAMS_MAX = 4;
/** How far (in points of used fraction) a node may be from the mean when rebalance is done, unless told. */
export const REBALANCE_THRESHOLD_PCT_DEFAULT = 10;
/** Copies one sweep collects before it makes them (the rest wait for the next sweep): bounds the master's memory. */
export const REPAIR_QUEUE_MAX = 10_000;
/** A damaged copy is deleted once this many good copies are on linked nodes that reported (HDFS deletes a
 * corrupt replica once the block has dfs.namenode.replication.min = 1 live replica): its node can then
 * take a new copy, which a small cluster needs. */
export const DAMAGED_DELETE_AFTER_GOOD = 1;
/** Problem files fsck names (the counts cover all). */
export const FSCK_PROBLEMS_MAX = 1_000;
/** After a start the master waits this long at most for every node holding copies to report (safe mode). */
export const SAFE_MODE_MAX_MS = 30_000;
/** Nodes a download reads from (each retry resumes where the last one stopped) before it gives up. */
export const GET_TRIES_MAX = 5;

assert(BLOB_COALESCE_BELOW_BYTES < IO_CHUNK_BYTES, 'a coalesced chunk fits in a staging buffer');
assert(IO_CHUNK_BYTES <= BLOB_WRITE_IN_FLIGHT_BYTES, 'a whole chunk can be in flight');
assert(TICKET_TTL_MS_DEFAULT <= TICKET_TTL_MS_MAX, 'the default ticket lifetime is allowed');
assert(REPLICATION_WAIT_MS < REQUEST_TIMEOUT_MS, 'a held file.put.wait answers before its request times out');
assert(UPLOAD_HOLD_MS > 3 * HEARTBEAT_INTERVAL_MS, 'a booking outlives a few late heartbeats');
assert(UPLOAD_BOOKED_SHARE_PER_USER > 0 && UPLOAD_BOOKED_SHARE_PER_USER < 1, 'a user books part of the free space, never all');

// Background scrubbing on the nodes (src/node/scrub.ts, BlobStore.verify).
/** Bytes a second a node re-hashes its blobs at in the background (--scrub-rate; 0 turns the passes off: only copies a reader blamed are re-hashed). */
export const SCRUB_BYTES_PER_S_DEFAULT = 32 * MIB;
/** Pause between the end of one scrub pass over every blob and the start of the next (--scrub-interval). */
export const SCRUB_INTERVAL_S_DEFAULT = 24 * 3600;
/** Bytes a rate-limited re-hash reads at once before it pauses: short reads that never hold the disk from users. */
export const SCRUB_CHUNK_BYTES = 256 * KIB;
/** Copies a node queues for re-hashing because a reader found their bytes wrong (node.blob.verify); past it the
 * master is refused, and the scrub's passes find the rest. They are re-hashed one at a time at the scrub rate. */
export const SCRUB_SUSPECTS_MAX = 64;
/** A copy a reader blamed is re-hashed on the master's word at most once in this long (file.get.bad): a reader
 * that keeps blaming good copies costs each node one paced re-hash per copy and period, not one per report. */
export const SUSPECT_RECHECK_MS = 10 * 60_000;
/** Copies the master remembers asking to be re-hashed (for SUSPECT_RECHECK_MS); past it, new blame is dropped
 * until old entries expire (the scrub's passes still find damage). */
export const SUSPECT_COPIES_MAX = 10_000;

assert(SCRUB_CHUNK_BYTES <= IO_CHUNK_BYTES, 'a scrub read is no larger than a data-path chunk');
