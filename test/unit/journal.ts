// Durability of the catalog: record framing, replay after a crash with and without a
// snapshot, torn and corrupted tails, group commit, fatal fsync failures, and crashes at every step
// of a snapshot and at arbitrary moments. A "crash" is a copy of the data directory taken while the
// catalog runs (what kill -9 leaves on disk); the copy is then opened and must hold every mutation
// acknowledged before the copy began. Random inputs are seeded: DFS_TEST_SEED=<seed> replays.

import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { isDfsError } from '../../src/wire/errors';
import { Catalog, type CatalogOptions, type Entry, type SnapshotStep } from '../../src/master/catalog/catalog';
import { nodeDisk, type Disk } from '../../src/store/disk';
import { encodeRecord, readJournal, RECORD_HEADER_BYTES } from '../../src/master/catalog/journal';
import { decodeStatements, encodeStatements } from '../../src/master/catalog/sqljs';
import { prng, seed } from '../helpers/random';

t.comment(`seed ${seed} (replay with DFS_TEST_SEED=${seed})`);

const random = prng(seed);

async function temporary(t: Test, prefix = 'dfs-journal-'): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), prefix));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

/** Opens a catalog in a fresh directory, closed at teardown (closing takes a snapshot). */
async function running(t: Test, options: CatalogOptions = {}): Promise<{ catalog: Catalog; directory: string; owner: number }> {
  const directory = await temporary(t);
  const catalog = await Catalog.open(directory, options);
  t.teardown(() => catalog.close().catch(() => undefined));
  const owner = (await catalog.createUser('alice', null, false)).id;
  return { catalog, directory, owner };
}

/**
 * What kill -9 would leave: a copy of the data directory taken while the catalog runs. The catalog's
 * file operations proceed on other threads meanwhile, so the copy takes journals first and the
 * snapshot last: a journal can only disappear after a newer snapshot is in place, which the copy then
 * gets. The result is a state a crash could have left (a journal copied mid-append is a torn tail).
 */
function copyDataDirectory(directory: string, copy: string): void {
  const names = readdirSync(directory).filter((name) => name.startsWith('journal.'));
  for (const name of [...names, 'catalog.snapshot']) {
    try {
      copyFileSync(path.join(directory, name), path.join(copy, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

async function crashCopy(t: Test, directory: string): Promise<string> {
  const copy = await temporary(t, 'dfs-crash-');
  copyDataDirectory(directory, copy);
  return copy;
}

async function reopen(t: Test, directory: string, options: CatalogOptions = {}): Promise<Catalog> {
  const catalog = await Catalog.open(directory, options);
  t.teardown(() => catalog.close().catch(() => undefined));
  return catalog;
}

function everything(catalog: Catalog, owner: number): Entry[] {
  const entries: Entry[] = [];
  let after: string | undefined;
  do {
    const page = catalog.tree(owner, '/', { after });
    entries.push(...page.items);
    after = page.next;
  } while (after !== undefined);
  return entries;
}

function summary(catalog: Catalog, owner: number): string[] {
  return everything(catalog, owner).map((entry) => `${entry.kind} ${entry.path} ${entry.size} ${entry.blobId ?? ''} ${entry.sha256 ?? ''} ${entry.mtimeMs}`);
}

/** Every directory's size is the total of the files beneath it (a replay that half-applied would break it). */
function sizesConsistent(catalog: Catalog, owner: number): boolean {
  const entries = everything(catalog, owner);
  return entries
    .filter((entry) => entry.kind === 'dir')
    .every(
      (directory) =>
        directory.size ===
        entries
          .filter((entry) => entry.kind === 'file' && (directory.path === '/' || entry.path.startsWith(`${directory.path}/`)))
          .reduce((total, entry) => total + entry.size, 0),
    );
}

function file(size: number, blobId: string): { size: number; blobId: string; sha256: string; overwrite: boolean } {
  return { size, blobId, sha256: Buffer.from(blobId.padEnd(32, '-').slice(0, 32)).toString('hex'), overwrite: true };
}

/** A mix of every kind of mutation, so replay exercises every statement. */
async function workload(catalog: Catalog, owner: number, tag: string): Promise<void> {
  await catalog.mkdir(owner, `/${tag}/a/b`, { parents: true });
  await catalog.createFile(owner, `/${tag}/a/b/f1`, file(100, `${tag}1`));
  await catalog.createFile(owner, `/${tag}/a/f2`, file(20, `${tag}2`));
  await catalog.createFile(owner, `/${tag}/a/f2`, file(25, `${tag}3`)); // overwrite
  await catalog.mkdir(owner, `/${tag}/c`);
  await catalog.move(owner, `/${tag}/a/b`, `/${tag}/c`);
  await catalog.move(owner, `/${tag}/a/f2`, `/${tag}/c/b/f1`); // replaces
  await catalog.createFiles(owner, `/${tag}/a`, [
    { name: 'x', size: 1, blobId: `${tag}x`, sha256: 'aa'.repeat(32) },
    { name: 'y', size: 2, blobId: `${tag}y`, sha256: 'bb'.repeat(32) },
  ]);
  await catalog.remove(owner, `/${tag}/a/x`);
  await catalog.mkdir(owner, `/${tag}/gone/deep`, { parents: true });
  await catalog.remove(owner, `/${tag}/gone`, { recursive: true });
}

function journalFiles(directory: string): string[] {
  return readdirSync(directory)
    .filter((name) => name.startsWith('journal.'))
    .sort();
}

// ---------------------------------------------------------------------------------------------

t.test('records: readJournal gives back what encodeRecord wrote and stops at the first bad byte', async (t) => {
  const directory = await temporary(t);
  const payloads = Array.from({ length: 20 }, (_, index) => Buffer.from(`payload ${index} ${'x'.repeat(Math.floor(random() * 300))}`));
  const bytes = Buffer.concat(payloads.map(encodeRecord));
  const journal = path.join(directory, 'journal.1');
  writeFileSync(journal, bytes);
  const read: string[] = [];
  const scan = await readJournal(journal, (payload) => read.push(payload.toString()));
  t.same(read, payloads.map(String));
  t.same(scan, { goodBytes: bytes.length, fileBytes: bytes.length, records: 20 });

  const boundaries = [0];
  for (const payload of payloads) boundaries.push((boundaries[boundaries.length - 1] as number) + RECORD_HEADER_BYTES + payload.length);
  const lastStart = boundaries[19] as number;
  const wrong: string[] = [];
  for (let cut = lastStart - 40; cut < bytes.length; cut++) {
    writeFileSync(journal, bytes.subarray(0, cut));
    const good = await readJournal(journal, () => undefined);
    const expected = boundaries.filter((boundary) => boundary <= cut).pop();
    if (good.goodBytes !== expected) wrong.push(`cut at ${cut}: good ${good.goodBytes}, expected ${String(expected)}`);
  }
  t.same(wrong, [], 'every truncation point yields exactly the whole records before it');

  const flipped = Buffer.from(bytes);
  const at = lastStart + RECORD_HEADER_BYTES + 3;
  flipped[at] = (flipped[at] as number) ^ 0x01;
  writeFileSync(journal, flipped);
  t.equal((await readJournal(journal, () => undefined)).goodBytes, lastStart, 'a flipped payload bit fails the CRC');
  writeFileSync(journal, Buffer.concat([bytes, Buffer.alloc(4096)]));
  t.match(await readJournal(journal, () => undefined), { goodBytes: bytes.length, records: 20 }, 'a zeroed block is not a record');
  const huge = Buffer.alloc(8);
  huge.writeUInt32LE(0xffffffff, 0);
  writeFileSync(journal, Buffer.concat([bytes, huge]));
  t.equal((await readJournal(journal, () => undefined)).goodBytes, bytes.length, 'an absurd length is a torn tail, not an allocation');
  t.throws(() => encodeRecord(Buffer.alloc(0)), 'an empty record is never written');
});

t.test('statements: the JSON form round-trips BLOBs and refuses anything else', async (t) => {
  const statements = [{ sql: 'INSERT INTO t VALUES (?1, ?2, ?3, ?4)', params: [1, 'text', Buffer.from([0, 255, 7]), null], changed: 1 }];
  const decoded = decodeStatements(encodeStatements(statements));
  t.same(decoded, statements);
  t.ok(Buffer.isBuffer(decoded[0]?.params[2]), 'a BLOB comes back as bytes');
  for (const bad of ['{}', '[["sql"]]', '[["sql", [], 1.5]]', '[["sql", [{"x": 1}], 1]]', '[["sql", [true], 1]]', 'not json']) {
    t.throws(() => decodeStatements(Buffer.from(bad)), bad);
  }
  t.throws(() => encodeStatements([{ sql: 'x', params: [Number.NaN], changed: 0 }]), 'NaN cannot be recorded');
});

t.test('reopen after a crash without any snapshot restores every acknowledged mutation', async (t) => {
  const { catalog, directory, owner } = await running(t);
  await workload(catalog, owner, 'w');
  await catalog.setPassword(owner, { salt: Buffer.from('s'), hash: Buffer.from('h') });
  const bob = await catalog.createUser('bob', null, true);
  await catalog.mkdir(bob.id, '/bobs');
  t.same(journalFiles(directory), ['journal.1']);
  t.notOk(existsSync(path.join(directory, 'catalog.snapshot')), 'no snapshot yet');
  const restored = await reopen(t, await crashCopy(t, directory));
  t.same(summary(restored, owner), summary(catalog, owner));
  t.same(summary(restored, bob.id), summary(catalog, bob.id));
  t.same(restored.listUsers(), catalog.listUsers());
  t.equal(restored.entryCount(), catalog.entryCount());
  t.ok(sizesConsistent(restored, owner));
  await restored.mkdir(owner, '/after-restart');
  t.equal(restored.stat(owner, '/after-restart').kind, 'dir', 'a restored catalog takes new mutations');
});

t.test('reopen after a snapshot and more mutations restores both', async (t) => {
  const { catalog, directory, owner } = await running(t);
  await workload(catalog, owner, 'before');
  await catalog.snapshot();
  t.same(journalFiles(directory), [], 'the snapshot covers journal.1, which is deleted');
  t.equal(catalog.stats().generation, 2);
  await workload(catalog, owner, 'after');
  t.same(journalFiles(directory), ['journal.2']);
  const copy = await crashCopy(t, directory);
  const restored = await reopen(t, copy);
  t.same(summary(restored, owner), summary(catalog, owner));
  t.equal(restored.stats().generation, 2, 'appends continue in the generation that follows the snapshot');
  await restored.mkdir(owner, '/third');
  const again = await reopen(t, await crashCopy(t, copy));
  t.equal(again.entryCount(), catalog.entryCount() + 1, 'and a second crash keeps the mutation made after the first');
});

t.test('a torn tail is cut off: the good prefix is restored and appends continue after it', async (t) => {
  for (const damage of ['truncated by 3 bytes', 'truncated inside the header', 'garbage appended', 'a zeroed block appended'] as const) {
    await t.test(damage, async (t) => {
      const { catalog, directory, owner } = await running(t);
      for (let index = 0; index < 5; index++) await catalog.mkdir(owner, `/m${index}`);
      const copy = await crashCopy(t, directory);
      const journal = path.join(copy, 'journal.1');
      const size = statSync(journal).size;
      if (damage === 'truncated by 3 bytes') truncateSync(journal, size - 3);
      if (damage === 'truncated inside the header') {
        let lastStart = 0;
        let offset = 0;
        await readJournal(journal, (payload) => {
          lastStart = offset;
          offset += RECORD_HEADER_BYTES + payload.length;
        });
        truncateSync(journal, lastStart + 5);
      }
      if (damage === 'garbage appended') appendFileSync(journal, Buffer.from('\x07\x00\x00\x00garbage!'));
      if (damage === 'a zeroed block appended') appendFileSync(journal, Buffer.alloc(4096));
      const restored = await reopen(t, copy);
      const names = restored.list(owner, '/').items.map((entry) => entry.name);
      const expected = damage.startsWith('truncated') ? ['m0', 'm1', 'm2', 'm3'] : ['m0', 'm1', 'm2', 'm3', 'm4'];
      t.same(names, expected, 'every whole record before the damage is applied');
      t.ok(statSync(journal).size <= size, 'the damaged tail is cut off');
      await restored.mkdir(owner, '/z-later');
      const second = await reopen(t, await crashCopy(t, copy));
      t.same(
        second.list(owner, '/').items.map((entry) => entry.name),
        [...expected, 'z-later'],
        'a record appended after the cut is replayed',
      );
    });
  }
});

t.test('a CRC mismatch in the last record stops replay there', async (t) => {
  const { catalog, directory, owner } = await running(t);
  for (let index = 0; index < 4; index++) await catalog.mkdir(owner, `/c${index}`);
  const copy = await crashCopy(t, directory);
  const journal = path.join(copy, 'journal.1');
  const bytes = readFileSync(journal);
  bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 0x20;
  writeFileSync(journal, bytes);
  const restored = await reopen(t, copy);
  t.same(
    restored.list(owner, '/').items.map((entry) => entry.name),
    ['c0', 'c1', 'c2'],
  );
});

t.test('damage that is not a torn tail refuses to start rather than lose data silently', async (t) => {
  await t.test('a damaged journal followed by a later generation', async (t) => {
    const { catalog, directory, owner } = await running(t);
    await catalog.mkdir(owner, '/a');
    await catalog.mkdir(owner, '/b');
    const copy = await crashCopy(t, directory);
    const journal = path.join(copy, 'journal.1');
    truncateSync(journal, statSync(journal).size - 2);
    writeFileSync(path.join(copy, 'journal.2'), encodeRecord(encodeStatements([])));
    await t.rejects(Catalog.open(copy), { code: 'INTERNAL' });
  });
  await t.test('a damaged snapshot', async (t) => {
    const { catalog, directory } = await running(t);
    await catalog.snapshot();
    const copy = await crashCopy(t, directory);
    const snapshot = path.join(copy, 'catalog.snapshot');
    const bytes = readFileSync(snapshot);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0xff;
    writeFileSync(snapshot, bytes);
    await t.rejects(Catalog.open(copy), { code: 'INTERNAL', message: /damaged/ });
  });
  await t.test('journals without the snapshot they follow', async (t) => {
    const { catalog, directory, owner } = await running(t);
    await catalog.snapshot();
    await catalog.mkdir(owner, '/x');
    const copy = await crashCopy(t, directory);
    await rm(path.join(copy, 'catalog.snapshot'));
    await t.rejects(Catalog.open(copy), { code: 'INTERNAL', message: /no snapshot/ });
  });
  await t.test('a checksummed record whose replay diverges', async (t) => {
    const { catalog, directory } = await running(t);
    await catalog.snapshot();
    const copy = await crashCopy(t, directory);
    const record = encodeRecord(encodeStatements([{ sql: 'DELETE FROM entries WHERE id = ?1', params: [987654], changed: 1 }]));
    writeFileSync(path.join(copy, 'journal.2'), record);
    await t.rejects(Catalog.open(copy), { code: 'INTERNAL', message: /diverged/ });
  });
  await t.test('a checksummed record that is not a statement list', async (t) => {
    const directory = await temporary(t);
    writeFileSync(path.join(directory, 'journal.1'), encodeRecord(Buffer.from('{"not":"a list"}')));
    await t.rejects(Catalog.open(directory), { code: 'INTERNAL' });
  });
  await t.test('a stale snapshot temporary is ignored and removed', async (t) => {
    const { catalog, directory, owner } = await running(t);
    await catalog.mkdir(owner, '/kept');
    const copy = await crashCopy(t, directory);
    writeFileSync(path.join(copy, 'catalog.snapshot.tmp'), 'half a snapshot');
    const restored = await reopen(t, copy);
    t.equal(restored.stat(owner, '/kept').kind, 'dir');
    t.notOk(existsSync(path.join(copy, 'catalog.snapshot.tmp')));
  });
});

/** A disk whose journal appends, fsyncs and directory syncs are counted and can be made to fail. */
function instrumentedIO(): Disk & { counts: { appends: number; datasyncs: number; directorySyncs: number }; failNext: 'append' | 'datasync' | undefined; failWith: string } {
  const io = {
    ...nodeDisk,
    counts: { appends: 0, datasyncs: 0, directorySyncs: 0 },
    failNext: undefined as 'append' | 'datasync' | undefined,
    failWith: 'EIO',
    async openAppend(file: string) {
      const inner = await nodeDisk.openAppend(file);
      return {
        append: async (data: Buffer) => {
          io.counts.appends++;
          if (io.failNext === 'append') throw new Error(`injected: ${io.failWith} on write`);
          await inner.append(data);
        },
        datasync: async () => {
          io.counts.datasyncs++;
          if (io.failNext === 'datasync') throw new Error(`injected: ${io.failWith} on fdatasync`);
          await inner.datasync();
        },
        close: () => inner.close(),
      };
    },
    async syncDirectory(directory: string) {
      io.counts.directorySyncs++;
      await nodeDisk.syncDirectory(directory);
    },
  };
  return io;
}

t.test('group commit: 200 concurrent mkdirs share a few fsyncs, and every one is durable', async (t) => {
  const io = instrumentedIO();
  const { catalog, directory, owner } = await running(t, { disk: io });
  const before = { ...io.counts };
  const flushesBefore = catalog.stats().flushes;
  await Promise.all(Array.from({ length: 200 }, (_, index) => catalog.mkdir(owner, `/g${index}`)));
  const flushes = catalog.stats().flushes - flushesBefore;
  t.ok(flushes <= 10, `200 mutations took ${flushes} fsyncs`);
  t.equal(io.counts.datasyncs - before.datasyncs, flushes, 'one fdatasync per flush');
  t.equal(io.counts.appends - before.appends, flushes, 'one write per flush');
  t.comment(`200 concurrent mkdirs: ${flushes} group commits`);
  const restored = await reopen(t, await crashCopy(t, directory));
  t.equal(restored.list(owner, '/').items.length, 200, 'all 200 survive a crash');
});

t.test('a new journal file is made durable in its directory before its records count', async (t) => {
  const io = instrumentedIO();
  const { catalog, owner } = await running(t, { disk: io });
  t.equal(io.counts.directorySyncs, 1, 'journal.1 was created and its directory fsynced');
  await catalog.mkdir(owner, '/one');
  t.equal(io.counts.directorySyncs, 1, 'appending to the same file needs no directory fsync');
  await catalog.snapshot();
  t.equal(io.counts.directorySyncs, 2, 'the snapshot renamed into place and its directory fsynced');
  await catalog.mkdir(owner, '/two');
  t.equal(io.counts.directorySyncs, 3, 'journal.2 was created and its directory fsynced');
});

t.test('a failed write or fsync rolls its changes back, says so, and changes are accepted again once the journal can be written', async (t) => {
  for (const failing of ['datasync', 'append'] as const) {
    await t.test(failing, async (t) => {
      const io = instrumentedIO();
      const lines: string[] = [];
      const log = { debug: (line: string) => lines.push(line), info: (line: string) => lines.push(line), warn: (line: string) => lines.push(line), error: (line: string) => lines.push(line) };
      const { catalog, directory, owner } = await running(t, { disk: io, log });
      await catalog.mkdir(owner, '/ok');
      io.failNext = failing;
      const doomed = [catalog.mkdir(owner, '/doomed1'), catalog.mkdir(owner, '/doomed2')];
      for (const promise of doomed) await t.rejects(promise, { code: 'UNAVAILABLE' }, 'rejected, never acknowledged');
      t.match(lines.join('\n'), /journal write failed: injected: EIO/, 'the failure is logged');
      // While the disk still fails, a change fails cleanly too (and is rolled back again).
      await waitUntil(() => lines.some((line) => /rolled back/.test(line)));
      t.throws(() => catalog.stat(owner, '/doomed1'), { code: 'NOT_FOUND' }, 'the failed change no longer shows');
      t.throws(() => catalog.stat(owner, '/doomed2'), { code: 'NOT_FOUND' }, 'nor the one that shared its flush');
      await t.rejects(catalog.mkdir(owner, '/still-failing'), { code: 'UNAVAILABLE' }, 'a change while the disk still fails is refused');
      await waitUntil(() => lines.filter((line) => /rolled back/.test(line)).length >= 2);
      t.throws(() => catalog.stat(owner, '/still-failing'), { code: 'NOT_FOUND' }, 'and rolled back too');
      io.failNext = undefined;
      await catalog.mkdir(owner, '/later');
      t.equal(catalog.stat(owner, '/later').kind, 'dir', 'once the disk works, changes are accepted again');
      t.equal(catalog.stat(owner, '/ok').kind, 'dir', 'what was acknowledged is still there');
      const restored = await reopen(t, await crashCopy(t, directory));
      t.same(restored.list(owner, '/').items.map((entry) => entry.name).sort(), ['later', 'ok'], 'after a crash: exactly the acknowledged changes');
    });
  }
});

t.test('a disk full under the journal: the change is refused as NO_SPACE', async (t) => {
  const io = instrumentedIO();
  io.failWith = 'ENOSPC: no space left on device, write';
  const { catalog, owner } = await running(t, { disk: io });
  io.failNext = 'append';
  await t.rejects(catalog.mkdir(owner, '/full'), { code: 'NO_SPACE', message: /master's disk is full/ });
});

/** Polls until `condition` holds (5 s at most). */
async function waitUntil(condition: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5_000; !condition() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 5));
}

t.test('crash at every step of a snapshot loses nothing acknowledged', async (t) => {
  let watching = true; // the snapshot that close() takes at teardown is not part of the test
  const { catalog, directory, owner } = await running(t, {
    onSnapshotStep: async (step) => {
      if (!watching) return;
      copies.push({ step, directory: await crashCopy(t, directory), acknowledged: [...acknowledged] });
      // Mutations in flight while the snapshot proceeds; they land in the next generation.
      for (let index = 0; index < 5; index++) track(`/during-${step}-${index}`);
    },
  });
  const acknowledged: string[] = [];
  const copies: { step: SnapshotStep | 'after'; directory: string; acknowledged: string[] }[] = [];
  const inFlight: Promise<void>[] = [];
  const track = (target: string): void => {
    inFlight.push(catalog.mkdir(owner, target).then(() => void acknowledged.push(target)));
  };
  for (let index = 0; index < 20; index++) await catalog.mkdir(owner, `/before-${index}`).then(() => acknowledged.push(`/before-${index}`));
  await catalog.createFile(owner, '/before-0/f', file(10, 'f'));
  for (let index = 0; index < 10; index++) track(`/racing-${index}`); // queued when the export happens
  await catalog.snapshot();
  await Promise.all(inFlight);
  copies.push({ step: 'after', directory: await crashCopy(t, directory), acknowledged: [...acknowledged] });
  watching = false;
  t.same(
    copies.map((copy) => copy.step),
    ['exported', 'written', 'renamed', 'cleaned', 'after'],
  );
  for (const copy of copies) {
    const restored = await reopen(t, copy.directory);
    const present = new Set(restored.list(owner, '/').items.map((entry) => entry.path));
    const lost = copy.acknowledged.filter((target) => !present.has(target));
    t.same(lost, [], `crash after "${copy.step}": ${copy.acknowledged.length} acknowledged, none lost`);
    t.ok(sizesConsistent(restored, owner), `crash after "${copy.step}": sizes consistent`);
    t.equal(restored.stat(owner, '/').size, 10, `crash after "${copy.step}": nothing applied twice`);
  }
});

t.test(`crash at arbitrary moments with automatic snapshots loses nothing acknowledged (seed ${seed})`, async (t) => {
  const { catalog, directory, owner } = await running(t, { journalBytesMax: 8 * 1024 });
  const acknowledged: string[] = [];
  const copies: { directory: string; acknowledged: string[] }[] = [];
  let stop = false;
  const crasher = (async () => {
    while (!stop) {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 15)));
      const snapshotOf = [...acknowledged];
      const copy = await temporary(t, 'dfs-crash-');
      copyDataDirectory(directory, copy);
      copies.push({ directory: copy, acknowledged: snapshotOf });
    }
  })();
  const writers = Array.from({ length: 4 }, async (_, worker) => {
    for (let index = 0; index < 150; index++) {
      const target = `/w${worker}-${index}`;
      if (random() < 0.3) await catalog.createFile(owner, target, file(index, `b${worker}-${index}`));
      else await catalog.mkdir(owner, target);
      acknowledged.push(target);
    }
  });
  await Promise.all(writers);
  stop = true;
  await crasher;
  t.ok(catalog.stats().snapshots >= 2, `${catalog.stats().snapshots} automatic snapshots were taken`);
  t.ok(journalFiles(directory).length <= 2, 'old journals are deleted');
  let checked = 0;
  for (const copy of copies) {
    const restored = await Catalog.open(copy.directory);
    const present = new Set(everything(restored, owner).map((entry) => entry.path));
    const lost = copy.acknowledged.filter((target) => !present.has(target));
    if (lost.length > 0) t.fail(`a crash copy lost ${lost.length} acknowledged mutations, e.g. ${lost[0]}`);
    if (!sizesConsistent(restored, owner)) t.fail('a crash copy has inconsistent sizes');
    await restored.close();
    checked++;
  }
  t.ok(checked >= 5, `${checked} crash copies opened, each with everything acknowledged before it`);
  const final = await reopen(t, await crashCopy(t, directory));
  t.equal(final.entryCount(), catalog.entryCount(), 'the final state survives whole');
});

t.test('automatic snapshots start past the byte or the record limit, in the background', async (t) => {
  const byRecords = await running(t, { journalRecordsMax: 50 });
  for (let index = 0; index < 60; index++) await byRecords.catalog.mkdir(byRecords.owner, `/r${index}`);
  await byRecords.catalog.snapshot(); // waits for a background one in progress, then takes its own
  t.ok(byRecords.catalog.stats().snapshots >= 2, 'one was started by the record limit');
  const byBytes = await running(t, { journalBytesMax: 4096 });
  for (let index = 0; index < 60; index++) await byBytes.catalog.mkdir(byBytes.owner, `/b${index}`);
  await byBytes.catalog.snapshot();
  t.ok(byBytes.catalog.stats().snapshots >= 2, 'one was started by the byte limit');
  const neither = await running(t);
  for (let index = 0; index < 60; index++) await neither.catalog.mkdir(neither.owner, `/n${index}`);
  t.equal(neither.catalog.stats().snapshots, 0, 'below both limits, none');
  t.equal(neither.catalog.stats().journalRecords, 61, 'the user and 60 mkdirs');
  const restored = await reopen(t, await crashCopy(t, neither.directory));
  t.equal(restored.stats().journalRecords, 61, 'a restart counts the records it replayed');
});

t.test('snapshots never overlap, and close takes one', async (t) => {
  let active = 0;
  let overlapped = false;
  const { catalog, directory, owner } = await running(t, {
    onSnapshotStep: async (step) => {
      if (step === 'exported') active++;
      if (active > 1) overlapped = true;
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (step === 'cleaned') active--;
    },
  });
  await catalog.mkdir(owner, '/x');
  await Promise.all([catalog.snapshot(), catalog.snapshot(), catalog.snapshot()]);
  t.notOk(overlapped, 'one snapshot at a time');
  t.equal(catalog.stats().snapshots, 3);
  await catalog.mkdir(owner, '/y');
  await catalog.close();
  t.same(journalFiles(directory), [], 'close snapshots and leaves no journal to replay');
  await t.rejects(catalog.mkdir(owner, '/z'), { code: 'UNAVAILABLE' });
  t.throws(() => catalog.stat(owner, '/'), { code: 'UNAVAILABLE' });
  const restored = await reopen(t, directory);
  t.same(
    restored.list(owner, '/').items.map((entry) => entry.name),
    ['x', 'y'],
  );
});

t.test('errors: a mutation refused by the rules journals nothing and changes nothing', async (t) => {
  const { catalog, directory, owner } = await running(t);
  await catalog.mkdir(owner, '/d');
  const records = catalog.stats().records;
  const attempts = [
    () => catalog.mkdir(owner, '/d'),
    () => catalog.createFile(owner, '/missing/f', file(1, 'x')),
    () => catalog.remove(owner, '/nothing'),
    () => catalog.move(owner, '/d', '/d/inside'),
    () => catalog.createFiles(owner, '/d', [
      { name: 'dup', size: 1, blobId: 'a', sha256: 'aa'.repeat(32) },
      { name: 'dup', size: 1, blobId: 'b', sha256: 'aa'.repeat(32) },
    ]),
  ];
  for (const attempt of attempts) {
    try {
      await attempt();
      t.fail('should have been refused');
    } catch (error) {
      t.ok(isDfsError(error), 'refused with a DfsError');
    }
  }
  t.equal(catalog.stats().records, records, 'nothing journaled');
  const restored = await reopen(t, await crashCopy(t, directory));
  t.same(summary(restored, owner), summary(catalog, owner));
});
