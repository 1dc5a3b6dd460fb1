// Uploads begun and not yet reported stored: the master's book of them, bounded in all and per session, with the
// bytes each user has booked. Pure bookkeeping with the time passed in; the handlers in ../transfers.ts consult it.

import { UPLOADS_PENDING_MAX, UPLOADS_PENDING_PER_SESSION_MAX } from '../../limits';
import { DfsError } from '../../wire/errors';

/** An upload the master expects a node to report: who asked, for which path, on which node. */
export interface PendingUpload {
  blobId: string;
  userId: number;
  /** The session that began it (its token, never shown): a session's uploads in progress are capped. */
  session: string;
  path: string;
  size: number;
  overwrite: boolean;
  nodeId: string;
  /** Past this the upload is forgotten: when its ticket lapses, or later while its node says bytes are flowing. */
  forgetMs: number;
}

/** Uploads begun and not yet stored, bounded (in all and per session), each forgotten when it can no longer complete. */
export class PendingUploads {
  private readonly uploads = new Map<string, PendingUpload>();
  /** Uploads per session and booked bytes per user, kept as uploads come and go. */
  private readonly perSession = new Map<string, number>();
  private readonly bookedPerUser = new Map<number, number>();
  private readonly filesPerUser = new Map<number, number>();
  /** Commits under way, by blob: an upload taken for its commit is in neither state until the commit ends. */
  private readonly commits = new Map<string, Promise<unknown>>();
  /** No upload is forgotten before this: most calls skip the walk over every upload. */
  private earliestForgetMs = Infinity;

  add(upload: PendingUpload, nowMs: number): void {
    this.forgetExpired(nowMs);
    if (this.uploads.size >= UPLOADS_PENDING_MAX) throw new DfsError('RATE_LIMITED', 'too many uploads in progress; retry shortly');
    const ofSession = this.perSession.get(upload.session) ?? 0;
    if (ofSession >= UPLOADS_PENDING_PER_SESSION_MAX) throw new DfsError('RATE_LIMITED', `this session has ${ofSession} uploads in progress; let some finish first`);
    this.uploads.set(upload.blobId, upload);
    this.count(upload, 1);
    this.earliestForgetMs = Math.min(this.earliestForgetMs, upload.forgetMs);
  }

  /** Bytes booked by a user's uploads in progress. */
  bookedBy(userId: number, nowMs: number): number {
    this.forgetExpired(nowMs);
    return this.bookedPerUser.get(userId) ?? 0;
  }

  /** Files a user's uploads in progress would add or replace. */
  filesBy(userId: number, nowMs: number): number {
    this.forgetExpired(nowMs);
    return this.filesPerUser.get(userId) ?? 0;
  }

  /** The node receiving this upload's bytes says they flow: its booking is held until `untilMs`. */
  hold(blobId: string, nodeId: string, untilMs: number): void {
    const upload = this.uploads.get(blobId);
    if (upload?.nodeId === nodeId) upload.forgetMs = Math.max(upload.forgetMs, untilMs);
  }

  /** The upload of this blob, removed from the book (a blob is reported stored once). */
  take(blobId: string, nowMs: number): PendingUpload | undefined {
    this.forgetExpired(nowMs);
    const upload = this.uploads.get(blobId);
    if (upload) this.remove(upload);
    return upload;
  }

  peek(blobId: string): PendingUpload | undefined {
    return this.uploads.get(blobId);
  }

  /** The blobs of uploads still to be stored on `nodeId`. */
  onNode(nodeId: string): string[] {
    return [...this.uploads.values()].filter((upload) => upload.nodeId === nodeId).map((upload) => upload.blobId);
  }

  /** These blobs' files are being committed: until `commit` settles, commitOf() hands it out. */
  committing(blobIds: readonly string[], commit: Promise<unknown>): void {
    for (const blobId of blobIds) this.commits.set(blobId, commit);
    const done = (): void => {
      for (const blobId of blobIds) if (this.commits.get(blobId) === commit) this.commits.delete(blobId);
    };
    commit.then(done, done);
  }

  commitOf(blobId: string): Promise<unknown> | undefined {
    return this.commits.get(blobId);
  }

  /** Bytes promised to a node by uploads still in progress, but for the blobs in `counted` (its own free space
   * counts them already). */
  reservedOn(nodeId: string, counted: ReadonlySet<string> = new Set()): number {
    let bytes = 0;
    for (const upload of this.uploads.values()) if (upload.nodeId === nodeId && !counted.has(upload.blobId)) bytes += upload.size;
    return bytes;
  }

  private remove(upload: PendingUpload): void {
    this.uploads.delete(upload.blobId);
    this.count(upload, -1);
  }

  private count(upload: PendingUpload, sign: 1 | -1): void {
    adjust(this.perSession, upload.session, sign);
    adjust(this.bookedPerUser, upload.userId, sign * upload.size);
    adjust(this.filesPerUser, upload.userId, sign);
  }

  private forgetExpired(nowMs: number): void {
    if (nowMs < this.earliestForgetMs) return;
    this.earliestForgetMs = Infinity;
    for (const upload of [...this.uploads.values()]) {
      if (upload.forgetMs <= nowMs) this.remove(upload);
      else this.earliestForgetMs = Math.min(this.earliestForgetMs, upload.forgetMs);
    }
  }
}

/** Adds `delta` to a count, dropping counts that reach zero (the maps hold only what is in progress). */
function adjust<K>(counts: Map<K, number>, key: K, delta: number): void {
  const value = (counts.get(key) ?? 0) + delta;
  if (value === 0) counts.delete(key);
  else counts.set(key, value);
}
