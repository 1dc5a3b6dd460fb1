// The protocol, declared once: every message type dfs peers exchange, who may send it, and the
// shape of its request and response. Names are never reused for something else.

import { BLOB_DELETE_BATCH_MAX, BLOB_REPORT_BATCH_MAX, FSCK_PROBLEMS_MAX, GET_TRIES_MAX, HEARTBEAT_RECEIVING_MAX, PASSWORD_BYTES_MAX, PUT_FILES_MAX, REPLICAS_MAX, TICKET_CHARS_MAX, USER_NAME_BYTES_MAX, USERS_PAGE_MAX } from '../limits';
import { array, bool, empty, int, literal, obj, optional, str, type Infer, type Schema } from './schema';

/** A storage node as `nodes` shows it. */
/** What a backup holds besides the catalog: the master's identity files (their names in its data directory). */
export const BACKUP_FILES = ['ca.pem', 'ca-key.pem', 'master-cert.pem', 'master-key.pem', 'ticket-key', 'join-token'] as const;
/** The catalog's snapshot file in a master's data directory, and in a backup. */
export const SNAPSHOT_FILE = 'catalog.snapshot';

export const NODE_STATES = ['alive', 'full', 'stopping', 'draining', 'drained', 'read-only', 'unreachable', 'dead'] as const;

/**
 * Who may send a message: anyone who completed TLS, a node with a CA-signed certificate, the master
 * (its certificate, on a node's link to it), a client whose connection has logged in (the master
 * checks the session), or the holder of a data-plane ticket (the node checks the ticket: anonymous
 * peers may send these, and only these and the 'anyone' ones, to a node).
 */
export type Caller = 'anyone' | 'node' | 'master' | 'user' | 'ticket';

/** Which role answers a message; a peer that receives one it does not serve refuses it. */
export type Server = 'master' | 'node' | 'any';

interface MessageSpec<S extends Server, Request, Response> {
  server: S;
  caller: Caller;
  request: Schema<Request>;
  response: Schema<Response>;
}

function message<S extends Server, Request, Response>(
  server: S,
  caller: Caller,
  request: Schema<Request>,
  response: Schema<Response>,
): MessageSpec<S, Request, Response> {
  return { server, caller, request, response };
}

const nodeId = str({ min: 1, max: 64, pattern: /^[a-z0-9-]+$/ });
const address = str({ min: 3, max: 300 });
/** A node as the admin names one: its id or its address. */
const nodeName = str({ min: 1, max: 300 });
const pem = str({ min: 1, max: 64 * 1024 });
const bytes = int();
const blobId = str({ min: 32, max: 32, pattern: /^[0-9a-f]{32}$/ });
const sha256 = str({ min: 64, max: 64, pattern: /^[0-9a-f]{64}$/ });
const ticket = str({ min: 1, max: TICKET_CHARS_MAX });
/** One more node of a replication chain, with the 'replicate' ticket the master signed for it. */
const chainLink = obj({ nodeId, address, ticket });
const chain = array(chainLink, { max: REPLICAS_MAX });
/** An upload's blobs (one per file put), their bytes one after another in the body in this order; one ticket per
 * node covers them all (src/trust/ticket.ts blobsSubject). */
const uploadBlobs = array(obj({ blobId, size: bytes }), { max: PUT_FILES_MAX });
const storedBlobs = array(obj({ blobId, size: bytes, sha256 }), { max: PUT_FILES_MAX });
/** What the sender of an upload's bytes hears: each blob's size and SHA-256 as stored, in the request's order. */
const blobsHeld = obj({ blobs: array(obj({ size: bytes, sha256 }), { max: PUT_FILES_MAX }) });
const replicaCount = { have: int(), want: int(), nodes: array(str({ max: 300 }), { max: 64 }) };

const space = {
  capacityBytes: bytes,
  usedBytes: bytes,
  freeBytes: bytes,
  blobs: int(),
};
const clusterTotal = obj({ nodes: int(), alive: int(), full: int(), stopping: int(), draining: int(), drained: int(), readOnly: int(), unreachable: int(), dead: int(), linked: int(), ...space });

// Paths are validated for their rules by the master (paths.ts); here only their size is bounded.
const path = str({ min: 1, max: 4096 * 4 });
const userName = str({ min: 1, max: USER_NAME_BYTES_MAX });
const password = str({ min: 1, max: PASSWORD_BYTES_MAX });
const cursor = optional(str({ max: 4096 * 4 }));
const limit = optional(int({ min: 1, max: 10_000 }));
const entryKind = literal('file', 'dir');
const entry = obj({
  path,
  name: str({ max: 1024 }),
  kind: entryKind,
  size: bytes,
  mtimeMs: int(),
  sha256: optional(str({ max: 64 })),
  replicas: optional(obj(replicaCount)),
});
const entryPage = obj({ entries: array(entry, { max: 10_000 }), next: cursor });
const identity = obj({ user: userName, admin: bool() });
/** The balancer's progress: blobs and bytes moved, moves that failed or are under way, and why it stopped. */
const rebalanceStatus = obj({
  running: bool(),
  thresholdPct: int({ min: 1, max: 100 }),
  moved: int(),
  bytes,
  failed: int(),
  inFlight: int(),
  startedMs: int(),
  endedMs: optional(int()),
  outcome: optional(str({ max: 400 })),
});
/** A user's files, their bytes (sizes, not counting replicas), and quotas (absent: none). */
const usage = { files: int(), bytes, quotaBytes: optional(int()), quotaFiles: optional(int()) };

export const MESSAGES = {
  /** Liveness and identification; answers who this peer is. */
  ping: message('any', 'anyone', empty, obj({ role: literal('master', 'node'), version: str({ max: 64 }) })),

  /** A new node asks for a certificate: the join token's secret, a CSR, and the host its certificate names. */
  join: message(
    'master', 'anyone',
    obj({ secret: str({ min: 1, max: 256 }), csrPem: pem, host: str({ min: 1, max: 253 }) }),
    obj({ nodeId, certPem: pem, caPem: pem }),
  ),

  /** A node with a CA-signed certificate announces itself (after every connect) and its space. */
  'node.register': message(
    'master', 'node',
    // readOnly: the node's disk refuses writes (EROFS); it serves what it holds and takes nothing new.
    obj({ advertise: address, version: str({ max: 64 }), ...space, readOnly: optional(bool()) }),
    // ticketKey: the HMAC key (base64url) the node checks data-plane tickets with and signs read tickets with.
    obj({ heartbeatIntervalMs: int({ min: 100, max: 60_000 }), ticketKey: str({ min: 43, max: 128, pattern: /^[A-Za-z0-9_-]+$/ }) }),
  ),

  /** `receiving`: the blobs whose bytes the node is receiving now (oldest first): their bookings are held. */
  'node.heartbeat': message('master', 'node', obj({ ...space, readOnly: optional(bool()), activeTransfers: int(), receiving: optional(array(blobId, { max: HEARTBEAT_RECEIVING_MAX })) }), empty),
  /** The node is shutting down (SIGTERM): the master places no new blob there; it is `stopping` until it
   * registers again (or `dead` past the node timeout). */
  'node.leaving': message('master', 'node', empty, empty),
  /** After every registration, the node's report of the blobs it holds, in pages (`last` on the final one):
   * the master reconciles its catalog with it (copies it did not know, copies the node lost, orphans). */
  'node.blob.report': message(
    'master', 'node',
    obj({ blobs: array(obj({ blobId, size: bytes, sha256 }), { max: BLOB_REPORT_BATCH_MAX }), last: bool() }),
    empty,
  ),

  // ---- The data path. Bytes go client ↔ node; the master only decides and commits.

  // A put carries one file, or several small ones (put -r) at once: every step carries all of its files. All or
  // nothing: the files are committed together (one journal record) or not at all.
  /** Upload steps 1-2 and 5: where to send these files (one of any size, or up to PUT_FILES_MAX small ones). One
   * first node and one chain for all: a blob id per file (in the files' order) and one ticket per node for them
   * all. The first node's allows one blob.put of exactly these blobs; `chain` is the rest of the replication chain
   * (N−1 more nodes by available storage, maybe fewer), each with its own 'replicate' ticket. The client hands the
   * chain to the first node in blob.put. `unreachable`: nodes this client could not connect to (a put tried
   * again): none of them is chosen, and the master probes them (src/master/reachability.ts). */
  'file.put.begin': message(
    'master', 'user',
    obj({ files: array(obj({ path, size: bytes }), { max: PUT_FILES_MAX }), overwrite: bool(), unreachable: optional(array(nodeId, { max: REPLICAS_MAX })) }),
    obj({ nodeId, address, expiresMs: int(), blobIds: array(blobId, { max: PUT_FILES_MAX }), ticket, chain }),
  ),
  /** Upload step 3: the body is the blobs' bytes one after another (exactly their sizes), forwarded down `chain` as
   * they arrive (step 6). Answered only after the master committed every file (step 4), never waiting for the chain. */
  'blob.put': message('node', 'ticket', obj({ blobs: uploadBlobs, ticket, chain }), blobsHeld),
  /** Upload step 4: the node holds the blobs (fsynced, renamed); the master commits their files and first replicas
   * together (journal fsynced), or none of them, before it answers. It matches them to the upload it began. */
  'node.blob.stored': message('master', 'node', obj({ blobs: storedBlobs }), empty),
  /** Upload step 6, node → next node of the chain (mutual TLS, plus the master's 'replicate' ticket for the
   * receiver): the body is the blobs' bytes, stored while they are forwarded to the rest of `chain`.
   * Answered once the receiver's copies are on its disk, never waiting for the rest of the chain. */
  'blob.replicate': message('node', 'node', obj({ blobs: uploadBlobs, ticket, chain }), blobsHeld),
  /** Upload step 7: a chain member holds its copies (fsynced, renamed); the master records them (journal fsynced).
   * The last member's report completes the chain. `refused` lists copies whose bytes are not their file's (the
   * node deletes them). */
  'node.replica.stored': message('master', 'node', obj({ blobs: storedBlobs }), obj({ refused: array(blobId, { max: PUT_FILES_MAX }) })),
  /** Upload step 7: the chain broke at `nodeId` (refused, unreachable, or lost mid-transfer): that node and
   * every one after it will not report; the master records the replicas that exist. */
  'node.replication.broken': message('master', 'node', obj({ blobId, nodeId, message: str({ max: 1024 }) }), empty),
  /** Upload step 7 (repair), master → a node holding a good copy over its link: send the blob down `chain`
   * as blob.replicate (the members report as in an upload). Answered when the first member stored it. */
  'node.replicate': message('node', 'master', obj({ blobId, size: bytes, chain }), empty),
  /** Upload step 7, the shell's side: every file's good copies (`have`, in the files' order) once their chains
   * settled (every member reported or was lost), or `complete: false` after a bounded wait (ask again). The blob
   * ids name this upload. */
  'file.put.wait': message(
    'master', 'user',
    obj({ files: array(obj({ path, blobId }), { max: PUT_FILES_MAX }) }),
    obj({ have: array(int(), { max: PUT_FILES_MAX }), want: int(), complete: bool() }),
  ),
  /** The client's transfer of these uploads failed: the master drops their bookings and any copies their chains
   * made, unless a file was committed after all (the node's answer was what got lost). `committed` says which,
   * per file, once a commit under way has finished. Only the caller's own uploads are touched. */
  'file.put.cancel': message(
    'master', 'user',
    obj({ files: array(obj({ path, blobId }), { max: PUT_FILES_MAX }) }),
    obj({ committed: array(bool(), { max: PUT_FILES_MAX }) }),
  ),

  /** Download steps 1-4: which node to fetch a file from, with a ticket that node made for it. `exclude`:
   * nodes this client already failed to read from (download step 6: the retry goes to another replica). */
  'file.get.begin': message(
    'master', 'user',
    obj({ path, exclude: optional(array(nodeId, { max: REPLICAS_MAX })) }),
    obj({ nodeId, address, blobId, size: bytes, sha256, ticket }),
  ),
  /** Download steps 2-3, master → node over the node's link: prepare a read of this blob. NOT_FOUND
   * or CORRUPT when the node cannot serve it (the master then marks that replica bad). */
  'node.prepare.get': message('node', 'master', obj({ blobId }), obj({ address, ticket, size: bytes, sha256 })),
  /** Download step 5: the reply's body is the blob's bytes from `offset` on (a retry resumes where the last
   * node stopped), sent as read: the reader checks the whole against the file's SHA-256 (file.get.bad if wrong). */
  'blob.get': message('node', 'ticket', obj({ blobId, ticket, offset: optional(int({ min: 0 })) }), obj({ size: bytes, sha256 })),
  /** Download step 6, the reader's side: the bytes of `blobId` read from these nodes did not hash to the file's
   * SHA-256. The master has each of them re-hash its copy (node.blob.verify) unless it did lately; the reader's word
   * alone never marks a copy bad. */
  'file.get.bad': message('master', 'user', obj({ path, blobId, nodeIds: array(nodeId, { max: GET_TRIES_MAX }) }), empty),
  /** Master → node: a reader found this copy's bytes wrong; re-hash it soon (the scrubber, at its rate) and report it
   * damaged (node.blob.error) if it is. NOT_FOUND if not held; RATE_LIMITED if the node's queue of such is full. */
  'node.blob.verify': message('node', 'master', obj({ blobId }), empty),
  /** Download step 6: a node found a blob missing or damaged (or a transfer aborted) while serving it. */
  'node.blob.error': message(
    'master', 'node',
    obj({ blobId, problem: literal('missing', 'corrupt', 'aborted'), message: str({ max: 1024 }) }),
    empty,
  ),
  /** A server-side copy of a file: a node holding it copies the blob locally and replicates the copy like
   * an upload (the bytes never reach the client). Answered once the copy is committed; `blobId` names it
   * for file.put.wait. */
  'fs.copy': message('master', 'user', obj({ source: path, target: path, overwrite: bool() }), obj({ blobId })),
  /** fs.copy, master → a node holding `sourceBlobId`: store its bytes (checked as read) as `blobId`, forwarded
   * down `chain` (blob.replicate) as they are read; reported with node.blob.stored, answered after the master committed. */
  'node.copy': message('node', 'master', obj({ sourceBlobId: blobId, blobId, size: bytes, chain }), obj({ size: bytes, sha256 })),
  /** Master → node: the catalog no longer needs these blobs. Answers how many were held and removed. */
  'node.blob.delete': message('node', 'master', obj({ blobIds: array(blobId, { max: BLOB_DELETE_BATCH_MAX }) }), obj({ removed: int() })),


  /** Logs this connection in; the token resumes the session on another connection. */
  'auth.login': message('master', 'anyone', obj({ user: userName, password: optional(password) }), obj({ token: str({ max: 128 }), user: userName, admin: bool() })),
  'auth.resume': message('master', 'anyone', obj({ token: str({ max: 128 }) }), identity),
  'auth.whoami': message('master', 'user', empty, identity),
  'auth.passwd': message('master', 'user', obj({ oldPassword: optional(password), newPassword: password }), empty),
  'auth.useradd': message('master', 'user', obj({ user: userName, password }), empty),
  /** The admin's: every user (by name, a page at a time) with usage, quotas, and how long logins are still refused. */
  'auth.users': message(
    'master', 'user',
    obj({ after: optional(userName) }),
    obj({ users: array(obj({ user: userName, admin: bool(), ...usage, lockedForMs: int() }), { max: USERS_PAGE_MAX }), next: optional(userName) }),
  ),
  /** The admin's: a new password for another user, whose sessions all end. */
  'auth.reset': message('master', 'user', obj({ user: userName, password }), empty),
  /** The admin's: deletes a user; one who owns files only `withFiles`, which deletes them too. */
  'auth.userdel': message('master', 'user', obj({ user: userName, withFiles: bool() }), obj({ files: int() })),
  /** The admin's: forgets a user's failed logins, so none is refused for them. */
  'auth.unlock': message('master', 'user', obj({ user: userName }), obj({ wasLocked: bool() })),
  /** The admin's: a user's quotas (an absent one: no limit). */
  'auth.quota': message('master', 'user', obj({ user: userName, bytes: optional(int({ min: 0 })), files: optional(int({ min: 0 })) }), empty),

  'fs.stat': message('master', 'user', obj({ path }), entry),
  'fs.list': message('master', 'user', obj({ path, after: cursor, limit }), entryPage),
  'fs.mkdir': message('master', 'user', obj({ path, parents: bool() }), entry),
  'fs.remove': message('master', 'user', obj({ path, recursive: bool() }), obj({ removed: int() })),
  'fs.move': message('master', 'user', obj({ source: path, target: path }), entry),
  /** The replication factor of one of the caller's files, or with `recursive` of every file under a directory; the
   * repairer then adds or trims copies. How many files it set. */
  /** An existing entry's modification time set to now. */
  'fs.touch': message('master', 'user', obj({ path }), entry),
  'fs.setrep': message('master', 'user', obj({ path, replicas: int({ min: 1, max: REPLICAS_MAX }), recursive: bool() }), obj({ files: int() })),
  'fs.find': message(
    'master', 'user',
    obj({
      path,
      name: optional(str({ min: 1, max: 1024 })),
      type: optional(entryKind),
      size: optional(obj({ cmp: literal('gt', 'lt', 'eq'), count: int(), unitBytes: int({ min: 1 }) })),
      after: cursor,
      limit,
    }),
    entryPage,
  ),
  'fs.du': message(
    'master', 'user',
    obj({ path, summary: bool(), after: cursor, limit }),
    obj({ rows: array(obj({ path, bytes }), { max: 10_000 }), next: cursor }),
  ),
  'fs.tree': message('master', 'user', obj({ path, after: cursor, limit }), entryPage),

  /** The health of the caller's files under `path` (the admin's: every user's, named `user:/path`): counts, and
   * the files short of copies (under), with none on a live node (missing), or with a damaged copy (corrupt). */
  'cluster.fsck': message(
    'master', 'user',
    obj({ path }),
    obj({
      files: int(),
      bytes,
      healthy: int(),
      under: int(),
      missing: int(),
      corrupt: int(),
      safeMode: bool(),
      copying: int(),
      problems: array(obj({ path: str({ max: 4096 * 4 + 80 }), problem: literal('under', 'missing', 'corrupt'), have: int(), want: int(), bad: int() }), { max: FSCK_PROBLEMS_MAX }),
    }),
  ),
  /** The admin's: drain a node (no new blobs; its files get their copies elsewhere; `nodes` shows drained once none
   * needs it) or, with `drain: false`, stop draining it. `node`: its id or its address. */
  'cluster.drain': message('master', 'user', obj({ node: nodeName, drain: bool() }), obj({ nodeId })),
  /** The admin's: forget a dead or drained node and the copies it held; its certificate is refused from then on. */
  'cluster.forget': message('master', 'user', obj({ node: nodeName }), obj({ nodeId })),
  /** The admin's: start moving blobs until every node's used fraction is within `thresholdPct` of the mean (a run
   * under way takes the new threshold), or with `stop` stop after the moves under way. */
  'cluster.rebalance': message('master', 'user', obj({ thresholdPct: int({ min: 1, max: 100 }), stop: bool() }), rebalanceStatus),
  /** The admin's: a new join token; the old one joins no new node (joined nodes keep their certificates). */
  'cluster.token.rotate': message('master', 'user', empty, empty),
  /** The admin's: a consistent copy of the master's state. The reply's body is the catalog as a snapshot file
   * (`snapshotBytes` long); `files` are the identity's (CA, keys, ticket key, join token), each under its file name. */
  'cluster.backup': message(
    'master', 'user',
    empty,
    obj({ files: array(obj({ name: literal(...BACKUP_FILES), text: str({ max: 64 * 1024 }) }), { max: BACKUP_FILES.length }), snapshotBytes: int() }),
  ),
  /** The cluster's space and the caller's own usage and quotas. */
  'cluster.df': message('master', 'user', empty, obj({ total: clusterTotal, user: obj({ user: userName, ...usage }) })),
  /** The cluster as the master sees it. */
  'cluster.nodes': message(
    'master', 'user',
    empty,
    obj({
      nodes: array(
        obj({
          nodeId,
          advertise: address,
          // full: alive, with less than 1% of its capacity free (placement passes it by); stopping: shutting down;
          // draining: the admin drains it (its files get their copies elsewhere); drained: none of them needs it
          state: literal(...NODE_STATES),
          ...space,
          lastSeenMs: int(),
          connected: bool(),
        }),
      ),
      // The cluster as a whole, for everyone; `nodes` (each node's address and usage) is the admin's only.
      total: clusterTotal,
      // The admin's: the balancer's last or current run.
      rebalance: optional(rebalanceStatus),
    }),
  ),
} satisfies Record<string, MessageSpec<Server, unknown, unknown>>;

export type Messages = typeof MESSAGES;
export type MessageType = keyof Messages;
export type RequestOf<T extends MessageType> = Infer<Messages[T]['request']>;
export type ResponseOf<T extends MessageType> = Infer<Messages[T]['response']>;
/** The messages a role answers: those it serves and those any role serves. */
export type ServedBy<R extends 'master' | 'node'> = {
  [T in MessageType]: Messages[T]['server'] extends R | 'any' ? T : never;
}[MessageType];

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(MESSAGES, value);
}
