// The client's side of the data path: streams a local file to the node the master chose, and a
// blob from the node the master found into a local file or a stream, verifying size and SHA-256.
// Bytes are read in IO_CHUNK_BYTES chunks and never held whole; the master is only asked and told.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IO_CHUNK_BYTES, REQUEST_TIMEOUT_MS, TRANSFER_BYTES_PER_S_MIN } from '../limits';
import { parseHostPort } from '../net/address';
import { NODE_CN_PREFIX } from '../net/ca';
import type { Channel } from '../net/channel';
import { DfsError } from '../net/errors';
import type { ResponseOf } from '../net/messages';
import { connectTls } from '../net/tls';
import { LocalFileError, type Fetched, type ProgressListener } from './api';

/** A request that carries `bytes` may take the usual timeout plus those bytes at the slowest rate allowed. */
export function transferTimeoutMs(bytes: number): number {
  return REQUEST_TIMEOUT_MS + Math.ceil((bytes / TRANSFER_BYTES_PER_S_MIN) * 1000);
}

/** A node's port, as a ticket holder (no client certificate), checking the node's certificate names it. */
export function connectNode(caPem: string, address: string, nodeId: string): Promise<Channel> {
  return connectTls({ address: parseHostPort(address), caPem, expectCommonName: `${NODE_CN_PREFIX}${nodeId}` });
}

/** Passes bytes through, counting (and hashing) them and telling a listener. */
class Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly totalBytes: number,
    private readonly onProgress: ProgressListener | undefined,
  ) {
    super({ highWaterMark: IO_CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    this.onProgress?.(this.bytes, this.totalBytes);
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Upload step 3: the file's bytes to the node under the ticket, with the chain it forwards them down;
 * resolves when the node (after the master) answers. */
export async function sendFile(
  caPem: string,
  localPath: string,
  size: number,
  begin: ResponseOf<'file.put.begin'>,
  onProgress: ProgressListener | undefined,
): Promise<ResponseOf<'blob.put'>> {
  const channel = await connectNode(caPem, begin.address, begin.nodeId);
  try {
    const source = createReadStream(localPath, { highWaterMark: IO_CHUNK_BYTES });
    const meter = new Meter(size, onProgress);
    // Errors reach the channel through the meter it reads; pipeline tears both down together.
    pipeline(source, meter).catch((error: unknown) => meter.destroy(error instanceof Error ? error : new Error(String(error))));
    const response = await channel.request(
      'blob.put',
      { blobId: begin.blobId, size, ticket: begin.ticket, chain: begin.chain },
      { body: { stream: meter, bytes: size }, timeoutMs: transferTimeoutMs(size) },
    );
    return response.data;
  } finally {
    channel.close(); // also stops sending a body the node refused
  }
}

/** Download step 5: the blob's bytes from the node into `output`, checked against size and SHA-256. */
export async function receiveBlob(
  caPem: string,
  begin: ResponseOf<'file.get.begin'>,
  output: NodeJS.WritableStream,
  options: { end: boolean; onProgress: ProgressListener | undefined },
): Promise<Fetched> {
  const channel = await connectNode(caPem, begin.address, begin.nodeId);
  try {
    const response = await channel.request('blob.get', { blobId: begin.blobId, ticket: begin.ticket });
    if (response.bodyBytes !== begin.size) {
      response.body?.destroy();
      throw new DfsError('CORRUPT', `the node sends ${response.bodyBytes} bytes; the file has ${begin.size}`);
    }
    const meter = new Meter(begin.size, options.onProgress);
    const body = response.body ?? Readable.from([]);
    if (options.end) await pipeline(body, meter, output);
    else await copyWithoutEnd(body, meter, output);
    const sha256 = meter.digest();
    if (meter.bytes !== begin.size || sha256 !== begin.sha256) {
      throw new DfsError('CORRUPT', `received ${meter.bytes} bytes hashing to ${sha256}; expected ${begin.size} bytes hashing to ${begin.sha256}`);
    }
    return { size: meter.bytes, sha256 };
  } finally {
    channel.close();
  }
}

/** For outputs that must stay open (stdout): write with back-pressure, never end. */
async function copyWithoutEnd(body: Readable, meter: Meter, output: NodeJS.WritableStream): Promise<void> {
  const metered = body.pipe(meter);
  body.once('error', (error) => meter.destroy(error));
  for await (const chunk of metered as AsyncIterable<Buffer>) {
    if (!output.write(chunk)) await once(output as unknown as NodeJS.EventEmitter, 'drain');
  }
}

/** A hidden temporary name beside the target, on the same filesystem so the rename is atomic. */
function temporaryBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.dfs-${randomBytes(4).toString('hex')}.part`);
}

/** Download into a temporary file, fsync, rename over `localPath`; on any failure the temporary goes. */
export async function receiveFile(
  caPem: string,
  begin: ResponseOf<'file.get.begin'>,
  localPath: string,
  onProgress: ProgressListener | undefined,
): Promise<Fetched> {
  const target = path.resolve(localPath);
  const temporary = temporaryBeside(target);
  // Opened before anything is fetched, so a bad local path fails here, cleanly, and costs no transfer.
  const handle = await fs.open(temporary, 'wx', 0o644).catch((error: NodeJS.ErrnoException) => {
    throw new LocalFileError(localPath, error.code === 'ENOENT' ? `No such directory: ${path.dirname(target)}` : error.message);
  });
  try {
    // The descriptor stays the handle's (datasync, close): a stream from handle.createWriteStream
    // would keep a reference that makes handle.close() wait forever (Node 20).
    const output = createWriteStream('', { fd: handle.fd, highWaterMark: IO_CHUNK_BYTES, autoClose: false, emitClose: false });
    const fetched = await receiveBlob(caPem, begin, output, { end: true, onProgress });
    await handle.datasync();
    await handle.close();
    await fs.rename(temporary, target);
    return fetched;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(temporary, { force: true });
    throw error;
  }
}
