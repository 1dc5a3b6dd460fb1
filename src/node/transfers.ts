// A node's part of the data path: takes a ticketed upload into the blob store and has the
// master commit it before answering; stores a chain's copy while forwarding the bytes to the next
// member as they arrive (a broken downstream is reported, never fails this copy); prepares and serves ticketed reads, checking the bytes as they
// go out; deletes blobs the master no longer needs. A failed upload leaves nothing on disk.

import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { IO_CHUNK_BYTES, TICKET_TTL_MS_DEFAULT, transferTimeoutMs } from '../limits';
import { drained } from '../streams';
import type { Log } from '../log';
import type { Channel, Incoming, OutgoingBody, Reply } from '../wire/channel';
import type { RequestOf } from '../wire/messages';
import { DfsError, isDfsError } from '../wire/errors';
import type { PeerLinks } from '../wire/pool';
import { blobsSubject, chainSubject, NO_CHAIN, signTicket, type TicketExpectation, type TicketVerifier } from '../trust/ticket';
import { type BlobReader, type BlobStore, type BlobWriter } from '../store/blobs';

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
  /** Blobs whose bytes are arriving now, oldest first: the heartbeat names them so the master holds their bookings. */
  receiving: Set<string>;
  /** Queues a held blob for the scrubber to re-hash next (a reader found its bytes wrong); false if the queue is full. */
  suspect(blobId: string): boolean;
  /** A blob's report went unanswered (kept "until the master decides"): list every blob to the master again soon. */
  reportAgainSoon(): void;
  log: Log;
}

type ChainLink = RequestOf<'blob.replicate'>['chain'][number];

/** Upload steps 3-4 (and 6): ticket, space, the blobs' bytes to disk (fsync, rename) while forwarded down the
 * chain, then the master's commit, then the answer (never waiting for the chain). */
export async function blobPut(context: NodeContext, request: Incoming<'blob.put'>): Promise<Reply<'blob.put'>> {
  const { blobs, ticket, chain } = request.data;
  checkUpload(context, request, blobs, ticket, chain, 'put');
  const stored = await storeReporting(context, blobs, request.body ?? [], forwardTo(blobs, chain));
  await reportStored(context, stored, 'node.blob.stored');
  return { data: { blobs: stored.map(asReply) } };
}

/** Upload steps 6-7, from the previous chain member: store these copies while forwarding them, report them, answer. */
export async function blobReplicate(context: NodeContext, request: Incoming<'blob.replicate'>): Promise<Reply<'blob.replicate'>> {
  const { blobs, ticket, chain } = request.data;
  checkUpload(context, request, blobs, ticket, chain, 'replicate');
  if (blobs.every((blob) => context.store.info(blob.blobId)?.size === blob.size)) return replicateHeld(context, request);
  const stored = await storeAndForward(context, blobs, request.body ?? [], forwardTo(blobs, chain));
  await reportStored(context, stored, 'node.replica.stored');
  return { data: { blobs: stored.map(asReply) } };
}

/**
 * A copy of blobs this node holds already: a repair of copies whose reports went unanswered (the node kept them,
 * the master never heard of them). The bytes are hashed as they arrive and compared with the held copies', which
 * are re-hashed; the same, the held copies are reported as this member's and the answer is theirs, so the chain settles instead of
 * failing with EXISTS at every try. The members after this one get nothing: the master hears the chain broke
 * there and completes it. Other bytes: EXISTS, as for any held blob. A refusal never deletes the held copies: they
 * were here before this transfer, and the master decides their fate.
 */
async function replicateHeld(context: NodeContext, request: Incoming<'blob.replicate'>): Promise<Reply<'blob.replicate'>> {
  const { blobs, chain } = request.data;
  const hashes = blobs.map(() => createHash('sha256'));
  const cursor = startOf(blobs);
  for await (const chunk of request.body ?? []) {
    for (const { index, part } of blobParts(chunk, blobs, cursor)) hashes[index]?.update(part);
  }
  const held = blobs.map(({ blobId }, at) => ({ blobId, info: context.store.info(blobId), sha256: hashes[at]?.digest('hex') }));
  for (const { blobId, info, sha256 } of held) {
    // The copy on disk must be whole too (re-hashed): a damaged or vanished one is the scrubber's to report.
    const whole = info?.sha256 === sha256 && (await context.store.verify(blobId).catch(() => false));
    if (!whole) throw new DfsError('EXISTS', `blob ${blobId} exists here with other bytes (blobs are immutable)`);
  }
  const [next] = chain;
  if (next) reportChainBroken(context, blobs.map((blob) => blob.blobId), next.nodeId, `${context.nodeId} held the blob already and did not forward it`);
  const stored = held.map(({ blobId, info }) => ({ blobId, size: info?.size ?? 0, sha256: info?.sha256 ?? '' }));
  const { refused } = (await context.master().request('node.replica.stored', { blobs: stored })).data;
  if (refused.length > 0) throw new DfsError('CORRUPT', `the master refused the copies held here of ${refused.join(', ')}`);
  return { data: { blobs: stored.map(asReply) } };
}

/** An upload's body must hold exactly its blobs' bytes, and its ticket name exactly these blobs, in this order, for this node. */
function checkUpload(context: NodeContext, request: Incoming, blobs: readonly UploadBlob[], ticket: string, chain: readonly ChainLink[], op: 'put' | 'replicate'): void {
  if (blobs.length === 0) throw new DfsError('BAD_REQUEST', 'no blobs to store');
  const total = blobs.reduce((sum, blob) => sum + blob.size, 0);
  if (request.bodyBytes !== total) throw new DfsError('BAD_REQUEST', `the body holds ${request.bodyBytes} bytes, the request declares ${total}`);
  if (new Set(blobs.map((blob) => blob.blobId)).size !== blobs.length) throw new DfsError('BAD_REQUEST', 'a blob appears twice in the request');
  checkTicket(context, request, ticket, { blobId: blobsSubject(blobs.map((blob) => blob.blobId)), op, bytes: total, chain: chainSubject(chain) });
}

/** A valid ticket is a client's proof: its connection is trusted from then on (larger frames, the long idle time),
 * counted as that address's ticket holders' (src/wire/admission.ts). Members are trusted by their certificates already. */
function checkTicket(context: NodeContext, request: Incoming, ticket: string, expected: TicketExpectation): void {
  context.verifier.verify(ticket, expected);
  if (request.channel.trusted === undefined) request.channel.trust(`tickets@${request.channel.remoteHost}`);
}

type UploadBlob = RequestOf<'blob.put'>['blobs'][number];

/** A blob this node holds now: what it reports to the master. */
interface StoredBlob {
  blobId: string;
  size: number;
  sha256: string;
}

/** What the sender of the bytes hears of a stored blob (it named the blob). */
const asReply = ({ size, sha256 }: StoredBlob): { size: number; sha256: string } => ({ size, sha256 });

/** How a store's bytes go on to the next chain member: whom to, and the request that carries them. */
interface ForwardPlan {
  next: { nodeId: string; address: string };
  send(channel: Channel, body: { body?: OutgoingBody }, timeoutMs: number): Promise<unknown>;
}

/** The one way blobs' bytes go on down a chain (an upload's, a copy's, a repair's): blob.replicate to its next
 * member, with that member's ticket and the rest of the chain; none when the chain ends here. */
function forwardTo(blobs: readonly UploadBlob[], chain: readonly ChainLink[]): ForwardPlan | undefined {
  const [next, ...rest] = chain;
  if (!next) return undefined;
  return { next, send: (channel, body, timeoutMs) => channel.request('blob.replicate', { blobs: [...blobs], ticket: next.ticket, chain: rest }, { ...body, timeoutMs }) };
}

/** storeAndForward for the first node: a refusal (no space) or a cut-off upload is reported, so the master
 * frees the space it booked. */
async function storeReporting(
  context: NodeContext,
  blobs: readonly { blobId: string; size: number }[],
  source: AsyncIterable<unknown> | Iterable<unknown>,
  forward: ForwardPlan | undefined,
): Promise<StoredBlob[]> {
  try {
    return await storeAndForward(context, blobs, source, forward);
  } catch (error) {
    for (const { blobId } of blobs) reportBlobError(context, blobId, 'aborted', DfsError.wrap(error).message);
    throw error;
  }
}

/** Bytes into the blob store (the body holds the blobs one after another) and, chunk by chunk, to the next
 * chain member; back-pressure from both. All or nothing: on any failure no blob is left. */
async function storeAndForward(
  context: NodeContext,
  blobs: readonly { blobId: string; size: number }[],
  source: AsyncIterable<unknown> | Iterable<unknown>,
  plan: ForwardPlan | undefined,
): Promise<StoredBlob[]> {
  const writers: BlobWriter[] = [];
  const total = blobs.reduce((sum, blob) => sum + blob.size, 0);
  let forward: Forward | undefined;
  context.activeTransfers++;
  for (const { blobId } of blobs) context.receiving.add(blobId);
  try {
    writers.push(...(await context.store.createWriters(blobs.map(({ blobId, size }) => ({ id: blobId, size }))))); // NO_SPACE before a byte is read
    forward = plan ? new Forward(context, blobs.map((blob) => blob.blobId), total, plan) : undefined;
    const cursor = startOf(blobs);
    for await (const chunk of source) {
      const writes: (Promise<void> | undefined)[] = [];
      for (const { index, part } of blobParts(chunk, blobs, cursor)) writes.push(writers[index]?.write(part));
      writes.push(forward?.write(chunk as Buffer));
      await Promise.all(writes);
    }
    forward?.end();
    const commits = await Promise.allSettled(writers.map((writer) => writer.commit()));
    const failed = commits.find((commit): commit is PromiseRejectedResult => commit.status === 'rejected');
    if (failed) {
      // The others are on disk already: all or nothing.
      await Promise.all(blobs.map(({ blobId }) => context.store.remove(blobId)));
      throw failed.reason;
    }
    return commits.map((commit, index) => ({ blobId: blobs[index]?.blobId ?? '', ...(commit as PromiseFulfilledResult<{ size: number; sha256: string }>).value }));
  } catch (error) {
    await Promise.all(writers.map((writer) => writer.abort()));
    forward?.abort(DfsError.wrap(error).message);
    throw error;
  } finally {
    context.activeTransfers--;
    for (const { blobId } of blobs) context.receiving.delete(blobId);
  }
}

/** Where a body of blobs one after another stands: the blob being filled, and the bytes it still lacks. */
interface BodyCursor {
  index: number;
  left: number;
}

function startOf(blobs: readonly { size: number }[]): BodyCursor {
  return { index: 0, left: blobs[0]?.size ?? 0 };
}

/** A chunk of such a body cut at the blobs' boundaries, each part with the index of its blob; BAD_REQUEST for a chunk
 * that is not bytes or runs past the last blob's end. */
function* blobParts(chunk: unknown, blobs: readonly { size: number }[], cursor: BodyCursor): Generator<{ index: number; part: Buffer }> {
  if (!Buffer.isBuffer(chunk)) throw new DfsError('BAD_REQUEST', 'a blob body must be bytes');
  for (let offset = 0; offset < chunk.length; ) {
    while (cursor.left === 0 && cursor.index < blobs.length - 1) cursor.left = blobs[++cursor.index]?.size ?? 0;
    if (cursor.left === 0) throw new DfsError('BAD_REQUEST', `more than the declared ${blobs.reduce((sum, blob) => sum + blob.size, 0)} bytes`);
    const take = Math.min(cursor.left, chunk.length - offset);
    yield { index: cursor.index, part: offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take) };
    offset += take;
    cursor.left -= take;
  }
}

/** Tells the master a chain broke at `nodeId` for these blobs, best effort: without a link to the master now, the
 * chain's deadline settles it there. */
function reportChainBroken(context: NodeContext, blobIds: readonly string[], nodeId: string, message: string): void {
  for (const blobId of blobIds) {
    try {
      void context.master().request('node.replication.broken', { blobId, nodeId, message: message.slice(0, 1024) }).catch(() => undefined);
    } catch {
      // no link to the master now
    }
  }
}

/**
 * The bytes on their way to the next chain member (forwardTo: blob.replicate over mutual TLS), which passes the
 * rest of the chain on. If it cannot be reached or fails, the master is told where the chain broke and the local
 * copy carries on: writes to a broken forward return at once.
 */
class Forward {
  private readonly stream = new PassThrough({ highWaterMark: IO_CHUNK_BYTES });
  private broken = false;

  constructor(
    private readonly context: NodeContext,
    private readonly blobIds: readonly string[],
    private readonly size: number,
    plan: ForwardPlan,
  ) {
    this.stream.on('error', () => undefined);
    void this.run(plan);
  }

  write(chunk: Buffer): Promise<void> {
    if (this.broken || this.stream.write(chunk)) return Promise.resolve();
    // A break destroys the stream: its close ends the wait. Its error is the forward's to report (run()), not this write's.
    return drained(this.stream).then(() => undefined);
  }

  end(): void {
    if (!this.broken) this.stream.end();
  }

  /** The local copy failed: the chain after us gets an aborted body and drops its copies. */
  abort(why: string): void {
    if (this.broken) return;
    this.broken = true;
    this.stream.destroy(new DfsError('UNAVAILABLE', `upstream failed: ${why}`));
  }

  private async run({ next, send }: ForwardPlan): Promise<void> {
    try {
      await this.context.peers.use(next.address, next.nodeId, async (channel) => {
        if (this.broken) return;
        const timeoutMs = transferTimeoutMs(this.size);
        await send(channel, this.size > 0 ? { body: { stream: this.stream, bytes: this.size } } : {}, timeoutMs);
      });
    } catch (error) {
      if (this.broken) return; // our own copy failed first; the chain is not to blame
      this.broken = true;
      this.stream.destroy();
      this.reportBroken(next.nodeId, DfsError.wrap(error).message);
    }
  }

  private reportBroken(nodeId: string, message: string): void {
    this.context.log.warn(`blob(s) ${this.blobIds.join(', ')}: replication to ${nodeId} failed: ${message}`);
    reportChainBroken(this.context, this.blobIds, nodeId, message);
  }
}

/** Upload step 7 (repair, asked by the master): this node's copy, checked as it is read, down a new chain. */
export async function replicateBlob(context: NodeContext, request: Incoming<'node.replicate'>): Promise<Reply<'node.replicate'>> {
  const { blobId, size, chain } = request.data;
  const plan = forwardTo([{ blobId, size }], chain);
  if (!plan) throw new DfsError('BAD_REQUEST', 'an empty chain');
  const reader = await openReporting(context, blobId);
  if (reader.size !== size) {
    reader.stream.destroy();
    throw new DfsError('CORRUPT', `blob ${blobId} holds ${reader.size} bytes here, not ${size}`);
  }
  context.activeTransfers++;
  try {
    const body = size > 0 ? { body: { stream: reader.stream, bytes: size } } : {};
    await context.peers.use(plan.next.address, plan.next.nodeId, (channel) => plan.send(channel, body, transferTimeoutMs(size)));
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
    stored = await storeAndForward(context, [{ blobId, size }], reader.stream, forwardTo([{ blobId, size }], chain));
  } finally {
    reader.stream.destroy();
  }
  await reportStored(context, stored, 'node.blob.stored');
  const [copy] = stored;
  if (!copy) throw new Error('transfers: a copy stored no blob');
  return { data: asReply(copy) };
}

/** Opens a held blob for reading; a missing or damaged one is reported to the master (download step 6). */
async function openReporting(context: NodeContext, blobId: string, options: { verify: false; offset: number } | undefined = undefined): Promise<BlobReader> {
  try {
    return await context.store.openReader(blobId, options ?? { onDamaged: (error) => reportBlobError(context, blobId, 'corrupt', error.message) });
  } catch (error) {
    if (isDfsError(error, 'NOT_FOUND')) reportBlobError(context, blobId, 'missing', DfsError.wrap(error).message);
    if (isDfsError(error, 'CORRUPT')) reportBlobError(context, blobId, 'corrupt', DfsError.wrap(error).message);
    throw error;
  }
}

/** The master commits the files before the client hears of success (node.blob.stored), or records a chain
 * member's copies (node.replica.stored, which names copies it refused: they go). A refusal of the report removes
 * the blobs; a lost answer leaves them (the master may have committed them), and the client is told the outcome
 * is unknown. */
async function reportStored(context: NodeContext, blobs: readonly StoredBlob[], type: 'node.blob.stored' | 'node.replica.stored'): Promise<void> {
  try {
    if (type === 'node.replica.stored') {
      const { refused } = (await context.master().request(type, { blobs: [...blobs] })).data;
      for (const blobId of refused) await context.store.remove(blobId);
    } else {
      await context.master().request(type, { blobs: [...blobs] });
    }
  } catch (error) {
    const named = blobs.length === 1 ? `blob ${blobs[0]?.blobId ?? ''}` : `${blobs.length} blobs`;
    if (isDfsError(error, 'UNAVAILABLE') || isDfsError(error, 'TIMEOUT')) {
      context.log.warn(`${named}: the master did not confirm (${DfsError.wrap(error).message}); kept until the master decides`);
      context.reportAgainSoon();
      throw new DfsError('UNAVAILABLE', `the master did not confirm the upload: ${DfsError.wrap(error).message}`);
    }
    for (const { blobId } of blobs) await context.store.remove(blobId);
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
  const ticket = signTicket(key, { blobId, op: 'get', bytesMax: info.size, nodeId: context.nodeId, chain: NO_CHAIN, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs: Date.now() });
  return { data: { address: context.advertise(), ticket, size: info.size, sha256: info.sha256 } };
}

/** Download step 5: the blob's bytes from `offset` on as the reply's body, read as they are: the reader checks them
 * against the file's SHA-256, and a reader that finds them wrong has the master ask this node to re-hash its copy
 * (node.blob.verify): one hash of every byte read, on the reader's side, instead of one on each side. */
export async function blobGet(context: NodeContext, request: Incoming<'blob.get'>): Promise<Reply<'blob.get'>> {
  const { blobId, ticket, offset = 0 } = request.data;
  const info = context.store.info(blobId);
  checkTicket(context, request, ticket, { blobId, op: 'get', bytes: info?.size ?? 0, chain: NO_CHAIN });
  if (info && offset > info.size) throw new DfsError('BAD_REQUEST', `offset ${offset} is past the blob's ${info.size} bytes`);
  const reader = await openReporting(context, blobId, { verify: false, offset });
  context.activeTransfers++;
  const { stream } = reader;
  stream.once('error', (error: unknown) => reportBlobError(context, blobId, 'aborted', error instanceof Error ? error.message : String(error)));
  stream.once('close', () => context.activeTransfers--);
  const bytes = reader.size - offset;
  if (bytes === 0) stream.destroy();
  return { data: { size: reader.size, sha256: reader.sha256 }, ...(bytes > 0 ? { body: { stream, bytes } } : {}) };
}

/** Asked by the master when a reader found the bytes it got from this node wrong: the scrubber re-hashes the copy
 * soon, and a damaged one is reported (node.blob.error) as the scrub reports any. */
export function verifyBlob(context: NodeContext, request: Incoming<'node.blob.verify'>): Promise<Reply<'node.blob.verify'>> {
  const { blobId } = request.data;
  if (!context.store.info(blobId)) return Promise.reject(new DfsError('NOT_FOUND', `no blob ${blobId} on ${context.nodeId}`));
  if (!context.suspect(blobId)) return Promise.reject(new DfsError('RATE_LIMITED', 'this node has as many copies to re-hash as it queues; the scrub finds the rest'));
  context.log.info(`blob ${blobId}: a reader found its bytes wrong; re-hashing it`);
  return Promise.resolve({ data: {} });
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
