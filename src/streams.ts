// Streams on the data path. Waiting out back-pressure: a writer waits here each time a stream's buffer is full —
// thousands of times in a large transfer — so the wait must leave nothing behind: `Promise.race` over `events.once`
// keeps the losing listeners (and an 'error' listener each) on the stream until it closes, which grows with the
// file's size. And a file region a channel can send without a fresh buffer per chunk.

import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Resolves when the stream drains, closes or fails, whichever comes first (at once if it is destroyed already: its
 * close may have been emitted before), with every listener it added removed: with the error if it failed (a stream
 * writing to a file may fail without being destroyed), else undefined. It never rejects. */
export function drained(stream: NodeJS.EventEmitter & { destroyed?: boolean }): Promise<Error | undefined> {
  return new Promise((resolve) => {
    if (stream.destroyed === true) {
      resolve(undefined);
      return;
    }
    const done = (error?: unknown): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve(error instanceof Error ? error : undefined);
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/**
 * A stretch of an open file as a stream (the file is closed with the stream). Read as any stream, each chunk is a
 * fresh buffer. A channel sending it as a body reads it with readInto() into two buffers of its own instead, reused
 * chunk after chunk: a fresh 1 MiB buffer per chunk made V8 run a full garbage collection every few dozen MiB a node
 * served (37 in a 1 GiB read, ~0.4 CPU-s), the buffers being memory outside its heap that only those collections free.
 */
export class FileRegion extends Readable {
  private position: number;
  private remaining: number;

  constructor(
    private readonly handle: FileHandle,
    start: number,
    bytes: number,
    private readonly chunkBytes: number,
  ) {
    super({ highWaterMark: chunkBytes });
    this.position = start;
    this.remaining = bytes;
  }

  /** Reads the next bytes into `buffer` (as many as fit and are left): how many, 0 once the region (or the file) ended. */
  async readInto(buffer: Buffer): Promise<number> {
    let filled = 0;
    while (filled < buffer.length && this.remaining > 0) {
      const { bytesRead } = await this.handle.read(buffer, filled, Math.min(buffer.length - filled, this.remaining), this.position);
      if (bytesRead === 0) break; // the file is shorter than the region: the reader sees fewer bytes than it expects
      filled += bytesRead;
      this.position += bytesRead;
      this.remaining -= bytesRead;
    }
    return filled;
  }

  override _read(): void {
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(this.chunkBytes, this.remaining)));
    this.readInto(buffer).then(
      (bytes) => this.push(bytes > 0 ? buffer.subarray(0, bytes) : null),
      (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.handle.close().then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? (closeError instanceof Error ? closeError : new Error(String(closeError)))),
    );
  }
}
