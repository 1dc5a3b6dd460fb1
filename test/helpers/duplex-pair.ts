// Connected pairs of byte streams for tests: an in-memory pair with real back-pressure (a writer
// waits while its peer's read buffer is full) and a loopback TCP pair. Either end is a Duplex a
// Channel can run on; ending or destroying one end ends the other, as a TCP FIN would.

import net from 'node:net';
import { Duplex } from 'node:stream';

/** One end of an in-memory pair: what is written here is read from `peer`. */
class PairEnd extends Duplex {
  peer: PairEnd | undefined;
  /** The peer's write callback, held while this end's read buffer is full. */
  private resumeWriter: (() => void) | undefined;

  constructor(highWaterMark: number) {
    super({ allowHalfOpen: false, readableHighWaterMark: highWaterMark, writableHighWaterMark: highWaterMark });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (!peer || peer.destroyed || peer.readableEnded) {
      callback(Object.assign(new Error('write EPIPE: peer is gone'), { code: 'EPIPE' }));
      return;
    }
    if (peer.push(chunk)) callback();
    else peer.resumeWriter = callback;
  }

  override _read(): void {
    const resume = this.resumeWriter;
    this.resumeWriter = undefined;
    resume?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.endPeer();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.endPeer();
    // A writer waiting on this end is released; its later writes fail with EPIPE.
    this._read();
    callback(error);
  }

  /** Bytes already written stay readable on the peer; then it sees end of stream. */
  private endPeer(): void {
    const peer = this.peer;
    if (peer && !peer.destroyed && !peer.readableEnded) peer.push(null);
  }
}

/**
 * Two connected in-memory ends. `highWaterMark` bounds what each end buffers before its writer
 * is made to wait (the default is Node's 16 KiB, like a socket).
 */
export function duplexPair(highWaterMark = 16 * 1024): [Duplex, Duplex] {
  const left = new PairEnd(highWaterMark);
  const right = new PairEnd(highWaterMark);
  left.peer = right;
  right.peer = left;
  return [left, right];
}

/** A connected pair of real sockets over 127.0.0.1 (no TLS); `close` destroys both ends and the listener. */
export async function tcpPair(): Promise<{ ends: [net.Socket, net.Socket]; close(): Promise<void> }> {
  const server = net.createServer();
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('listener has no port');
  const client = net.connect(address.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const serverEnd = await accepted;
  return {
    ends: [client, serverEnd],
    async close() {
      client.destroy();
      serverEnd.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
