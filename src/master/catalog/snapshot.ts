// The catalog on disk: a snapshot (an SQLite image with a checksummed header) and the journals that
// follow it. Writing a snapshot, loading the durable state at start-up (the snapshot with
// its journals replayed, a torn tail cut), and cutting what a failed journal write left unacknowledged.
// The bytes of a journal are journal.ts's; when a snapshot is taken is catalog.ts's.

import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { JOURNAL_REPLAY_RECORDS_PER_TRANSACTION } from '../../limits';
import { DfsError } from '../../wire/errors';
import { SNAPSHOT_FILE } from '../../wire/messages';
import type { Disk } from '../../store/disk';
import { describe } from './core';
import { JournalWriter, journalFileName, listJournalGenerations, readJournal, type JournalScan } from './journal';
import { INDEXES_MADE_AT_OPEN, integer, MIGRATE_1_TO_2, MIGRATE_2_TO_3, MIGRATE_3_TO_4, MIGRATE_4_TO_5, SCHEMA, SCHEMA_VERSION, SQL } from './schema';
import { decodeStatements, loadSqlJs, SqlDatabase, type RecordedStatement } from './sqljs';

export type SnapshotStep = 'exported' | 'written' | 'renamed' | 'cleaned';

const SNAPSHOT_TEMPORARY_FILE = 'catalog.snapshot.tmp';
/** A snapshot file is [magic 8][u32 CRC32 of the image][u32 0][SQLite image]. */
const SNAPSHOT_MAGIC = Buffer.from('DFSCAT01');
const SNAPSHOT_HEADER_BYTES = 16;

/** Where a snapshot goes, and who hears of its steps. */
export interface SnapshotTarget {
  directory: string;
  disk: Disk;
  /** The writer already rotated to `generation`: the journals before it are deleted once they are idle. */
  journal: JournalWriter;
  /** Called after each step; tests copy the data directory here to simulate crashes. */
  onStep: ((step: SnapshotStep) => void | Promise<void>) | undefined;
  /** The new snapshot is in place (before the 'renamed' step is reported). */
  onRenamed: () => void;
}

/**
 * Exports the database now and switches appends to the next journal generation, synchronously: no change
 * falls between the image and the journal that follows it.
 */
export function exportSnapshot(db: SqlDatabase, journal: JournalWriter): { image: Uint8Array; generation: number } {
  const generation = journal.generation + 1;
  // Not journaled: it only means something inside the snapshot (which journals follow it).
  db.script(`UPDATE meta SET value = ${generation} WHERE key = 'generation'`);
  const image = db.export();
  journal.rotate(generation);
  return { image, generation };
}

/** A snapshot file's bytes: its header (with the image's CRC32), then the image. */
export function snapshotFile(image: Uint8Array): Buffer[] {
  const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  SNAPSHOT_MAGIC.copy(header, 0);
  header.writeUInt32LE(crc32(image), SNAPSHOT_MAGIC.length);
  return [header, Buffer.from(image.buffer, image.byteOffset, image.byteLength)];
}

/**
 * Writes `image` (exported at `generation`) to catalog.snapshot.tmp, fsyncs, renames it over
 * catalog.snapshot, fsyncs the directory and deletes the journals it covers.
 */
export async function persistSnapshot(target: SnapshotTarget, image: Uint8Array, generation: number): Promise<void> {
  const { directory, disk, journal, onStep } = target;
  await onStep?.('exported');
  const temporary = path.join(directory, SNAPSHOT_TEMPORARY_FILE);
  await disk.writeDurable(temporary, snapshotFile(image));
  await onStep?.('written');
  await disk.rename(temporary, path.join(directory, SNAPSHOT_FILE));
  await disk.syncDirectory(directory);
  target.onRenamed();
  await onStep?.('renamed');
  // Older journals are covered by the snapshot; wait until nothing is still being written to them.
  await journal.barrier().catch(() => undefined);
  for (const old of await listJournalGenerations(directory, disk)) {
    if (old < generation) await disk.remove(path.join(directory, journalFileName(old)));
  }
  await onStep?.('cleaned');
}

/** Cuts each journal file back to the bytes known durable: a failed write may have left part of a record, a failed
 * fsync whole records in the page cache, none of them acknowledged, none to be replayed. */
export async function cutUnacknowledged(directory: string, durable: ReadonlyMap<number, number>, disk: Disk): Promise<void> {
  const firstKnown = Math.min(...durable.keys());
  for (const generation of await listJournalGenerations(directory, disk)) {
    if (generation < firstKnown) continue;
    const file = path.join(directory, journalFileName(generation));
    const bytes = durable.get(generation) ?? 0;
    const handle = await disk.openRead(file);
    const size = handle.size;
    await handle.close();
    if (size > bytes) await disk.truncate(file, bytes);
  }
}

/** The catalog as it is on disk: the snapshot (if any) with the journals after it replayed, a torn tail cut. */
export async function loadDurable(directory: string, disk: Disk): Promise<{ db: SqlDatabase; journal: JournalWriter }> {
  await disk.remove(path.join(directory, SNAPSHOT_TEMPORARY_FILE)); // a crash mid-snapshot
  const sql = await loadSqlJs();
  const image = await readSnapshot(directory, disk);
  const db = SqlDatabase.open(sql, image);
  try {
    if (image === undefined) db.script(SCHEMA);
    if (db.first(SQL.meta, ['schema'])?.[0] === 1) db.script(MIGRATE_1_TO_2);
    if (db.first(SQL.meta, ['schema'])?.[0] === 2) db.script(MIGRATE_2_TO_3);
    if (db.first(SQL.meta, ['schema'])?.[0] === 3) db.script(MIGRATE_3_TO_4);
    if (db.first(SQL.meta, ['schema'])?.[0] === 4) db.script(MIGRATE_4_TO_5);
    db.script(INDEXES_MADE_AT_OPEN);
    const schema = db.first(SQL.meta, ['schema'])?.[0];
    if (schema !== SCHEMA_VERSION) throw new DfsError('INTERNAL', `catalog snapshot has schema ${String(schema)}, expected ${SCHEMA_VERSION}`);
    const first = integer(db.first(SQL.meta, ['generation'])?.[0]);
    const journal = await replayJournals(directory, db, first, image !== undefined, disk);
    return { db, journal };
  } catch (error) {
    db.close();
    throw error;
  }
}

async function readSnapshot(directory: string, disk: Disk): Promise<Uint8Array | undefined> {
  const bytes = await disk.readWhole(path.join(directory, SNAPSHOT_FILE));
  if (bytes === undefined) return undefined;
  const image = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  const intact =
    bytes.length > SNAPSHOT_HEADER_BYTES &&
    bytes.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC) &&
    bytes.readUInt32LE(SNAPSHOT_MAGIC.length) === crc32(image);
  if (!intact) throw new DfsError('INTERNAL', `${path.join(directory, SNAPSHOT_FILE)} is damaged (bad header or checksum)`);
  return image;
}

/** Replays journals `first`, `first`+1, ... in order; deletes older ones; returns a writer for the last. */
async function replayJournals(directory: string, db: SqlDatabase, first: number, fromSnapshot: boolean, disk: Disk): Promise<JournalWriter> {
  const generations = await listJournalGenerations(directory, disk);
  for (const old of generations.filter((generation) => generation < first)) {
    await disk.remove(path.join(directory, journalFileName(old))); // covered by the snapshot
  }
  const replayable = generations.filter((generation) => generation >= first);
  if (!fromSnapshot && replayable.length > 0 && replayable[0] !== first) {
    throw new DfsError('INTERNAL', `catalog: no snapshot, but the journals start at generation ${String(replayable[0])}`);
  }
  let current = { generation: first, bytes: 0, records: 0 };
  for (const [index, generation] of replayable.entries()) {
    const file = path.join(directory, journalFileName(generation));
    const scan = await replayJournal(db, file, disk);
    if (scan.goodBytes < scan.fileBytes) {
      // Only the last generation can have a torn tail: a later file is created after an fsync of this one.
      if (index < replayable.length - 1) throw new DfsError('INTERNAL', `${file} is damaged at byte ${scan.goodBytes} and later journals exist`);
      await disk.truncate(file, scan.goodBytes);
    }
    current = { generation, bytes: scan.goodBytes, records: scan.records };
  }
  return new JournalWriter({ directory, ...current, disk });
}

async function replayJournal(db: SqlDatabase, file: string, disk: Disk): Promise<JournalScan> {
  let batch: RecordedStatement[][] = [];
  const flush = (): void => {
    try {
      if (batch.length > 0) db.replay(batch);
    } catch (error) {
      throw new DfsError('INTERNAL', `${file}: replay failed: ${describe(error)}`);
    }
    batch = [];
  };
  const scan = await readJournal(file, (payload) => {
    try {
      batch.push(decodeStatements(payload));
    } catch (error) {
      // The checksum matched, so these are the bytes we wrote: not a torn tail but a bug or tampering.
      throw new DfsError('INTERNAL', `${file}: a checksummed record is not a statement list: ${describe(error)}`);
    }
    if (batch.length >= JOURNAL_REPLAY_RECORDS_PER_TRANSACTION) flush();
  }, disk);
  flush();
  return scan;
}
