// A storage node's blob store: immutable blobs under master-chosen random ids (never user paths),
// written through a temp file while hashed, fsynced and renamed into place; read back with the hash
// checked; counted and sized in memory so free space is known without touching the disk.
//
// Layout under <dataDir>/blobs/:
//   <id[0..2]>/<id>.<size>.<sha256>   a blob; 256 fan-out directories keep directories small
//   tmp/<id>.<random>                 a blob being written (same filesystem, so rename is atomic)
//
// Why the size and hash live in the file name (rather than a sidecar <id>.meta): one rename makes
// the bytes and their metadata appear together, so a crash leaves either nothing or a whole blob,
// never a blob without meta or meta without a blob; a commit costs one file fsync and one
// directory fsync (a sidecar adds a second file and fsync); and opening a store with a million
// blobs is readdir + stat, not a million small reads. Anything in a fan-out directory that is not
// a well-formed name whose file size matches is treated as absent and removed at open.

import { createHash, randomBytes, type Hash } from 'node:crypto';
import { close, fdatasync, open, promises as fs, rename, unlink, write } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { BLOB_COALESCE_BELOW_BYTES, BLOB_RESERVE_BYTES_DEFAULT, BLOB_SCAN_PARALLEL, BLOB_SYNC_BEHIND_BYTES, BLOB_WRITE_IN_FLIGHT_BYTES, chunkBytesFor, IO_CHUNK_BYTES, SCRUB_CHUNK_BYTES } from '../limits';
import { FileRegion } from '../streams';
import { DfsError } from '../wire/errors';
import { syncDirectory } from './files';

// The write path uses descriptors and fs's callback calls: per small blob it makes five thread-pool round
// trips (and shares its directory's fsync), and FileHandle's promise machinery cost more CPU than the calls
// themselves (measured: ~70 µs less per 4 KiB blob without it). A writer never lets a pwrite outlive its
// descriptor (see drain()).
const fdIo = {
  open: promisify(open),
  write: promisify(write),
  fdatasync: promisify(fdatasync),
  close: promisify(close),
  rename: promisify(rename),
  /** Removes a file if it is there. */
  unlink: (file: string): Promise<void> => promisify(unlink)(file).catch((error: unknown) => {
    if (errorCode(error) !== 'ENOENT') throw error;
  }),
};

/** Temp file names only need to differ within this process (the store's lock keeps other processes out, and
 * open clears tmp/): a counter, not a random-bytes call per blob. */
let temporaries = 0;

export interface BlobInfo {
  readonly id: string;
  readonly size: number;
  readonly sha256: string;
}

export interface BlobStoreOptions {
  /** --capacity: bytes of blobs this node may hold; undefined means "what the disk has". */
  capacityBytes?: number;
  /** Disk space left free for everything else; defaults to BLOB_RESERVE_BYTES_DEFAULT. */
  reserveBytes?: number;
  /** Told about anything removed at open (crash leftovers, damaged names). */
  log?: (message: string) => void;
}

export interface BlobReader {
  size: number;
  sha256: string;
  stream: Readable;
}

export interface BlobWriter {
  /** Hashes and writes the chunk (no copy for chunks of BLOB_COALESCE_BELOW_BYTES or more); resolves
   * when the writer can take more (back-pressure: await it). The chunk must not be changed afterwards. */
  write(chunk: Buffer): Promise<void>;
  /** Checks size and hash, fsyncs, renames into place, fsyncs the directory. On any failure (BAD_REQUEST
   * for a wrong size, CORRUPT for a wrong hash) the writer is aborted: nothing is left behind. */
  commit(): Promise<{ sha256: string; size: number }>;
  /** Removes the temp file and releases the reserved space; idempotent, a no-op after commit. */
  abort(): Promise<void>;
}

export interface VerifyOptions {
  /** Re-hash at most this many bytes a second (a scrub beside users' transfers); full speed if absent. */
  bytesPerSecond?: number;
  /** Stops the re-hash between two chunks: verify rejects with the signal's reason. */
  signal?: AbortSignal;
}

const BLOB_ID = /^[0-9a-f]{32}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const BLOB_NAME = /^([0-9a-f]{32})\.(0|[1-9][0-9]{0,15})\.([0-9a-f]{64})$/;
const TEMPORARY_DIRECTORY = 'tmp';
const FAN_OUT = Array.from({ length: 256 }, (_, index) => index.toString(16).padStart(2, '0'));

/** 32 lowercase hex characters and nothing else: the only shape that can never leave the store's directory. */
export function isBlobId(value: unknown): value is string {
  return typeof value === 'string' && BLOB_ID.test(value);
}

/** A new blob id (128 random bits); the master chooses them. With `like`, it shares that id's first byte
 * (its fan-out directory) and has 120 random bits: a batch's blobs then land in one directory on every node,
 * whose fsync their commits share, instead of one directory fsync per blob. */
export function createBlobId(like?: string): string {
  const bytes = randomBytes(16);
  if (like !== undefined) bytes[0] = Number.parseInt(like.slice(0, 2), 16);
  return bytes.toString('hex');
}

function checkBlobId(id: unknown): asserts id is string {
  if (!isBlobId(id)) throw new DfsError('BAD_REQUEST', 'malformed blob id: expected 32 lowercase hex characters');
}

function checkByteCount(value: unknown, what: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new DfsError('BAD_REQUEST', `${what} must be a whole number of bytes`);
  }
}

function blobFileName(info: BlobInfo): string {
  return `${info.id}.${info.size}.${info.sha256}`;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** A disk that fills up mid-write is a NO_SPACE the peer should see; other I/O errors stay internal. */
function asStoreError(error: unknown): Error {
  const code = errorCode(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new DfsError('NO_SPACE', 'the node\'s disk is full');
  if (code === 'EROFS') return new DfsError('UNAVAILABLE', 'this node\'s disk is read-only (EROFS): it takes no new blobs');
  return error instanceof Error ? error : new Error(String(error));
}

/** Space held for a write in progress: its declared size, and how much of it already is on disk. */
interface Reservation {
  readonly id: string;
  readonly size: number;
  bytesOnDisk: number;
}

export class BlobStore {
  private readonly blobs = new Map<string, BlobInfo>();
  private readOnly = false;
  private readonly reservations = new Map<string, Reservation>();
  private readonly directorySyncs = new Map<string, DirectorySyncs>();
  private used = 0;

  private constructor(
    private readonly root: string,
    private capacityBytes: number | undefined,
    private readonly reserveBytes: number,
    private readonly log: (message: string) => void,
  ) {}

  /** The cap on the space offered (--capacity); undefined offers the whole disk. */
  get capacityLimitBytes(): number | undefined {
    return this.capacityBytes;
  }

  /** A new cap on the space offered (a reload, SIGHUP); undefined offers the whole disk. Blobs held stay. */
  setCapacity(capacityBytes: number | undefined): void {
    if (capacityBytes !== undefined) checkByteCount(capacityBytes, 'capacity');
    this.capacityBytes = capacityBytes;
  }

  /** Opens (creating if needed) the store under dataDir: removes crash leftovers and counts the blobs by name and size. */
  static async open(dataDir: string, options: BlobStoreOptions = {}): Promise<BlobStore> {
    if (options.capacityBytes !== undefined) checkByteCount(options.capacityBytes, 'capacity');
    const reserveBytes = options.reserveBytes ?? BLOB_RESERVE_BYTES_DEFAULT;
    checkByteCount(reserveBytes, 'reserve');
    const root = path.join(dataDir, 'blobs');
    const store = new BlobStore(root, options.capacityBytes, reserveBytes, options.log ?? (() => undefined));
    await fs.mkdir(path.join(root, TEMPORARY_DIRECTORY), { recursive: true, mode: 0o700 });
    await store.removeTemporaries();
    for (const prefix of FAN_OUT) await store.scanFanOut(prefix);
    // The fan-out directories just made must survive a crash before any blob is renamed into them.
    await syncDirectory(root);
    return store;
  }

  get usedBytes(): number {
    return this.used;
  }

  get count(): number {
    return this.blobs.size;
  }

  /** What a new blob may still take: min(capacity − used − reserved, disk free − reserve − reserved but unwritten);
   * nothing while the disk is read-only. */
  async freeBytes(): Promise<number> {
    if (this.readOnly && !(await this.writableAgain())) return 0;
    return Math.max(0, await this.available());
  }

  /** Whether the disk refused a write as read-only (EROFS) and has not taken one since: the node reports it, and
   * the master places nothing here meanwhile. */
  get writable(): boolean {
    return !this.readOnly;
  }

  /** A read-only disk may be remounted writable: a small file written and removed says so. */
  private async writableAgain(): Promise<boolean> {
    const probe = path.join(this.root, TEMPORARY_DIRECTORY, '.writable');
    try {
      await fs.writeFile(probe, '');
      await fs.rm(probe, { force: true });
    } catch {
      return false;
    }
    this.readOnly = false;
    this.log('the disk takes writes again');
    return true;
  }

  has(id: string): boolean {
    return this.blobs.has(id);
  }

  info(id: string): BlobInfo | undefined {
    return this.blobs.get(id);
  }

  /** Every blob held (for block reports); blobs being written are not listed until committed. */
  list(): Iterable<BlobInfo> {
    return this.blobs.values();
  }

  /** Refuses with NO_SPACE before accepting a byte if `size` cannot fit, and holds the space while writing. */
  async createWriter(id: string, size: number, expectedSha256?: string): Promise<BlobWriter> {
    if (expectedSha256 !== undefined && !SHA256_HEX.test(expectedSha256)) {
      throw new DfsError('BAD_REQUEST', 'malformed SHA-256: expected 64 lowercase hex characters');
    }
    const [writer] = await this.createWriters([{ id, size }], expectedSha256);
    if (!writer) throw new Error('blob store: a writer went missing');
    return writer;
  }

  /** Writers for several blobs at once (a batch of small files): one space check for them all, NO_SPACE
   * before a byte is accepted; their files opened together. All or none. */
  async createWriters(blobs: readonly { id: string; size: number }[], expectedSha256?: string): Promise<BlobWriter[]> {
    for (const { id, size } of blobs) {
      checkBlobId(id);
      checkByteCount(size, 'blob size');
      if (this.blobs.has(id) || this.reservations.has(id)) throw new DfsError('EXISTS', `blob ${id} exists (blobs are immutable)`);
    }
    if (new Set(blobs.map((blob) => blob.id)).size !== blobs.length) throw new DfsError('BAD_REQUEST', 'a blob appears twice');
    // Reserve first, measure second: writers created concurrently then see each other's reservations.
    const reservations: Reservation[] = blobs.map(({ id, size }) => ({ id, size, bytesOnDisk: 0 }));
    for (const reservation of reservations) this.reservations.set(reservation.id, reservation);
    const descriptors: (number | undefined)[] = [];
    const temporaryFiles = blobs.map(({ id }) => path.join(this.root, TEMPORARY_DIRECTORY, `${id}.${++temporaries}`));
    try {
      const total = blobs.reduce((sum, blob) => sum + blob.size, 0);
      const availableBytes = (await this.available()) + total; // our own reservations are not competitors
      if (total > availableBytes) {
        throw new DfsError('NO_SPACE', `no space for ${total} bytes: ${Math.max(0, availableBytes)} free`);
      }
      const opened = await Promise.allSettled(temporaryFiles.map((temporary) => fdIo.open(temporary, 'wx', 0o600)));
      for (const result of opened) descriptors.push(result.status === 'fulfilled' ? result.value : undefined);
      const failed = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
      return reservations.map((reservation, index) => {
        const { id } = reservation;
        const host: WriterHost = { settle: (info) => this.settle(id, info), directoryOf: () => this.directoryOf(id), syncDirectory: () => this.syncDirectory(id) };
        return new FileBlobWriter(host, descriptors[index] as number, temporaryFiles[index] as string, reservation, expectedSha256);
      });
    } catch (error) {
      await Promise.all(
        descriptors.map(async (fd, index) => {
          if (fd === undefined) return;
          await fdIo.close(fd).catch(() => undefined);
          await fdIo.unlink(temporaryFiles[index] as string);
        }),
      );
      for (const { id } of blobs) this.reservations.delete(id);
      if (errorCode(error) === 'EROFS' && !this.readOnly) {
        this.readOnly = true;
        this.log('the disk is read-only (EROFS): no new blobs until it takes writes again');
      }
      throw asStoreError(error);
    }
  }

  /** NOT_FOUND if missing, CORRUPT if its file is not the blob's size. With verify (default) the stream errors with
   * CORRUPT at its end if the bytes do not hash to the blob's SHA-256, and `onDamaged` hears of it first (however the
   * consumer handles errors). Without, it may start at `offset` (a resumed read). */
  async openReader(id: string, options: { verify?: boolean; offset?: number; onDamaged?: (error: DfsError) => void } = {}): Promise<BlobReader> {
    const { offset = 0 } = options;
    if (offset > 0 && options.verify !== false) throw new Error('blob store: a verified read starts at the first byte');
    const { info, handle } = await this.openBlob(id);
    if (options.verify === false) return { size: info.size, sha256: info.sha256, stream: new FileRegion(handle, offset, info.size - offset, chunkBytesFor(info.size)) };
    const source = handle.createReadStream({ highWaterMark: chunkBytesFor(info.size) });
    // The consumer sees errors on the returned stream; pipeline only tears both down together.
    const stream = pipeline(source, new VerifyingStream(info, options.onDamaged), () => undefined);
    return { size: info.size, sha256: info.sha256, stream };
  }

  /** Re-hashes the whole blob (scrubbing): false if its bytes no longer match its size and SHA-256. NOT_FOUND if missing.
   * With `bytesPerSecond` it reads SCRUB_CHUNK_BYTES at a time and pauses to keep to that rate; with `signal` it
   * rejects with the signal's reason, between two chunks, once the signal aborts. */
  async verify(id: string, options: VerifyOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted();
    const { info, handle } = await this.openBlob(id).catch((error: unknown) => {
      if (error instanceof DfsError && error.code === 'CORRUPT') return { info: undefined, handle: undefined };
      throw error;
    });
    if (info === undefined || handle === undefined) return false;
    try {
      const { bytes, sha256 } = await hashFile(handle, info.size, options);
      return bytes === info.size && sha256 === info.sha256;
    } finally {
      await handle.close();
    }
  }

  /** Deletes a blob; false if it was not held. Not fsynced: a blob that reappears after a crash is
   * reported like any other and the master deletes it again as an orphan. */
  async remove(id: string): Promise<boolean> {
    checkBlobId(id);
    const info = this.blobs.get(id);
    if (info === undefined) return false;
    // Forget it first so no new reader starts; readers already reading keep their descriptor.
    this.blobs.delete(id);
    this.used -= info.size;
    await fs.rm(this.pathOf(info), { force: true });
    return true;
  }

  private async available(): Promise<number> {
    let reserved = 0;
    let unwritten = 0;
    for (const reservation of this.reservations.values()) {
      reserved += reservation.size;
      unwritten += reservation.size - reservation.bytesOnDisk;
    }
    const stats = await fs.statfs(this.root);
    const diskBytes = stats.bavail * stats.bsize - this.reserveBytes - unwritten;
    const capacityBytes = this.capacityBytes === undefined ? Infinity : this.capacityBytes - this.used - reserved;
    return Math.min(diskBytes, capacityBytes);
  }

  /** Opens a held blob's file and checks its size; the descriptor outlives a concurrent remove. */
  private async openBlob(id: string): Promise<{ info: BlobInfo; handle: FileHandle }> {
    checkBlobId(id);
    const info = this.blobs.get(id);
    if (info === undefined) throw new DfsError('NOT_FOUND', `no blob ${id} on this node`);
    let handle: FileHandle;
    try {
      handle = await fs.open(this.pathOf(info), 'r');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') throw new DfsError('NOT_FOUND', `no blob ${id} on this node`);
      throw error;
    }
    const stats = await handle.stat().catch(async (error: unknown) => {
      await handle.close();
      throw error;
    });
    if (stats.size !== info.size) {
      await handle.close();
      throw new DfsError('CORRUPT', `blob ${id} holds ${stats.size} bytes, not ${info.size}`);
    }
    return { info, handle };
  }

  /** A writer ends: its reservation goes; with info, the blob is now held. */
  private settle(id: string, info: BlobInfo | undefined): void {
    this.reservations.delete(id);
    if (info === undefined) return;
    if (this.blobs.has(id)) throw new Error(`blob store: ${id} committed twice`);
    this.blobs.set(id, Object.freeze(info));
    this.used += info.size;
  }

  private directoryOf(id: string): string {
    return path.join(this.root, id.slice(0, 2));
  }

  /** Makes the renames into a blob's fan-out directory made so far durable; concurrent writers share fsyncs. */
  private syncDirectory(id: string): Promise<void> {
    const prefix = id.slice(0, 2);
    let syncs = this.directorySyncs.get(prefix);
    if (syncs === undefined) {
      syncs = new DirectorySyncs(path.join(this.root, prefix));
      this.directorySyncs.set(prefix, syncs);
    }
    return syncs.sync();
  }

  private pathOf(info: BlobInfo): string {
    return path.join(this.directoryOf(info.id), blobFileName(info));
  }

  /** Temp files are writes a crash interrupted: never acknowledged, so never needed. */
  private async removeTemporaries(): Promise<void> {
    const directory = path.join(this.root, TEMPORARY_DIRECTORY);
    for (const name of await fs.readdir(directory)) {
      this.log(`removing an unfinished blob write left by a crash: ${name}`);
      await fs.rm(path.join(directory, name), { recursive: true, force: true });
    }
  }

  /** Counts one fan-out directory's blobs by name and size; removes what is not a whole blob. */
  private async scanFanOut(prefix: string): Promise<void> {
    const directory = path.join(this.root, prefix);
    await fs.mkdir(directory, { recursive: true, mode: 0o700 });
    const names = await fs.readdir(directory);
    for (let start = 0; start < names.length; start += BLOB_SCAN_PARALLEL) {
      const batch = names.slice(start, start + BLOB_SCAN_PARALLEL);
      const found = await Promise.all(batch.map((name) => this.inspect(directory, prefix, name)));
      for (const [index, info] of found.entries()) {
        if (info === undefined) continue;
        if (this.blobs.has(info.id)) {
          await this.discard(directory, batch[index] ?? '', 'a second copy of the same blob id');
          continue;
        }
        this.blobs.set(info.id, Object.freeze(info));
        this.used += info.size;
      }
    }
  }

  /** A stored name's blob, if its name is well-formed, in the right directory, and its file has that size. */
  private async inspect(directory: string, prefix: string, name: string): Promise<BlobInfo | undefined> {
    const match = BLOB_NAME.exec(name);
    const [, id, sizeText, sha256] = match ?? [];
    const size = Number(sizeText);
    if (id === undefined || sha256 === undefined || !Number.isSafeInteger(size) || !id.startsWith(prefix)) {
      await this.discard(directory, name, 'not a blob name (id.size.sha256)');
      return undefined;
    }
    const stats = await fs.lstat(path.join(directory, name));
    if (!stats.isFile() || stats.size !== size) {
      await this.discard(directory, name, `holds ${stats.size} bytes, its name says ${size}`);
      return undefined;
    }
    return { id, size, sha256 };
  }

  private async discard(directory: string, name: string, why: string): Promise<void> {
    this.log(`removing ${path.join(directory, name)}: ${why}`);
    await fs.rm(path.join(directory, name), { recursive: true, force: true });
  }
}

interface WriterHost {
  settle(info: BlobInfo | undefined): void;
  directoryOf(): string;
  /** Resolves once an fsync of directoryOf() that began after this call is done. */
  syncDirectory(): Promise<void>;
}

/**
 * Group commit for one directory's fsync: a call made while an fsync runs waits for the next one (the
 * running one may have begun before the caller's rename), and every call made meanwhile shares that next
 * one. Each fsync opens and closes the directory: a descriptor kept open would outlive the store.
 */
class DirectorySyncs {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly directory: string) {}

  sync(): Promise<void> {
    if (this.next !== undefined) return this.next;
    if (this.running === undefined) return this.start();
    const next = this.running.then(
      () => this.start(),
      () => this.start(),
    );
    this.next = next;
    return next;
  }

  private start(): Promise<void> {
    this.next = undefined;
    const running = syncDirectory(this.directory).finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    return running;
  }
}

type WriterState = 'open' | 'committing' | 'committed' | 'aborted';

/** One blob being written: hashes each chunk on arrival, writes at explicit offsets with a bounded
 * number of bytes in flight (pwrites may complete out of order), coalesces small chunks. */
class FileBlobWriter implements BlobWriter {
  private state: WriterState = 'open';
  private failure: Error | undefined;
  private readonly hash: Hash = createHash('sha256');
  private received = 0;
  private submitted = 0;
  private inFlightBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private stage: Buffer | undefined;
  private staged = 0;
  private readonly spareStages: Buffer[] = [];
  private handleClosed = false;
  private settled: Promise<void> | undefined;
  /** Bytes on disk when the last sync-behind began, and whether one runs now. */
  private syncedThrough = 0;
  private syncing = false;

  constructor(
    private readonly host: WriterHost,
    private readonly fd: number,
    private readonly temporary: string,
    private readonly reservation: Reservation,
    private readonly expectedSha256: string | undefined,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.throwUnlessOpen();
    if (this.received + chunk.length > this.reservation.size) {
      await this.fail(new DfsError('BAD_REQUEST', `more than the declared ${this.reservation.size} bytes`));
    }
    this.received += chunk.length;
    this.hash.update(chunk);
    if (chunk.length >= BLOB_COALESCE_BELOW_BYTES) {
      this.flushStage();
      this.submit(chunk, undefined);
    } else {
      this.stageCopy(chunk);
    }
    while (this.inFlightBytes >= BLOB_WRITE_IN_FLIGHT_BYTES && this.failure === undefined) await Promise.race(this.inFlight);
    if (this.failure !== undefined) await this.fail(this.failure);
    this.throwUnlessOpen();
  }

  async commit(): Promise<{ sha256: string; size: number }> {
    this.throwUnlessOpen();
    this.state = 'committing';
    const committing = this.finish();
    this.settled = committing.then(
      () => undefined,
      () => undefined,
    );
    return committing;
  }

  async abort(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'aborted';
      this.settled = this.cleanUp(undefined);
    }
    await this.settled;
  }

  private async finish(): Promise<{ sha256: string; size: number }> {
    const size = this.reservation.size;
    let target: string | undefined;
    try {
      this.flushStage();
      await this.drain();
      if (this.failure !== undefined) throw this.failure;
      if (this.received !== size) throw new DfsError('BAD_REQUEST', `received ${this.received} bytes, declared ${size}`);
      const sha256 = this.hash.digest('hex');
      if (this.expectedSha256 !== undefined && sha256 !== this.expectedSha256) {
        throw new DfsError('CORRUPT', `received bytes hash to ${sha256}, expected ${this.expectedSha256}`);
      }
      const info: BlobInfo = { id: this.reservation.id, size, sha256 };
      await fdIo.fdatasync(this.fd);
      await this.closeHandle();
      target = path.join(this.host.directoryOf(), blobFileName(info));
      await fdIo.rename(this.temporary, target);
      await this.host.syncDirectory();
      this.state = 'committed';
      this.host.settle(info);
      return { sha256, size };
    } catch (error) {
      this.state = 'aborted';
      await this.cleanUp(target);
      throw asStoreError(error);
    }
  }

  private throwUnlessOpen(): void {
    if (this.state !== 'open') throw new DfsError('BAD_REQUEST', `blob writer is ${this.state}`);
  }

  /** A failed write aborts the writer (nothing left behind) and the error reaches the caller. */
  private async fail(error: Error): Promise<never> {
    await this.abort();
    throw asStoreError(error);
  }

  private stageCopy(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      this.stage ??= this.spareStages.pop() ?? Buffer.allocUnsafe(chunkBytesFor(this.reservation.size - this.submitted));
      const copied = chunk.copy(this.stage, this.staged, offset);
      offset += copied;
      this.staged += copied;
      if (this.staged === this.stage.length) this.flushStage();
    }
  }

  private flushStage(): void {
    if (this.stage === undefined || this.staged === 0) return;
    const stage = this.stage;
    this.submit(stage.subarray(0, this.staged), stage);
    this.stage = undefined;
    this.staged = 0;
  }

  /** Starts a pwrite at the next offset; its completion frees in-flight room (and the staging buffer). */
  private submit(buffer: Buffer, stage: Buffer | undefined): void {
    const position = this.submitted;
    this.submitted += buffer.length;
    this.inFlightBytes += buffer.length;
    const done = writeFully(this.fd, buffer, position).then(() => {
      this.reservation.bytesOnDisk += buffer.length;
      if (stage !== undefined && this.state === 'open') this.spareStages.push(stage);
      this.syncBehind();
    });
    this.track(done, () => (this.inFlightBytes -= buffer.length));
  }

  /** Keeps an operation on the descriptor in flight until it settles (drain() waits for it before the fd closes); its
   * failure fails the writer. */
  private track(operation: Promise<void>, settled: () => void): void {
    const settle: Promise<void> = operation
      .catch((error: unknown) => {
        this.failure ??= asStoreError(error);
      })
      .then(() => {
        settled();
        this.inFlight.delete(settle);
      });
    this.inFlight.add(settle);
  }

  /**
   * Every BLOB_SYNC_BEHIND_BYTES written, an fdatasync starts behind the writes (HDFS's sync-behind-writes): the disk
   * writes the blob while it arrives instead of all of it at the commit's fdatasync, when a put of 3 copies otherwise
   * waits for three disks' worth of writeback with the CPUs idle. Tracked with the writes, so it never outlives the fd.
   */
  private syncBehind(): void {
    if (this.syncing || this.state !== 'open' || this.reservation.bytesOnDisk - this.syncedThrough < BLOB_SYNC_BEHIND_BYTES) return;
    this.syncing = true;
    this.syncedThrough = this.reservation.bytesOnDisk;
    this.track(fdIo.fdatasync(this.fd), () => (this.syncing = false));
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private async closeHandle(): Promise<void> {
    if (this.handleClosed) return;
    this.handleClosed = true;
    await fdIo.close(this.fd);
  }

  /** Waits for writes in flight (a pwrite must not outlive the descriptor), then removes every trace. */
  private async cleanUp(target: string | undefined): Promise<void> {
    try {
      await this.drain();
      await this.closeHandle().catch(() => undefined);
      await fdIo.unlink(this.temporary);
      if (target !== undefined) await fdIo.unlink(target);
    } finally {
      this.spareStages.length = 0;
      this.stage = undefined;
      this.host.settle(undefined);
    }
  }
}

async function writeFully(fd: number, buffer: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await fdIo.write(fd, buffer, offset, buffer.length - offset, position + offset);
    if (bytesWritten <= 0) throw new Error('blob store: the disk accepted no bytes');
    offset += bytesWritten;
  }
}

/** Hashes a whole file (of `expectedBytes`, or more or fewer if damaged) from its first byte; paced to
 * `bytesPerSecond` if given, stoppable by `signal`. */
async function hashFile(handle: FileHandle, expectedBytes: number, options: VerifyOptions): Promise<{ bytes: number; sha256: string }> {
  const { bytesPerSecond, signal } = options;
  if (bytesPerSecond !== undefined && !(bytesPerSecond > 0 && Number.isFinite(bytesPerSecond))) {
    throw new Error(`blob store: verify needs a positive rate, got ${bytesPerSecond}`);
  }
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(bytesPerSecond === undefined ? chunkBytesFor(expectedBytes) : Math.min(SCRUB_CHUNK_BYTES, chunkBytesFor(expectedBytes)));
  const startedMs = performance.now();
  let bytes = 0;
  for (;;) {
    signal?.throwIfAborted();
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, bytes);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    bytes += bytesRead;
    // Keep to the rate over the whole file: wait until the bytes read so far were due.
    if (bytesPerSecond !== undefined) await pauseUntil(startedMs + (bytes * 1000) / bytesPerSecond, signal);
  }
  return { bytes, sha256: hash.digest('hex') };
}

async function pauseUntil(dueMs: number, signal: AbortSignal | undefined): Promise<void> {
  const waitMs = dueMs - performance.now();
  if (waitMs < 1) return;
  await delay(waitMs, undefined, signal ? { signal } : {}).catch((error: unknown) => {
    signal?.throwIfAborted();
    throw error;
  });
}

/** Passes a blob's bytes through unchanged while hashing them; errors with CORRUPT at the end on a mismatch. */
class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private bytes = 0;

  constructor(
    private readonly info: BlobInfo,
    private readonly onDamaged: ((error: DfsError) => void) | undefined,
  ) {
    // Object mode on the readable side: a reader iterating it (the channel's body sender) gets each read chunk
    // as it is, where a byte-mode read() would concatenate the chunks waiting into a new buffer (a copy of
    // the blob's bytes). Two chunks of at most IO_CHUNK_BYTES wait at most.
    super({ readableObjectMode: true, readableHighWaterMark: 2, writableHighWaterMark: IO_CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const sha256 = this.hash.digest('hex');
    if (this.bytes !== this.info.size || sha256 !== this.info.sha256) {
      const error = new DfsError('CORRUPT', `blob ${this.info.id} is damaged: ${this.bytes} bytes hashing to ${sha256}, stored as ${this.info.size} bytes hashing to ${this.info.sha256}`);
      this.onDamaged?.(error);
      callback(error);
      return;
    }
    callback();
  }
}

/** Feeds a body into a writer with back-pressure (one chunk in hand at a time), then commits; on any
 * failure (source error, too many or too few bytes, wrong hash) the writer is aborted and the error rethrown. */
export async function writeStream(writer: BlobWriter, source: Readable): Promise<{ sha256: string; size: number }> {
  try {
    for await (const chunk of source) {
      if (!(chunk instanceof Uint8Array)) throw new DfsError('BAD_REQUEST', 'a blob body must be bytes, not text');
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      await writer.write(buffer);
    }
    return await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
