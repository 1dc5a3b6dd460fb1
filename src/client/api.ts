// What a user-facing program (the shell, the TUI) can ask of the cluster. The shell and the TUI
// call only this interface, never the wire; `RemoteClient` in client.ts implements it over TLS.

import type { NODE_STATES, ResponseOf } from '../wire/messages';
import type { Entry as CatalogEntry, EntryKind, FindFilter, SizeFilter } from '../master/catalog/namespace';

export type { EntryKind, FindFilter, SizeFilter };

/** A namespace entry as a user sees it: the catalog's Entry without its blob id (which never leaves the
 * master), with its copies. */
export interface Entry extends Omit<CatalogEntry, 'blobId'> {
  /** Files only: live good replicas and the replication factor wanted; the nodes holding them from stat
   * only (listings leave `nodes` empty). */
  replicas: { have: number; want: number; nodes: string[] } | null;
}

/** The cluster as a whole: what everyone may see of the nodes. */
export interface ClusterTotal {
  nodes: number;
  alive: number;
  full: number;
  stopping: number;
  draining: number;
  drained: number;
  readOnly: number;
  unreachable: number;
  dead: number;
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
  blobs: number;
}

/** The totals of a list of nodes, as `nodes` shows them to everyone. */
export function clusterTotal(nodes: readonly Pick<NodeInfo, 'state' | 'capacityBytes' | 'usedBytes' | 'freeBytes' | 'blobs'>[]): ClusterTotal {
  const count = (state: NodeInfo['state']): number => nodes.filter((node) => node.state === state).length;
  const sum = (pick: (node: (typeof nodes)[number]) => number): number => nodes.reduce((total, node) => total + pick(node), 0);
  return {
    nodes: nodes.length,
    alive: count('alive'),
    full: count('full'),
    stopping: count('stopping'),
    draining: count('draining'),
    drained: count('drained'),
    readOnly: count('read-only'),
    unreachable: count('unreachable'),
    dead: count('dead'),
    capacityBytes: sum((node) => node.capacityBytes),
    usedBytes: sum((node) => node.usedBytes),
    freeBytes: sum((node) => node.freeBytes),
    blobs: sum((node) => node.blobs),
  };
}

export interface NodeInfo {
  nodeId: string;
  advertise: string;
  state: (typeof NODE_STATES)[number];
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
  blobs: number;
  lastSeenMs: number;
}

/** fsck: how healthy files are (the master's view now). */
export interface FsckReport {
  files: number;
  bytes: number;
  healthy: number;
  /** Fewer good copies on live nodes than wanted (being copied again). */
  under: number;
  /** No good copy on a live node: unreadable until a holder comes back. */
  missing: number;
  /** Enough good copies, and a damaged one still to delete. */
  corrupt: number;
  /** The master just started and waits for nodes' reports: copies are not judged yet. */
  safeMode: boolean;
  /** Copies the repairer is making now. */
  copying: number;
  problems: { path: string; problem: 'under' | 'missing' | 'corrupt'; have: number; want: number; bad: number }[];
}

export interface Identity {
  user: string;
  admin: boolean;
}

/** The balancer's progress (rebalance): blobs and bytes moved, failed and under way; why it stopped. */
export type RebalanceStatus = ResponseOf<'cluster.rebalance'>;

/** A user's files, their bytes (sizes, not counting replicas) and quotas (absent: none). */
export interface Usage {
  files: number;
  bytes: number;
  quotaBytes?: number;
  quotaFiles?: number;
}

/** A user as the admin's `users` lists them; `lockedForMs`: how long their logins are still refused. */
export interface UserInfo extends Usage {
  user: string;
  admin: boolean;
  lockedForMs: number;
}

/** How far a transfer is; called as bytes move (often: keep it cheap). */
export type ProgressListener = (bytes: number, totalBytes: number) => void;

export interface PutOptions {
  /** Replace an existing file (else EXISTS). */
  overwrite?: boolean;
  onProgress?: ProgressListener;
  /** Wait until the replication chain settled (default); false returns once the first copy is committed. */
  wait?: boolean;
}

/** One file of a put: its local and remote paths, and its size when it was listed (put looks when it is absent). */
export interface PutFile {
  localPath: string;
  remotePath: string;
  size?: number;
}

/** A copy's options: as put's, without progress (no bytes pass through the client). */
export type CopyOptions = Pick<PutOptions, 'overwrite' | 'wait'>;

export interface GetOptions {
  onProgress?: ProgressListener;
}

/** What a download delivered, verified. */
export interface Fetched {
  size: number;
  sha256: string;
}

/** All paths are canonical absolute paths (resolve user input with paths.resolvePath first). */
export interface ClusterApi {
  readonly masterAddress: string;
  whoami(): Promise<Identity>;
  passwd(oldPassword: string | undefined, newPassword: string): Promise<void>;
  useradd(user: string, password: string | undefined): Promise<void>;
  /** Every user with usage, quotas and lockout (the admin's). */
  users(): Promise<UserInfo[]>;
  /** A new password for another user, whose sessions end (the admin's). */
  resetPassword(user: string, password: string): Promise<void>;
  /** Deletes a user; one owning files only with `withFiles`, which deletes them too (the admin's). */
  userdel(user: string, withFiles: boolean): Promise<{ files: number }>;
  /** Clears a user's failed logins (the admin's); whether they were locked out. */
  unlock(user: string): Promise<boolean>;
  /** Sets a user's quotas; an absent one is no limit (the admin's). */
  setQuota(user: string, quota: { bytes?: number; files?: number }): Promise<void>;
  /** Drains a node (by id or address), or with `drain: false` stops draining it (the admin's); its id. */
  drain(node: string, drain: boolean): Promise<string>;
  /** Forgets a dead or drained node (the admin's); its id. */
  forget(node: string): Promise<string>;
  /** A new join token in the master's data directory (the admin's). */
  rotateToken(): Promise<void>;
  /** A consistent copy of the master's state (catalog, CA and keys, ticket key, join token) into a new or empty local
   * directory, from which `dfs master --data DIR` starts (the admin's); the catalog's bytes. */
  backup(localDir: string): Promise<{ catalogBytes: number }>;
  /** The cluster's space and your own usage and quotas. */
  df(): Promise<{ total: ClusterTotal; user: Usage & { user: string } }>;
  stat(path: string): Promise<Entry>;
  /** Directory children sorted by name (all pages fetched). A file path yields that file alone. */
  list(path: string): Promise<Entry[]>;
  mkdir(path: string, parents: boolean): Promise<void>;
  remove(path: string, recursive: boolean): Promise<number>;
  move(source: string, target: string): Promise<Entry>;
  /** Sets an existing entry's modification time to now. */
  touch(path: string): Promise<Entry>;
  /** Sets the replication factor of a file, or with `recursive` of every file under a directory; how many. */
  setrep(path: string, replicas: number, recursive: boolean): Promise<number>;
  /** Streams matches page by page, in path order. */
  find(path: string, filter: FindFilter): AsyncIterable<Entry>;
  du(path: string, summary: boolean): AsyncIterable<{ path: string; bytes: number }>;
  tree(path: string): AsyncIterable<Entry>;
  /** Each node (the admin's view; empty for anyone else), the totals (everyone's), and the balancer's last or
   * current run (the admin's). */
  cluster(): Promise<{ nodes: NodeInfo[]; total: ClusterTotal; rebalance?: RebalanceStatus }>;
  /** Starts the balancer (or changes its threshold), or stops it (the admin's); its progress. */
  rebalance(thresholdPct: number, stop: boolean): Promise<RebalanceStatus>;
  /** Each node: the admin's view (empty for anyone else). */
  nodes(): Promise<NodeInfo[]>;
  /** The health of your files under `path` (the admin's at `/`: every user's, as `user:/path`). */
  fsck(path: string): Promise<FsckReport>;
  /** Uploads files: one of any size (streamed, never held in memory), or several small ones (each at most
   * PUT_SMALL_FILE_BYTES_MAX, PUT_FILES_MAX and PUT_FILES_BYTES_MAX in all) as put -r groups them, their bytes in
   * one body. Every file is committed, or none; resolves once the master committed them (and, unless `wait` is
   * false, their replication chains settled). */
  put(files: readonly PutFile[], options?: PutOptions): Promise<void>;
  /** Copies a file on the cluster's side (a node holding it writes the copy; no bytes reach this client),
   * waiting for its replicas like put. */
  copy(source: string, target: string, options?: CopyOptions): Promise<Entry>;
  /** Downloads to a temporary file beside `localPath`, checks size and SHA-256, then renames it:
   * a failed get leaves nothing under `localPath`. */
  get(remotePath: string, localPath: string, options?: GetOptions): Promise<Fetched>;
  /** Streams a file's bytes into `output` (not ended); rejects CORRUPT after the fact if they do not verify. */
  cat(remotePath: string, output: NodeJS.WritableStream, options?: GetOptions): Promise<Fetched>;
  /** Ctrl-C: transfers in progress stop (their connections to nodes close, uploads are cancelled at the master,
   * downloads remove their temporary files) and fail with Interrupted, as does new work until resume(). */
  interrupt(): void;
  resume(): void;
  close(): void;
}

/** A transfer failed on this machine's side (the local file or directory), not in the cluster. */
export class LocalFileError extends Error {
  override name = 'LocalFileError';
  constructor(
    readonly localPath: string,
    readonly reason: string,
  ) {
    super(`${localPath}: ${reason}`);
  }
}
