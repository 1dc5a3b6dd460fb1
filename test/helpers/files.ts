// Local test files: random contents written a chunk at a time, their SHA-256, streamed, and damage.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';

const CHUNK_BYTES = 1024 * 1024;

/** A file of random bytes, written 1 MiB at a time (never whole in memory). */
export async function randomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  for (let left = bytes; left > 0; left -= CHUNK_BYTES) {
    if (!out.write(randomBytes(Math.min(CHUNK_BYTES, left)))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Changes one byte in the middle of a file, keeping its size (a blob damaged on disk). */
export async function damage(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    const { size } = await handle.stat();
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, Math.floor(size / 2));
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, Math.floor(size / 2));
  } finally {
    await handle.close();
  }
}
