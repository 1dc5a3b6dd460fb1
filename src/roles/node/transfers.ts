// A node's part of the data path (SPEC §3): takes a ticketed upload into the blob store and has the
// master commit it before answering; prepares and serves ticketed reads, checking the bytes as they
// go out; deletes blobs the master no longer needs. A failed upload leaves nothing on disk.

import { Readable } from 'node:stream';
import { TICKET_TTL_MS_DEFAULT } from '../../limits';
import type { Log } from '../../log';
import type { Channel, Incoming, Reply } from '../../net/channel';
import { DfsError, isDfsError } from '../../net/errors';
import { signTicket, type TicketVerifier } from '../../net/ticket';
import { writeStream, type BlobStore } from '../../store/blobs';

export interface NodeContext {
  nodeId: string;
  store: BlobStore;
  verifier: TicketVerifier;
  /** The registered link to the master; throws UNAVAILABLE while there is none. */
  master(): Channel;
  /** The address clients reach this node at (as registered). */
  advertise(): string;
  ticketKey(): Buffer | undefined;
  activeTransfers: number;
  log: Log;
}

/** Upload step 3-4: ticket, space, bytes to disk (fsync, rename), then the master's commit, then the answer. */
export async function blobPut(context: NodeContext, request: Incoming<'blob.put'>): Promise<Reply<'blob.put'>> {
  const { blobId, size, ticket } = request.data;
  if (request.bodyBytes !== size) throw new DfsError('BAD_REQUEST', `the body holds ${request.bodyBytes} bytes, the request declares ${size}`);
  context.verifier.verify(ticket, { blobId, op: 'put', bytes: size });
  const writer = await context.store.createWriter(blobId, size); // NO_SPACE before a byte is read
  context.activeTransfers++;
  try {
    const stored = await writeStream(writer, request.body ?? Readable.from([]));
    await reportStored(context, blobId, stored);
    return { data: stored };
  } finally {
    context.activeTransfers--;
  }
}

/** The master commits the file before the client hears of success. A refusal removes the blob; a lost
 * answer leaves it (the master may have committed it), and the client is told the outcome is unknown. */
async function reportStored(context: NodeContext, blobId: string, stored: { size: number; sha256: string }): Promise<void> {
  try {
    await context.master().request('node.blob.stored', { blobId, ...stored });
  } catch (error) {
    if (isDfsError(error, 'UNAVAILABLE') || isDfsError(error, 'TIMEOUT')) {
      context.log.warn(`blob ${blobId}: the master did not confirm it (${DfsError.wrap(error).message}); kept until the master decides`);
      throw new DfsError('UNAVAILABLE', `the master did not confirm the upload: ${DfsError.wrap(error).message}`);
    }
    await context.store.remove(blobId);
    throw error;
  }
}

/** Download steps 2-3 (asked by the master): the node can serve this blob; here is a ticket for it. */
export async function prepareGet(context: NodeContext, request: Incoming<'node.prepare.get'>): Promise<Reply<'node.prepare.get'>> {
  const { blobId } = request.data;
  const info = context.store.info(blobId);
  if (!info) throw new DfsError('NOT_FOUND', `no blob ${blobId} on ${context.nodeId}`);
  const key = context.ticketKey();
  if (!key) throw new DfsError('UNAVAILABLE', 'this node has no ticket key yet');
  const ticket = signTicket(key, { blobId, op: 'get', bytesMax: info.size, nodeId: context.nodeId, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs: Date.now() });
  return { data: { address: context.advertise(), ticket, size: info.size, sha256: info.sha256 } };
}

/** Download step 5: the blob's bytes as the reply's body, checked against its SHA-256 on the way (step 6 on a problem). */
export async function blobGet(context: NodeContext, request: Incoming<'blob.get'>): Promise<Reply<'blob.get'>> {
  const { blobId, ticket } = request.data;
  const info = context.store.info(blobId);
  context.verifier.verify(ticket, { blobId, op: 'get', bytes: info?.size ?? 0 });
  let reader;
  try {
    reader = await context.store.openReader(blobId);
  } catch (error) {
    if (isDfsError(error, 'NOT_FOUND')) reportBlobError(context, blobId, 'missing', DfsError.wrap(error).message);
    if (isDfsError(error, 'CORRUPT')) reportBlobError(context, blobId, 'corrupt', DfsError.wrap(error).message);
    throw error;
  }
  context.activeTransfers++;
  const { stream } = reader;
  stream.once('error', (error: unknown) => {
    const problem = isDfsError(error, 'CORRUPT') ? 'corrupt' : 'aborted';
    reportBlobError(context, blobId, problem, error instanceof Error ? error.message : String(error));
  });
  stream.once('close', () => context.activeTransfers--);
  return { data: { size: reader.size, sha256: reader.sha256 }, body: { stream, bytes: reader.size } };
}

function reportBlobError(context: NodeContext, blobId: string, problem: 'missing' | 'corrupt' | 'aborted', message: string): void {
  context.log.warn(`blob ${blobId}: ${problem}: ${message}`);
  try {
    void context.master().request('node.blob.error', { blobId, problem, message: message.slice(0, 1024) }).catch(() => undefined);
  } catch {
    // no link to the master now: the scrubber (a later step) finds it again
  }
}

export async function deleteBlobs(context: NodeContext, request: Incoming<'node.blob.delete'>): Promise<Reply<'node.blob.delete'>> {
  let removed = 0;
  for (const blobId of request.data.blobIds) if (await context.store.remove(blobId)) removed++;
  if (removed > 0) context.log.info(`deleted ${removed} blob(s) the master no longer needs`);
  return { data: { removed } };
}
