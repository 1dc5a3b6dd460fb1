// The node's blob store: blobs come back byte for byte however they were chunked; space is refused
// before a byte is accepted and reservations add up; a wrong size or hash, an abort or a crash leaves
// nothing behind; damaged blobs are caught on read and by verify; hostile ids never reach the disk;
// memory stays bounded while writing (throughput is bench/blobs.ts's). Random chunkings are seeded:
// DFS_TEST_SEED=<seed> replays.

import { createHash, randomFillSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { BLOB_SYNC_BEHIND_BYTES, KIB, MIB } from '../../src/limits';
import { isDfsError, type ErrorCode } from '../../src/wire/errors';
import { BlobStore, createBlobId, isBlobId, writeStream, type BlobStoreOptions } from '../../src/store/blobs';
import { prng, seed } from '../helpers/random';

t.comment(`seed ${seed} (replay with DFS_TEST_SEED=${seed})`);
const random = prng(seed);

function below(bound: number): number {
  return Math.floor(random() * bound);
}

/** Chunk sizes as a network delivers them: some tiny, many TLS-record sized, some large. */
function randomChunkSize(): number {
  const kind = below(4);
  if (kind === 0) return 1 + below(100);
  if (kind === 1) return 1 + below(16 * KIB);
  if (kind === 2) return 1 + below(300 * KIB);
  return 1 + below(2 * MIB);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function randomData(length: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(length));
}

async function temporary(t: Test): Promise<string> {
  const directory = await fs.mkdtemp(path.join(tmpdir(), 'dfs-blobs-'));
  t.teardown(() => fs.rm(directory, { recursive: true, force: true }));
  return directory;
}

async function openStore(t: Test, options: BlobStoreOptions = {}): Promise<{ store: BlobStore; dataDir: string }> {
  const dataDir = await temporary(t);
  const store = await BlobStore.open(dataDir, { reserveBytes: 0, ...options });
  return { store, dataDir };
}

/** Writes data in the given chunk sizes (cycled) and commits. */
async function putBlob(store: BlobStore, id: string, data: Buffer, chunkSize: () => number = () => IO_CHUNK): Promise<{ sha256: string; size: number }> {
  const writer = await store.createWriter(id, data.length);
  for (let offset = 0; offset < data.length; ) {
    const end = Math.min(data.length, offset + chunkSize());
    await writer.write(data.subarray(offset, end));
    offset = end;
  }
  return writer.commit();
}
const IO_CHUNK = MIB;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWith(t: Test, promise: Promise<unknown>, code: ErrorCode, what: string): Promise<void> {
  try {
    await promise;
    t.fail(`${what}: expected ${code}, it succeeded`);
  } catch (error) {
    t.ok(isDfsError(error, code), `${what}: ${code} (got ${(error as Error).message})`);
  }
}

/** Every file under the store's directory, relative: the test of "nothing left behind". */
async function storedFiles(dataDir: string): Promise<string[]> {
  const root = path.join(dataDir, 'blobs');
  const found: string[] = [];
  for (const directory of await fs.readdir(root)) {
    for (const name of await fs.readdir(path.join(root, directory))) found.push(`${directory}/${name}`);
  }
  return found.sort();
}

t.test('round trip: 0 B, 1 B, 64 KiB ± 1 and 48 MiB written in random chunk sizes come back byte for byte', async (t) => {
  const { store } = await openStore(t);
  for (const size of [0, 1, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, 48 * MIB]) {
    const data = randomData(size);
    const id = createBlobId();
    const committed = await putBlob(store, id, data, randomChunkSize);
    t.same(committed, { sha256: sha256(data), size }, `${size} B: commit reports size and SHA-256`);
    t.same(store.info(id), { id, size, sha256: sha256(data) }, `${size} B: info`);
    const reader = await store.openReader(id);
    t.equal(reader.size, size);
    const back = await readAll(reader.stream);
    t.ok(back.equals(data), `${size} B: the same bytes come back`);
    t.equal(await store.verify(id), true, `${size} B: verify`);
  }
  t.equal(store.count, 6);
  t.equal(store.usedBytes, 3 * 64 * KIB + 1 + 48 * MIB);
});

t.test('reopen: a store opened again counts the same blobs and bytes, from names alone', async (t) => {
  const { store, dataDir } = await openStore(t);
  const expected = new Map<string, string>();
  for (const size of [0, 10, 1000, 3 * MIB]) {
    const data = randomData(size);
    const id = createBlobId();
    await putBlob(store, id, data);
    expected.set(id, sha256(data));
  }
  const again = await BlobStore.open(dataDir, { reserveBytes: 0 });
  t.equal(again.count, 4);
  t.equal(again.usedBytes, store.usedBytes);
  t.same(new Map([...again.list()].map((info) => [info.id, info.sha256])), expected, 'the same ids and hashes');
  for (const id of expected.keys()) t.equal(await again.verify(id), true, `${id} verifies after reopen`);
});

t.test('a batch of writers committing at once into one directory share its fsyncs, and every blob is there after reopen', async (t) => {
  const { store, dataDir } = await openStore(t);
  // One fan-out directory for all, as the master makes a batch's ids: the commits overlap while its fsyncs
  // run, some waiting for the next one.
  const first = createBlobId();
  const blobs = Array.from({ length: 100 }, (_, index) => ({ id: index === 0 ? first : createBlobId(first), data: randomData(index * 37) }));
  t.ok(blobs.every(({ id }) => isBlobId(id) && id.slice(0, 2) === first.slice(0, 2)), 'batchmates\' ids are blob ids with the first one\'s first byte');
  t.equal(new Set(blobs.map(({ id }) => id)).size, blobs.length, 'and differ (120 random bits)');
  const writers = await store.createWriters(blobs.map(({ id, data }) => ({ id, size: data.length })));
  const committed = await Promise.all(
    writers.map(async (writer, index) => {
      const { data } = blobs[index] as (typeof blobs)[number];
      if (data.length > 0) await writer.write(data);
      return (await writer.commit()).sha256;
    }),
  );
  t.same(committed, blobs.map(({ data }) => sha256(data)), 'every commit resolved with its hash');
  t.same((await fs.readdir(path.join(dataDir, 'blobs', 'tmp'))).length, 0, 'no temporary file is left');
  const again = await BlobStore.open(dataDir, { reserveBytes: 0 });
  t.equal(again.count, blobs.length, 'all of them found again');
  for (const { id, data } of blobs.slice(0, 10)) t.equal(again.info(id)?.sha256, sha256(data), `${id} as written`);
});

t.test('NO_SPACE: refused before any byte when the capacity is too small', async (t) => {
  const { store, dataDir } = await openStore(t, { capacityBytes: 1000 });
  await rejectsWith(t, store.createWriter(createBlobId(), 1001), 'NO_SPACE', '1001 B into 1000 B');
  t.same(await storedFiles(dataDir), [], 'not even a temp file was made');
  t.equal(await store.freeBytes(), 1000, 'nothing stays reserved');
  await putBlob(store, createBlobId(), randomData(1000));
  t.equal(await store.freeBytes(), 0);
  await rejectsWith(t, store.createWriter(createBlobId(), 1), 'NO_SPACE', '1 B into a full store');
});

t.test('NO_SPACE: the disk reserve counts too', async (t) => {
  const { store } = await openStore(t, { reserveBytes: Number.MAX_SAFE_INTEGER });
  t.equal(await store.freeBytes(), 0);
  await rejectsWith(t, store.createWriter(createBlobId(), 1), 'NO_SPACE', '1 B with the whole disk reserved');
});

t.test('NO_SPACE: concurrent writers\' reservations add up, and an abort gives its space back', async (t) => {
  const { store } = await openStore(t, { capacityBytes: 100 });
  const first = await store.createWriter(createBlobId(), 60);
  t.equal(await store.freeBytes(), 40, 'a writer holds its declared size');
  await rejectsWith(t, store.createWriter(createBlobId(), 60), 'NO_SPACE', 'a second 60 B writer');
  const second = await store.createWriter(createBlobId(), 40);
  t.equal(await store.freeBytes(), 0);
  await first.abort();
  t.equal(await store.freeBytes(), 60, 'the aborted writer\'s space is free again');
  await second.write(randomData(40));
  await second.commit();
  t.equal(store.usedBytes, 40);
  t.equal(await store.freeBytes(), 60);
  // Created in the same tick: both measure the disk concurrently, yet only one may win.
  const raced = await Promise.allSettled([store.createWriter(createBlobId(), 50), store.createWriter(createBlobId(), 50)]);
  t.equal(raced.filter((result) => result.status === 'fulfilled').length, 1, 'exactly one of two racing 50 B writers fits in 60 B');
  for (const result of raced) if (result.status === 'fulfilled') await result.value.abort();
});

t.test('a wrong declared size or hash is refused at commit and leaves nothing behind', async (t) => {
  const { store, dataDir } = await openStore(t, { capacityBytes: 10 * MIB });
  const data = randomData(100 * KIB);
  const cases: Array<{ what: string; code: ErrorCode; run: () => Promise<unknown> }> = [
    { what: 'too few bytes', code: 'BAD_REQUEST', run: async () => { const writer = await store.createWriter(createBlobId(), data.length + 1); await writer.write(data); return writer.commit(); } },
    { what: 'too many bytes', code: 'BAD_REQUEST', run: async () => { const writer = await store.createWriter(createBlobId(), data.length - 1); await writer.write(data); return writer.commit(); } },
    { what: 'another hash', code: 'CORRUPT', run: async () => { const writer = await store.createWriter(createBlobId(), data.length, sha256(randomData(10))); await writer.write(data); return writer.commit(); } },
  ];
  for (const { what, code, run } of cases) {
    await rejectsWith(t, run(), code, what);
    t.same(await storedFiles(dataDir), [], `${what}: no blob and no temp file`);
    t.equal(store.count, 0);
    t.equal(await store.freeBytes(), 10 * MIB, `${what}: the reservation is released`);
  }
  const right = await store.createWriter(createBlobId(), data.length, sha256(data));
  await right.write(data);
  t.same(await right.commit(), { sha256: sha256(data), size: data.length }, 'the expected hash is accepted');
  await rejectsWith(t, store.createWriter(createBlobId(), 1, 'ABC'), 'BAD_REQUEST', 'a malformed expected hash');
  await rejectsWith(t, store.createWriter(createBlobId(), -1), 'BAD_REQUEST', 'a negative size');
  await rejectsWith(t, store.createWriter(createBlobId(), 1.5), 'BAD_REQUEST', 'a fractional size');
});

t.test('abort leaves nothing, is idempotent, ends the writer, and is a no-op after commit', async (t) => {
  const { store, dataDir } = await openStore(t);
  const id = createBlobId();
  const writer = await store.createWriter(id, 3 * MIB);
  await writer.write(randomData(2 * MIB));
  t.equal(store.has(id), false, 'a blob being written is not held yet');
  await rejectsWith(t, store.openReader(id), 'NOT_FOUND', 'reading a blob being written');
  await writer.abort();
  await writer.abort();
  t.same(await storedFiles(dataDir), []);
  await rejectsWith(t, writer.write(randomData(1)), 'BAD_REQUEST', 'write after abort');
  await rejectsWith(t, writer.commit(), 'BAD_REQUEST', 'commit after abort');
  const again = await store.createWriter(id, 1);
  await again.write(Buffer.from('x'));
  await again.commit();
  await again.abort();
  t.equal(store.has(id), true, 'abort after commit keeps the blob');
});

t.test('syncs behind the writes: a blob past several BLOB_SYNC_BEHIND_BYTES commits whole; an abort while one runs leaves nothing', async (t) => {
  const { store, dataDir } = await openStore(t);
  const data = randomData(3 * BLOB_SYNC_BEHIND_BYTES + 5);
  const id = createBlobId();
  t.same(await putBlob(store, id, data), { sha256: sha256(data), size: data.length });
  t.ok((await readAll((await store.openReader(id)).stream)).equals(data), 'read back byte for byte');
  const other = createBlobId();
  const writer = await store.createWriter(other, 4 * BLOB_SYNC_BEHIND_BYTES);
  // Writes resolve as soon as there is room: the last of these leaves a sync behind them in flight, or just done.
  for (let written = 0; written < BLOB_SYNC_BEHIND_BYTES + 2 * MIB; written += MIB) await writer.write(data.subarray(written, written + MIB));
  await writer.abort();
  t.same(await storedFiles(dataDir), [`${id.slice(0, 2)}/${id}.${data.length}.${sha256(data)}`], 'only the committed blob is left');
});

t.test('crash leftovers are cleaned at open: temp files, names without valid meta, sizes that do not match', async (t) => {
  const { store, dataDir } = await openStore(t);
  const good = createBlobId();
  await putBlob(store, good, randomData(5000));
  const interrupted = await store.createWriter(createBlobId(), 2 * MIB);
  await interrupted.write(randomData(MIB)); // the process "dies" here: the temp file stays
  const root = path.join(dataDir, 'blobs');
  const id = createBlobId();
  const fanOut = path.join(root, id.slice(0, 2));
  const junk = [
    path.join(fanOut, id), // a blob without meta
    path.join(fanOut, `${id}.meta`),
    path.join(fanOut, `${id}.12.${'0'.repeat(63)}`), // hash one digit short
    path.join(fanOut, `${id}.5.${'0'.repeat(64)}`), // says 5 bytes, holds 12
    path.join(root, id[0] === 'f' ? '00' : 'ff', `${id}.12.${'0'.repeat(64)}`), // in the wrong fan-out directory
  ];
  for (const file of junk) await fs.writeFile(file, 'twelve bytes');
  t.equal((await fs.readdir(path.join(root, 'tmp'))).length, 1, 'the interrupted write left its temp file');
  const logged: string[] = [];
  const again = await BlobStore.open(dataDir, { reserveBytes: 0, log: (message) => logged.push(message) });
  t.equal(again.count, 1);
  t.equal(again.has(good), true);
  t.equal(again.has(id), false);
  t.same(await storedFiles(dataDir), [`${good.slice(0, 2)}/${good}.5000.${store.info(good)?.sha256 ?? ''}`], 'only the whole blob is left');
  t.equal(logged.length, junk.length + 1, 'every removal is logged');
  t.comment(logged.join('\n'));
  await interrupted.abort(); // the "dead" writer's descriptor, closed so the test leaks nothing
});

t.test('a damaged blob: its reader errors with CORRUPT at the end, verify says false', async (t) => {
  const { store, dataDir } = await openStore(t);
  const id = createBlobId();
  const data = randomData(3 * MIB + 17);
  const { sha256: hash } = await putBlob(store, id, data);
  const file = path.join(dataDir, 'blobs', id.slice(0, 2), `${id}.${data.length}.${hash}`);
  const handle = await fs.open(file, 'r+');
  await handle.write(Buffer.from([(data[MIB] ?? 0) ^ 0x01]), 0, 1, MIB);
  await handle.close();
  const reader = await store.openReader(id);
  let received = 0;
  reader.stream.on('data', (chunk: Buffer) => (received += chunk.length));
  await rejectsWith(t, readAll(reader.stream), 'CORRUPT', 'reading the damaged blob');
  t.ok(received > 0, 'bytes flowed before the hash was checked at the end');
  t.equal(await store.verify(id), false, 'verify finds it');
  const unchecked = await store.openReader(id, { verify: false });
  t.equal((await readAll(unchecked.stream)).length, data.length, 'verify: false reads without checking');
  await fs.truncate(file, 100);
  await rejectsWith(t, store.openReader(id), 'CORRUPT', 'a truncated blob is refused at open');
  t.equal(await store.verify(id), false, 'verify finds the truncation');
});

t.test('hostile ids are refused with BAD_REQUEST and never reach the disk', async (t) => {
  const { store, dataDir } = await openStore(t);
  const hex = createBlobId();
  const hostile = ['../x', 'a/b', hex.toUpperCase().replace(/^[0-9]/, 'A'), hex.slice(1), `${hex}0`, `${hex.slice(1)}\0`, '', `..${hex.slice(2)}`, `./${hex.slice(2)}`, `${hex.slice(0, 31)}/`, ` ${hex.slice(1)}`];
  for (const id of hostile) {
    t.equal(isBlobId(id), false, `${JSON.stringify(id)} is not a blob id`);
    await rejectsWith(t, store.createWriter(id, 1), 'BAD_REQUEST', `createWriter ${JSON.stringify(id)}`);
    await rejectsWith(t, store.openReader(id), 'BAD_REQUEST', `openReader ${JSON.stringify(id)}`);
    await rejectsWith(t, store.verify(id), 'BAD_REQUEST', `verify ${JSON.stringify(id)}`);
    await rejectsWith(t, store.remove(id), 'BAD_REQUEST', `remove ${JSON.stringify(id)}`);
    t.equal(store.has(id), false);
  }
  await rejectsWith(t, store.createWriter(42 as unknown as string, 1), 'BAD_REQUEST', 'a number as id');
  t.same(await storedFiles(dataDir), []);
  t.equal(isBlobId(hex), true, 'a created id is valid');
});

t.test('remove frees the used bytes; a reader already open still reads the whole blob', async (t) => {
  const { store, dataDir } = await openStore(t, { capacityBytes: 10 * MIB });
  const id = createBlobId();
  const data = randomData(4 * MIB);
  await putBlob(store, id, data);
  t.equal(store.usedBytes, 4 * MIB);
  const reader = await store.openReader(id);
  t.equal(await store.remove(id), true);
  t.equal(store.usedBytes, 0);
  t.equal(store.count, 0);
  t.equal(await store.freeBytes(), 10 * MIB);
  t.same(await storedFiles(dataDir), []);
  t.ok((await readAll(reader.stream)).equals(data), 'the open reader got every byte');
  t.equal(await store.remove(id), false, 'removing it again');
  await rejectsWith(t, store.openReader(id), 'NOT_FOUND', 'reading a removed blob');
  await rejectsWith(t, store.verify(id), 'NOT_FOUND', 'verifying a removed blob');
});

t.test('EXISTS: blobs are immutable, and an id being written is taken', async (t) => {
  const { store } = await openStore(t);
  const id = createBlobId();
  await putBlob(store, id, randomData(10));
  await rejectsWith(t, store.createWriter(id, 10), 'EXISTS', 'a committed id');
  const other = createBlobId();
  const writer = await store.createWriter(other, 10);
  await rejectsWith(t, store.createWriter(other, 10), 'EXISTS', 'an id being written');
  await writer.abort();
  await (await store.createWriter(other, 0)).commit();
  t.equal(store.has(other), true, 'after an abort the id is free again');
});

t.test('writeStream: pipes a body with back-pressure and commits; a bad body leaves nothing', async (t) => {
  const { store, dataDir } = await openStore(t);
  const data = randomData(5 * MIB + 3);
  const id = createBlobId();
  const chunks = Array.from({ length: Math.ceil(data.length / (16 * KIB)) }, (_, index) => data.subarray(index * 16 * KIB, (index + 1) * 16 * KIB));
  t.same(await writeStream(await store.createWriter(id, data.length), Readable.from(chunks)), { sha256: sha256(data), size: data.length });
  t.ok((await readAll((await store.openReader(id)).stream)).equals(data));
  await rejectsWith(t, writeStream(await store.createWriter(createBlobId(), 10), Readable.from([randomData(11)])), 'BAD_REQUEST', 'a body longer than declared');
  await rejectsWith(t, writeStream(await store.createWriter(createBlobId(), 10), Readable.from(['text'])), 'BAD_REQUEST', 'a text body');
  const failing = new Readable({ read() { this.push(randomData(5)); this.destroy(new Error('connection reset')); } });
  await t.rejects(writeStream(await store.createWriter(createBlobId(), 10), failing), /connection reset/, 'a body that fails midway');
  t.same((await storedFiles(dataDir)).length, 1, 'only the good blob is on disk');
  t.equal(store.count, 1);
});

t.test('memory: writing 256 MiB in 1 MiB chunks (and 64 MiB in 16 KiB chunks) keeps the process\'s growth bounded', async (t) => {
  const { store } = await openStore(t);
  const chunk = randomData(MIB);
  for (const { total, chunkBytes } of [{ total: 256 * MIB, chunkBytes: MIB }, { total: 64 * MIB, chunkBytes: 16 * KIB }]) {
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakArrayBuffers = before.arrayBuffers;
    const writer = await store.createWriter(createBlobId(), total);
    for (let written = 0; written < total; written += chunkBytes) {
      // The same bytes each time: unchanged, so the no-copy contract holds, and only the store allocates.
      await writer.write(chunk.subarray(0, chunkBytes));
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers);
    }
    await writer.commit();
    const rssGrowth = (peakRss - before.rss) / MIB;
    const bufferGrowth = (peakArrayBuffers - before.arrayBuffers) / MIB;
    t.comment(`${total / MIB} MiB in ${chunkBytes / KIB} KiB chunks: peak RSS +${rssGrowth.toFixed(1)} MiB, peak array buffers +${bufferGrowth.toFixed(1)} MiB`);
    t.ok(rssGrowth < 64, `RSS grew ${rssGrowth.toFixed(1)} MiB (< 64)`);
    t.ok(bufferGrowth < 16, `array buffers grew ${bufferGrowth.toFixed(1)} MiB (< 16)`);
  }
});
