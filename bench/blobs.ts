// The node's blob store alone, no network: write throughput of a BlobWriter (SHA-256 + fsync + rename)
// in 1 MiB and 16 KiB chunks against a plain fs write stream with one fsync, and the verified read back
// (from the page cache). DFS_BENCH_BYTES sets the size of each write (default 512 MiB). Prints MB/s.

import { randomFillSync } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { KIB, MIB } from '../src/limits';
import { BlobStore, createBlobId } from '../src/store/blobs';
import { report, tempDir, timed } from './lib';

const BYTES = Number(process.env.DFS_BENCH_BYTES ?? 512 * MIB);

function rate(ms: number): string {
  return `${(BYTES / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
}

async function plainWrite(file: string, chunk: Buffer): Promise<number> {
  const { ms } = await timed(async () => {
    const plain = createWriteStream(file, { highWaterMark: MIB });
    for (let written = 0; written < BYTES; written += chunk.length) if (!plain.write(chunk)) await new Promise<void>((resolve) => plain.once('drain', () => resolve()));
    await new Promise<void>((resolve, reject) => plain.end((error?: Error | null) => (error ? reject(error) : resolve())));
    const handle = await fs.open(file, 'r');
    await handle.sync();
    await handle.close();
  });
  await fs.rm(file);
  return ms;
}

async function main(): Promise<void> {
  const dir = await tempDir('blobs-');
  try {
    const store = await BlobStore.open(path.join(dir, 'node'), { reserveBytes: 0 });
    const chunk = randomFillSync(Buffer.allocUnsafe(MIB));
    console.log(`${BYTES / MIB} MiB each`);
    report('plain fs.createWriteStream (1 MiB, no hash) + fsync', rate(await plainWrite(path.join(dir, 'plain'), chunk)));
    for (const chunkBytes of [MIB, 16 * KIB]) {
      const id = createBlobId();
      const write = await timed(async () => {
        const writer = await store.createWriter(id, BYTES);
        // The same bytes each time: unchanged, so the writer's no-copy contract holds.
        for (let written = 0; written < BYTES; written += chunkBytes) await writer.write(chunk.subarray(0, chunkBytes));
        await writer.commit();
      });
      report(`blob writer, ${chunkBytes / KIB} KiB chunks`, rate(write.ms));
      const read = await timed(async () => {
        for await (const _ of (await store.openReader(id)).stream) void _;
      });
      report('  verified read back (page cache)', rate(read.ms));
      await store.remove(id);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
