// A node's part of the data path (SPEC §3): takes a ticketed upload into the blob store and has the
// master commit it before answering; stores a chain's copy while forwarding the bytes to the next
// member as they arrive (a broken downstream is reported, never fails this copy); prepares and serves ticketed reads, checking the bytes as they
// go out; deletes blobs the master no longer needs. A failed upload leaves nothing on disk.

import { once } from 'node:events';
import { PassThrough, pipeline, Transform } from 'node:stream';
import { IO_CHUNK_BYTES, REQUEST_TIMEOUT_MS, TICKET_TTL_MS_DEFAULT, TRANSFER_BYTES_PER_S_MIN } from '../../limits';
import type { Log } from '../../log';
import type { Channel, Incoming, Reply } from '../../net/channel';
import type { RequestOf } from '../../net/messages';
import { DfsError, isDfsError } from '../../net/errors';
import type { PeerLinks } from '../../net/pool';
import { signTicket, type TicketVerifier } from '../../net/ticket';
import { writeStream, type BlobStore } from '../../store/blobs';

export interface NodeContext {
  nodeId: string;
  store: BlobStore;
  verifier: TicketVerifier;
  /** The registered link to the master; throws UNAVAILABLE while there is none. */
  master(): Channel;
  /** Mutual-TLS links to other nodes (their certificates must name `node:<nodeId>`), pooled, for replication. */
  peers: PeerLinks;
  /** The address clients reach this node at (as registered). */
  advertise(): string;
  ticketKey(): Buffer | undefined;
  activeTransfers: number;
  log: Log;
}

type ChainLink = RequestOf<'blob.replicate'>['chain'][number];

/** Upload step 3-4 (and 6): ticket, space, bytes to disk (fsync, rename) while forwarded down the chain,
 * then the master's commit, then the answer (never waiting for the chain). */
export async function blobPut(context: NodeContext, request: Incoming<'blob.put'>): Promise<Reply<'blob.put'>> {
  const { blobId, size, ticket } = request.data;
  if (request.bodyBytes !== size) throw new DfsError('BAD_REQUEST', `the body holds ${request.bodyBytes} bytes, the request declares ${size}`);
  context.verifier.verify(ticket, { blobId, op: 'put', bytes: size });
  let stored;
  try {
    stored = await storeAndForward(context, request.data, request.body ?? [], request.data.chain ?? []);
  } catch (error) {
    // Refused (no space) or cut off: the master frees the space it booked for this upload.
    reportBlobError(context, blobId, 'aborted', DfsError.wrap(error).message);
    throw error;
  }
  await reportStored(context, blobId, stored, 'node.blob.stored');
  return { data: stored };
}

/** Upload step 6-7, from the previous chain member: store this copy while forwarding it, report it, answer. */
export async function blobReplicate(context: NodeContext, request: Incoming<'blob.replicate'>): Promise<Reply<'blob.replicate'>> {
  const { blobId, size, ticket } = request.data;
  if (request.bodyBytes !== size) throw new DfsError('BAD_REQUEST', `the body holds ${request.bodyBytes} bytes, the request declares ${size}`);
  context.verifier.verify(ticket, { blobId, op: 'replicate', bytes: size });
  const stored = await storeAndForward(context, request.data, request.body ?? [], request.data.chain);
  await reportStored(context, blobId, stored, 'node.replica.stored');
  return { data: stored };
}

/** Bytes into the blob store and, chunk by chunk, to the next chain member; back-pressure from both. */
async function storeAndForward(
  context: NodeContext,
  blob: { blobId: string; size: number },
  source: AsyncIterable<unknown> | Iterable<unknown>,
  chain: readonly ChainLink[],
): Promise<{ size: number; sha256: string }> {
  const { blobId, size } = blob;
  const writer = await context.store.createWriter(blobId, size); // NO_SPACE before a byte is read
  const forward = chain.length > 0 ? new Forward(context, blobId, size, chain) : undefined;
  context.activeTransfers++;
  try {
    for await (const chunk of source) {
      if (!Buffer.isBuffer(chunk)) throw new DfsError('BAD_REQUEST', 'a blob body must be bytes');
      await Promise.all([writer.write(chunk), forward?.write(chunk)]);
    }
    forward?.end();
    return await writer.commit();
  } catch (error) {
    await writer.abort();
    forward?.abort(DfsError.wrap(error).message);
    throw error;
  } finally {
    context.activeTransfers--;
  }
}

/**
 * The bytes on their way to the next chain member (blob.replicate over mutual TLS), which passes the rest
 * of the chain on. If it cannot be reached or fails, the master is told where the chain broke and the
 * local copy carries on: writes to a broken forward return at once.
 */
class Forward {
  private readonly stream = new PassThrough({ highWaterMark: IO_CHUNK_BYTES });
  private broken = false;
  private readonly onBreak: Promise<void>;
  private breakNow: () => void = () => undefined;

  constructor(
    private readonly context: NodeContext,
    private readonly blobId: string,
    private readonly size: number,
    chain: readonly ChainLink[],
  ) {
    this.onBreak = new Promise((resolve) => (this.breakNow = resolve));
    this.stream.on('error', () => undefined);
    const [next, ...rest] = chain;
    if (!next) throw new Error('transfers: a forward needs a next chain member');
    void this.run(next, rest);
  }

  write(chunk: Buffer): Promise<void> {
    if (this.broken || this.stream.write(chunk)) return Promise.resolve();
    return Promise.race([once(this.stream, 'drain').then(() => undefined, () => undefined), this.onBreak]);
  }

  end(): void {
    if (!this.broken) this.stream.end();
  }

  /** The local copy failed: the chain after us gets an aborted body and drops its copies. */
  abort(why: string): void {
    if (this.broken) return;
    this.broken = true;
    this.breakNow();
    this.stream.destroy(new DfsError('UNAVAILABLE', `upstream failed: ${why}`));
  }

  private async run(next: ChainLink, rest: ChainLink[]): Promise<void> {
    try {
      await this.context.peers.use(next.address, next.nodeId, async (channel) => {
        if (this.broken) return;
        const timeoutMs = REQUEST_TIMEOUT_MS + Math.ceil((this.size / TRANSFER_BYTES_PER_S_MIN) * 1000);
        const body = this.size > 0 ? { body: { stream: this.stream, bytes: this.size } } : {};
        await channel.request('blob.replicate', { blobId: this.blobId, size: this.size, ticket: next.ticket, chain: rest }, { ...body, timeoutMs });
      });
    } catch (error) {
      if (this.broken) return; // our own copy failed first; the chain is not to blame
      this.broken = true;
      this.breakNow();
      this.stream.destroy();
      this.reportBroken(next.nodeId, DfsError.wrap(error).message);
    }
  }

  private reportBroken(nodeId: string, message: string): void {
    this.context.log.warn(`blob ${this.blobId}: replication to ${nodeId} failed: ${message}`);
    try {
      void this.context.master().request('node.replication.broken', { blobId: this.blobId, nodeId, message: message.slice(0, 1024) }).catch(() => undefined);
    } catch {
      // no link to the master now: the chain's deadline settles it there
    }
  }
}

/** Upload step 7 (repair, asked by the master): this node's copy, checked as it is read, down a new chain. */
export async function replicateBlob(context: NodeContext, request: Incoming<'node.replicate'>): Promise<Reply<'node.replicate'>> {
  const { blobId, size, chain } = request.data;
  const [next, ...rest] = chain;
  if (!next) throw new DfsError('BAD_REQUEST', 'an empty chain');
  const reader = await openReporting(context, blobId);
  if (reader.size !== size) {
    reader.stream.destroy();
    throw new DfsError('CORRUPT', `blob ${blobId} holds ${reader.size} bytes here, not ${size}`);
  }
  context.activeTransfers++;
  try {
    const timeoutMs = REQUEST_TIMEOUT_MS + Math.ceil((size / TRANSFER_BYTES_PER_S_MIN) * 1000);
    const body = size > 0 ? { body: { stream: reader.stream, bytes: size } } : {};
    await context.peers.use(next.address, next.nodeId, (channel) => channel.request('blob.replicate', { blobId, size, ticket: next.ticket, chain: rest }, { ...body, timeoutMs }));
    return { data: {} };
  } finally {
    reader.stream.destroy();
    context.activeTransfers--;
  }
}

/** A server-side copy (fs.copy, asked by the master): a held blob, checked as it is read, stored as a new
 * blob while forwarded down the chain, then reported like an upload and answered after the commit. */
export async function copyBlob(context: NodeContext, request: Incoming<'node.copy'>): Promise<Reply<'node.copy'>> {
  const { sourceBlobId, blobId, size, chain } = request.data;
  const reader = await openReporting(context, sourceBlobId);
  if (reader.size !== size) {
    reader.stream.destroy();
    throw new DfsError('CORRUPT', `blob ${sourceBlobId} holds ${reader.size} bytes here, not ${size}`);
  }
  let stored;
  try {
    stored = await storeAndForward(context, { blobId, size }, reader.stream, chain);
  } finally {
    reader.stream.destroy();
  }
  await reportStored(context, blobId, stored, 'node.blob.stored');
  return { data: stored };
}

/** Opens a held blob for reading; a missing or damaged one is reported to the master (download step 6). */
async function openReporting(context: NodeContext, blobId: string): Promise<Awaited<ReturnType<BlobStore['openReader']>>> {
  try {
    return await context.store.openReader(blobId, { onDamaged: (error) => reportBlobError(context, blobId, 'corrupt', error.message) });
  } catch (error) {
    if (isDfsError(error, 'NOT_FOUND')) reportBlobError(context, blobId, 'missing', DfsError.wrap(error).message);
    if (isDfsError(error, 'CORRUPT')) reportBlobError(context, blobId, 'corrupt', DfsError.wrap(error).message);
    throw error;
  }
}

/** The master commits the file before the client hears of success. A refusal removes the blob; a lost
 * answer leaves it (the master may have committed it), and the client is told the outcome is unknown. */
async function reportStored(
  context: NodeContext,
  blobId: string,
  stored: { size: number; sha256: string },
  type: 'node.blob.stored' | 'node.replica.stored',
): Promise<void> {
  try {
    await context.master().request(type, { blobId, ...stored });
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
  const { blobId, ticket, offset = 0 } = request.data;
  const info = context.store.info(blobId);
  context.verifier.verify(ticket, { blobId, op: 'get', bytes: info?.size ?? 0 });
  if (info && offset > info.size) throw new DfsError('BAD_REQUEST', `offset ${offset} is past the blob's ${info.size} bytes`);
  const reader = await openReporting(context, blobId);
  context.activeTransfers++;
  const verified = reader.stream;
  verified.once('error', (error: unknown) => {
    if (!isDfsError(error, 'CORRUPT')) reportBlobError(context, blobId, 'aborted', error instanceof Error ? error.message : String(error)); // damage: reported by the store
  });
  verified.once('close', () => context.activeTransfers--);
  // A resumed read still hashes the blob from its first byte: the bytes before `offset` are read, not sent.
  const stream = offset > 0 ? pipeline(verified, skipBytes(offset), () => undefined) : verified;
  return { data: { size: reader.size, sha256: reader.sha256 }, body: { stream, bytes: reader.size - offset } };
}

function skipBytes(count: number): Transform {
  let left = count;
  return new Transform({
    readableHighWaterMark: IO_CHUNK_BYTES,
    writableHighWaterMark: IO_CHUNK_BYTES,
    transform(chunk: Buffer, _encoding, callback) {
      if (left >= chunk.length) {
        left -= chunk.length;
        return callback();
      }
      const rest = left > 0 ? chunk.subarray(left) : chunk;
      left = 0;
      callback(null, rest);
    },
  });
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
