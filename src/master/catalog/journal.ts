// The catalog's journal on disk: record framing, reading a generation back (stopping at a torn
// tail), the journal files of a data directory, and the writer with group commit. Records are
// opaque bytes here; what they mean is the catalog's business.
//
// A record is [u32 payload length][u32 CRC32 of the payload][payload], little-endian. Journal
// generations are files `journal.<generation>`; a snapshot names the generation that follows it.

import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { JOURNAL_BATCH_BYTES_MAX, JOURNAL_READ_CHUNK_BYTES, JOURNAL_RECORD_BYTES_MAX } from '../../limits';
import { nodeDisk, type AppendFile, type Disk } from '../../store/disk';

export const RECORD_HEADER_BYTES = 8;
const JOURNAL_FILE = /^journal\.([1-9][0-9]{0,14})$/;

export function journalFileName(generation: number): string {
  return `journal.${generation}`;
}

/** The journal generations present in `directory`, ascending. */
export async function listJournalGenerations(directory: string, disk: Disk = nodeDisk): Promise<number[]> {
  const generations: number[] = [];
  for (const name of await disk.list(directory)) {
    const match = JOURNAL_FILE.exec(name);
    if (match?.[1] !== undefined) generations.push(Number(match[1]));
  }
  return generations.sort((a, b) => a - b);
}

export function encodeRecord(payload: Buffer): Buffer {
  if (payload.length === 0 || payload.length > JOURNAL_RECORD_BYTES_MAX) {
    throw new Error(`journal: a record of ${payload.length} bytes is outside 1..${JOURNAL_RECORD_BYTES_MAX}`);
  }
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32(payload), 4);
  payload.copy(record, RECORD_HEADER_BYTES);
  return record;
}

export interface JournalScan {
  /** Bytes of whole, checksummed records from the start of the file. */
  goodBytes: number;
  fileBytes: number;
  records: number;
}

/**
 * Reads the records of one journal file in order, calling `visit` with each payload (a view valid
 * only during the call), and stops at the first record that is short, oversized, empty or fails its
 * CRC: a torn tail. Everything before it is returned as good.
 */
export async function readJournal(file: string, visit: (payload: Buffer) => void, disk: Disk = nodeDisk): Promise<JournalScan> {
  const handle = await disk.openRead(file);
  try {
    const fileBytes = handle.size;
    let buffer = Buffer.alloc(0); // read but not yet consumed
    let offset = 0; // file offset of buffer[0]
    let readPosition = 0;
    let records = 0;
    // Reads until `buffer` holds `bytes` bytes or the file ends.
    const fill = async (bytes: number): Promise<boolean> => {
      while (buffer.length < bytes && readPosition < fileBytes) {
        const size = Math.min(Math.max(JOURNAL_READ_CHUNK_BYTES, bytes - buffer.length), fileBytes - readPosition);
        const chunk = Buffer.allocUnsafe(size);
        const bytesRead = await handle.read(chunk, size, readPosition);
        if (bytesRead === 0) break;
        readPosition += bytesRead;
        buffer = buffer.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([buffer, chunk.subarray(0, bytesRead)]);
      }
      return buffer.length >= bytes;
    };
    for (;;) {
      const torn = { goodBytes: offset, fileBytes, records };
      if (!(await fill(RECORD_HEADER_BYTES))) return torn;
      const length = buffer.readUInt32LE(0);
      const checksum = buffer.readUInt32LE(4);
      // A zero length is refused: a crash can leave zeroed blocks, and CRC32 of nothing is 0.
      if (length === 0 || length > JOURNAL_RECORD_BYTES_MAX || offset + RECORD_HEADER_BYTES + length > fileBytes) return torn;
      if (!(await fill(RECORD_HEADER_BYTES + length))) return torn;
      const payload = buffer.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + length);
      if (crc32(payload) !== checksum) return torn;
      visit(payload);
      records++;
      buffer = buffer.subarray(RECORD_HEADER_BYTES + length);
      offset += RECORD_HEADER_BYTES + length;
    }
  } finally {
    await handle.close();
  }
}


// ---------------------------------------------------------------------------------------------
// Writing.

export interface JournalStats {
  /** Group commits done: one write and one fdatasync each. */
  flushes: number;
  /** Records made durable. */
  records: number;
  /** Seconds spent writing and fdatasync'ing them, summed over the flushes. */
  syncSeconds: number;
}

interface Pending {
  record: Buffer;
  generation: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Appends records to the current generation with group commit: while one write + fdatasync is in
 * flight, new records queue; the next flush writes them all with one write and one fdatasync, and
 * each append's promise resolves after the fsync that covers it. A failed write or fsync is fatal:
 * its records and every later one are rejected, never acknowledged.
 */
export class JournalWriter {
  readonly stats: JournalStats = { flushes: 0, records: 0, syncSeconds: 0 };
  private readonly queue: Pending[] = [];
  private backlog = 0;
  private flushing = false;
  private failure: Error | undefined;
  private file: AppendFile | undefined;
  private fileGeneration = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Per generation, the bytes known durable: what the file held at the start, plus every flush whose fsync succeeded. */
  private readonly durable = new Map<number, number>();

  private readonly directory: string;
  private readonly disk: Disk;
  private currentGeneration: number;
  private currentBytes: number;
  private currentRecords: number;

  /** `generation` is where appends go; `bytes` and `records` are what it already holds (after a torn tail was cut). */
  constructor(start: { directory: string; generation: number; bytes: number; records: number; disk?: Disk | undefined }) {
    this.directory = start.directory;
    this.disk = start.disk ?? nodeDisk;
    this.currentGeneration = start.generation;
    this.currentBytes = start.bytes;
    this.currentRecords = start.records;
    this.durable.set(start.generation, start.bytes);
  }

  /** The bytes of each generation's file known durable. After a failure, anything past them may hold records that
   * were never acknowledged (a write that failed half-way, or whose fsync failed): they are to be cut off. */
  get durableBytes(): ReadonlyMap<number, number> {
    return this.durable;
  }

  get generation(): number {
    return this.currentGeneration;
  }

  /** Size the current generation's file will have once everything queued is written. */
  get bytes(): number {
    return this.currentBytes;
  }

  /** Records in the current generation (what a restart now would replay from it). */
  get records(): number {
    return this.currentRecords;
  }

  /** Bytes queued and not yet durable. */
  get backlogBytes(): number {
    return this.backlog;
  }

  /** The error that stopped the journal, if one did. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Resolves once `payload` is durable in the journal. */
  append(payload: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const record = encodeRecord(payload);
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({ record, generation: this.currentGeneration, resolve, reject });
    });
    this.backlog += record.length;
    this.currentBytes += record.length;
    this.currentRecords++;
    this.tail = done;
    this.startFlushing();
    return done;
  }

  /** Later appends go to `generation`; what is already queued still goes to its own file. */
  rotate(generation: number): void {
    if (generation <= this.currentGeneration) throw new Error(`journal: generation ${generation} does not follow ${this.currentGeneration}`);
    this.currentGeneration = generation;
    this.currentBytes = 0;
    this.currentRecords = 0;
  }

  /** Resolves when everything appended so far is durable; rejects if the journal failed. */
  barrier(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return this.tail;
  }

  async close(): Promise<void> {
    await this.barrier().catch(() => undefined);
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private startFlushing(): void {
    if (this.flushing) return;
    this.flushing = true;
    void this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 && !this.failure) {
      const batch = this.takeBatch();
      const generation = batch[0]?.generation ?? this.currentGeneration;
      try {
        const file = await this.fileFor(generation);
        const started = process.hrtime.bigint();
        await file.append(batch.length === 1 ? (batch[0] as Pending).record : Buffer.concat(batch.map((item) => item.record)));
        await file.datasync();
        this.stats.syncSeconds += Number(process.hrtime.bigint() - started) / 1e9;
      } catch (error) {
        this.fail(error, batch);
        break;
      }
      this.durable.set(generation, (this.durable.get(generation) ?? 0) + batch.reduce((sum, item) => sum + item.record.length, 0));
      this.stats.flushes++;
      this.stats.records += batch.length;
      for (const item of batch) {
        this.backlog -= item.record.length;
        item.resolve();
      }
    }
    this.flushing = false;
  }

  /** The oldest queued records of one generation, up to JOURNAL_BATCH_BYTES_MAX (at least one). */
  private takeBatch(): Pending[] {
    const first = this.queue[0];
    let bytes = 0;
    let count = 0;
    for (const item of this.queue) {
      if (item.generation !== first?.generation) break;
      if (count > 0 && bytes + item.record.length > JOURNAL_BATCH_BYTES_MAX) break;
      bytes += item.record.length;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async fileFor(generation: number): Promise<AppendFile> {
    if (this.file && this.fileGeneration === generation) return this.file;
    const previous = this.file;
    this.file = undefined;
    await previous?.close();
    const file = await this.disk.openAppend(path.join(this.directory, journalFileName(generation)));
    // The file may be new: its directory entry must be durable before its records count.
    await this.disk.syncDirectory(this.directory);
    this.file = file;
    this.fileGeneration = generation;
    return file;
  }

  private fail(cause: unknown, batch: Pending[]): void {
    const reason = cause instanceof Error ? cause.message : String(cause);
    this.failure = new Error(`journal write failed: ${reason}`);
    for (const item of [...batch, ...this.queue.splice(0)]) item.reject(this.failure);
    this.backlog = 0;
    const file = this.file;
    this.file = undefined;
    void file?.close().catch(() => undefined);
  }
}
