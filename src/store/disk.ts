// The file operations the master's catalog makes (its journal and snapshots), behind one interface: the
// master runs on nodeDisk; the deterministic simulation runs the same catalog on a simulated disk that
// loses what was not fsynced when the master "crashes", and tests count and fail operations through it.

import { promises as fs } from 'node:fs';
import { syncDirectory } from './files';

/** A file open for appending. */
export interface AppendFile {
  /** Writes all of `data` at the end of the file. */
  append(data: Buffer): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

/** A file open for reading. */
export interface ReadFile {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buffer` (from 0); returns how many were read. */
  read(buffer: Buffer, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface Disk {
  /** Creates a directory (and its parents) readable only by its owner: it holds the catalog. */
  makeDirectory(directory: string): Promise<void>;
  /** The names in a directory. */
  list(directory: string): Promise<string[]>;
  /** A whole (small) file, or undefined if there is none. */
  readWhole(file: string): Promise<Buffer | undefined>;
  openRead(file: string): Promise<ReadFile>;
  /** Opens (creating if needed) a file for appending. */
  openAppend(file: string): Promise<AppendFile>;
  /** Creates or replaces `file` with `chunks`, fsynced before this resolves. */
  writeDurable(file: string, chunks: readonly Buffer[]): Promise<void>;
  /** Cuts `file` to `bytes`, durably. */
  truncate(file: string, bytes: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; none there is fine. */
  remove(file: string): Promise<void>;
  /** Makes the directory's entries (files created, renamed, removed) durable. */
  syncDirectory(directory: string): Promise<void>;
}

export const nodeDisk: Disk = {
  async makeDirectory(directory) {
    await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  },
  list: (directory) => fs.readdir(directory),
  async readWhole(file) {
    try {
      return await fs.readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  },
  async openRead(file) {
    const handle = await fs.open(file, 'r');
    const { size } = await handle.stat();
    return {
      size,
      read: async (buffer, length, position) => (await handle.read(buffer, 0, length, position)).bytesRead,
      close: () => handle.close(),
    };
  },
  async openAppend(file) {
    const handle = await fs.open(file, 'a', 0o600);
    return {
      async append(data) {
        for (let written = 0; written < data.length; ) {
          const { bytesWritten } = await handle.write(data, written, data.length - written);
          written += bytesWritten;
        }
      },
      datasync: () => handle.datasync(),
      close: () => handle.close(),
    };
  },
  async writeDurable(file, chunks) {
    const handle = await fs.open(file, 'w', 0o600);
    try {
      await handle.writev([...chunks]);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  async truncate(file, bytes) {
    const handle = await fs.open(file, 'r+');
    try {
      await handle.truncate(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename: (from, to) => fs.rename(from, to),
  remove: (file) => fs.rm(file, { force: true }),
  syncDirectory,
};
