// The master's part of the data path (SPEC §3): it hands out upload tickets, commits a file when
// its node reports the blob stored, finds a node to serve a read, marks bad replicas, and asks
// nodes to delete blobs no file needs any more. Bytes never pass through the master.

import { BLOB_DELETE_BATCH_MAX, READ_PREPARE_TRIES_MAX, REQUEST_TIMEOUT_MS, TICKET_TTL_MS_DEFAULT, TRANSFER_BYTES_PER_S_MIN, UPLOADS_PENDING_MAX } from '../../limits';
import type { Incoming, Reply } from '../../net/channel';
import { DfsError, isDfsError } from '../../net/errors';
import type { MessageType } from '../../net/messages';
import { signTicket } from '../../net/ticket';
import { parentOf } from '../../paths';
import { createBlobId } from '../../store/blobs';
import { chooseWriteNode, rankReadNodes, type Candidate } from './placement';
import { requireSession, type MasterState } from './state';

/** An upload the master expects a node to report: who asked, for which path, on which node. */
export interface PendingUpload {
  blobId: string;
  userId: number;
  path: string;
  size: number;
  overwrite: boolean;
  nodeId: string;
  /** Past this the upload is forgotten: the ticket's lifetime plus the transfer at the slowest rate allowed. */
  forgetMs: number;
}

/** Uploads begun and not yet stored, bounded, each forgotten when it can no longer complete. */
export class PendingUploads {
  private readonly uploads = new Map<string, PendingUpload>();

  add(upload: PendingUpload, nowMs: number): void {
    this.forgetExpired(nowMs);
    if (this.uploads.size >= UPLOADS_PENDING_MAX) throw new DfsError('RATE_LIMITED', 'too many uploads in progress; retry shortly');
    this.uploads.set(upload.blobId, upload);
  }

  /** The upload of this blob, removed from the book (a blob is reported stored once). */
  take(blobId: string, nowMs: number): PendingUpload | undefined {
    this.forgetExpired(nowMs);
    const upload = this.uploads.get(blobId);
    this.uploads.delete(blobId);
    return upload;
  }

  /** Bytes promised to a node by uploads still in progress. */
  reservedOn(nodeId: string): number {
    let bytes = 0;
    for (const upload of this.uploads.values()) if (upload.nodeId === nodeId) bytes += upload.size;
    return bytes;
  }

  private forgetExpired(nowMs: number): void {
    for (const [blobId, upload] of this.uploads) if (upload.forgetMs <= nowMs) this.uploads.delete(blobId);
  }
}

function requireNode(request: Incoming<MessageType>): string {
  if (request.peer.kind !== 'node') throw new DfsError('UNAUTHENTICATED', 'only cluster nodes may send this');
  return request.peer.nodeId;
}

function candidates(state: MasterState, nowMs: number): Candidate[] {
  return state.nodes.list().map((node) => ({
    nodeId: node.nodeId,
    alive: state.nodes.stateOf(node, nowMs) === 'alive',
    connected: node.channel !== undefined && !node.channel.closed,
    freeBytes: node.freeBytes,
    reservedBytes: state.uploads.reservedOn(node.nodeId),
    activeTransfers: node.activeTransfers,
  }));
}

/** The checks createFile will make, made before any byte moves: a parent directory, and no directory or (without overwrite) file in the way. */
function checkUploadTarget(state: MasterState, userId: number, path: string, overwrite: boolean): void {
  const existing = (() => {
    try {
      return state.catalog.stat(userId, path);
    } catch (error) {
      if (isDfsError(error, 'NOT_FOUND')) return undefined;
      throw error;
    }
  })();
  if (existing?.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', 'is a directory');
  if (existing && !overwrite) throw new DfsError('EXISTS', 'file exists');
  if (!existing && state.catalog.stat(userId, parentOf(path)).kind !== 'dir') throw new DfsError('NOT_A_DIRECTORY', 'not a directory');
}

export async function putBegin(state: MasterState, request: Incoming<'file.put.begin'>): Promise<Reply<'file.put.begin'>> {
  const { userId } = requireSession(state, request);
  const { path, size, overwrite } = request.data;
  checkUploadTarget(state, userId, path, overwrite);
  const nowMs = state.now();
  const all = candidates(state, nowMs);
  const chosen = chooseWriteNode(all, size);
  if (!chosen) {
    if (!all.some((node) => node.alive && node.connected)) throw new DfsError('NO_NODES', 'no storage node is available');
    throw new DfsError('NO_SPACE', `no storage node has room for ${size} bytes`);
  }
  const record = state.nodes.get(chosen.nodeId);
  if (!record) throw new Error(`transfers: chosen node ${chosen.nodeId} is not registered`);
  const blobId = createBlobId();
  const ticket = signTicket(state.identity.ticketKey, { blobId, op: 'put', bytesMax: size, nodeId: chosen.nodeId, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs });
  const expiresMs = nowMs + TICKET_TTL_MS_DEFAULT;
  const forgetMs = expiresMs + REQUEST_TIMEOUT_MS + Math.ceil((size / TRANSFER_BYTES_PER_S_MIN) * 1000);
  state.uploads.add({ blobId, userId, path, size, overwrite, nodeId: chosen.nodeId, forgetMs }, nowMs);
  return { data: { nodeId: chosen.nodeId, address: record.advertise, blobId, ticket, expiresMs } };
}

/** Upload step 4: commit the file and its replica (journal fsynced), then answer the node. */
export async function blobStored(state: MasterState, request: Incoming<'node.blob.stored'>): Promise<Reply<'node.blob.stored'>> {
  const nodeId = requireNode(request);
  const { blobId, size, sha256 } = request.data;
  const upload = state.uploads.take(blobId, state.now());
  if (!upload || upload.nodeId !== nodeId) throw new DfsError('NOT_FOUND', `no upload of blob ${blobId} to ${nodeId} is in progress`);
  if (size !== upload.size) throw new DfsError('BAD_REQUEST', `blob ${blobId} holds ${size} bytes; the upload declared ${upload.size}`);
  const { replacedBlobId } = await state.catalog.createFile(upload.userId, upload.path, { size, blobId, sha256, overwrite: upload.overwrite, nodeIds: [nodeId] });
  if (replacedBlobId !== null) scheduleDeletions(state);
  return { data: {} };
}

/** Download steps 1-4: ask the holders of a good copy, least loaded first, to prepare the read. */
export async function getBegin(state: MasterState, request: Incoming<'file.get.begin'>): Promise<Reply<'file.get.begin'>> {
  const { userId } = requireSession(state, request);
  const entry = state.catalog.stat(userId, request.data.path);
  if (entry.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', 'is a directory');
  const { blobId, sha256 } = entry;
  if (blobId === null || sha256 === null) throw new Error(`transfers: file ${entry.path} has no blob`);
  const holders = new Set(state.catalog.replicasOf(blobId).filter((replica) => replica.state === 'good').map((replica) => replica.nodeId));
  const ranked = rankReadNodes(candidates(state, state.now()), holders).slice(0, READ_PREPARE_TRIES_MAX);
  let lastError: unknown;
  for (const node of ranked) {
    const channel = state.nodes.get(node.nodeId)?.channel;
    if (!channel) continue;
    try {
      const { data } = await channel.request('node.prepare.get', { blobId });
      if (data.size !== entry.size || data.sha256 !== sha256) throw new DfsError('CORRUPT', `node ${node.nodeId} holds another blob ${blobId}`);
      return { data: { nodeId: node.nodeId, address: data.address, blobId, size: entry.size, sha256, ticket: data.ticket } };
    } catch (error) {
      lastError = error;
      if (isDfsError(error, 'NOT_FOUND') || isDfsError(error, 'CORRUPT')) await markBad(state, blobId, node.nodeId, DfsError.wrap(error).message);
    }
  }
  const why = lastError === undefined ? '' : `: ${DfsError.wrap(lastError).message}`;
  throw new DfsError('UNAVAILABLE', `no live node holds a good copy of this file${why}`);
}

export async function blobError(state: MasterState, request: Incoming<'node.blob.error'>): Promise<Reply<'node.blob.error'>> {
  const nodeId = requireNode(request);
  const { blobId, problem, message } = request.data;
  if (problem === 'aborted') {
    state.log.info(`node ${nodeId}: transfer of blob ${blobId} aborted: ${message}`);
    return { data: {} };
  }
  await markBad(state, blobId, nodeId, `${problem}: ${message}`);
  return { data: {} };
}

/** A copy that is missing or damaged no longer counts; repair (a later step) copies the blob again. */
async function markBad(state: MasterState, blobId: string, nodeId: string, why: string): Promise<void> {
  const known = state.catalog.replicasOf(blobId).find((replica) => replica.nodeId === nodeId);
  if (known?.state !== 'good') return;
  state.log.warn(`replica of blob ${blobId} on ${nodeId} is bad: ${why}`);
  await state.catalog.setReplica(blobId, nodeId, 'bad');
}

/** A file's copies as stat shows them: good copies on live nodes, the factor wanted, and where they are. */
export function replicaSummary(state: MasterState, blobId: string): { have: number; want: number; nodes: string[] } {
  const nowMs = state.now();
  const nodes: string[] = [];
  let have = 0;
  for (const replica of state.catalog.replicasOf(blobId)) {
    if (replica.state !== 'good') continue;
    const record = state.nodes.get(replica.nodeId);
    const alive = record !== undefined && state.nodes.stateOf(record, nowMs) === 'alive';
    if (alive) have++;
    nodes.push(`${replica.nodeId}${record ? ` (${record.advertise})` : ''}${alive ? '' : ' dead'}`);
  }
  return { have, want: state.replicas, nodes };
}

// ---- Deleting blobs no file needs: best effort now (a node that is away keeps its rows in the
// catalog as `deleting`, retried at the next scheduling); a later step adds retries and orphan scans.

const deletionRuns = new WeakMap<MasterState, { again: boolean }>();

/** Starts (or, if one is running, repeats once more) a pass over the catalog's `deleting` copies. */
export function scheduleDeletions(state: MasterState): void {
  const running = deletionRuns.get(state);
  if (running) {
    running.again = true;
    return;
  }
  const run = { again: true };
  deletionRuns.set(state, run);
  void (async () => {
    try {
      while (run.again) {
        run.again = false;
        await deleteOnce(state);
      }
    } catch (error) {
      state.log.warn(`deleting freed blobs: ${DfsError.wrap(error).message}`);
    } finally {
      deletionRuns.delete(state);
    }
  })();
}

async function deleteOnce(state: MasterState): Promise<void> {
  const byNode = new Map<string, string[]>();
  for (const { blobId, nodeId } of state.catalog.replicasToDelete(BLOB_DELETE_BATCH_MAX * 16)) {
    const list = byNode.get(nodeId) ?? [];
    if (list.length < BLOB_DELETE_BATCH_MAX) list.push(blobId);
    byNode.set(nodeId, list);
  }
  for (const [nodeId, blobIds] of byNode) {
    const channel = state.nodes.get(nodeId)?.channel;
    if (!channel) continue; // away: its rows wait for the next pass
    try {
      await channel.request('node.blob.delete', { blobIds });
      for (const blobId of blobIds) await state.catalog.forgetReplica(blobId, nodeId);
    } catch (error) {
      state.log.warn(`node ${nodeId} did not delete ${blobIds.length} blob(s): ${DfsError.wrap(error).message}`);
    }
  }
}
