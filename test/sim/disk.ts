// The master's disk in the simulation: what was written, and what of it is durable. A crash keeps only what
// was fsynced (files) and what directory syncs made durable (names), plus, like a real disk, a random part of
// what was appended but not yet synced (a torn journal tail). Handles from before a crash fail: the process
// that held them is gone.

import * as path from 'node:path';
import type { AppendFile, Disk, ReadFile } from '../../src/store/disk';
import { DfsError } from '../../src/wire/errors';
import type { Prng } from './prng';

interface Inode {
  current: Buffer;
  durable: Buffer;
}

export class SimDisk {
  /** Names as the running process sees them, and as they would be found after a crash. */
  private current = new Map<string, Inode>();
  private durable = new Map<string, Inode>();
  private directories = new Set<string>();
  private epoch = 0;

  constructor(private readonly prng: Prng) {}

  /** A crash: unsynced data and names are lost (a prefix of unsynced appends may survive); old handles die. */
  crash(): void {
    this.epoch++;
    for (const inode of new Set(this.durable.values())) {
      const unsynced = inode.current.length - inode.durable.length;
      const extends_ = unsynced > 0 && inode.current.subarray(0, inode.durable.length).equals(inode.durable);
      const kept = extends_ && this.prng.chance(0.5) ? this.prng.int(0, unsynced) : 0;
      inode.durable = Buffer.from(inode.current.subarray(0, inode.durable.length + kept));
      inode.current = inode.durable;
    }
    this.current = new Map(this.durable);
  }

  /** The Disk a process started now uses; it stops working at the next crash. */
  view(): Disk {
    const epoch = this.epoch;
    const alive = (): void => {
      if (this.epoch !== epoch) throw new DfsError('INTERNAL', 'the process that opened this disk crashed');
    };
    const inode = (file: string): Inode => {
      const found = this.current.get(file);
      if (!found) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      return found;
    };
    return {
      makeDirectory: async (directory) => {
        alive();
        this.directories.add(directory);
      },
      list: async (directory) => {
        alive();
        return [...this.current.keys()].filter((file) => path.dirname(file) === directory).map((file) => path.basename(file)).sort();
      },
      readWhole: async (file) => {
        alive();
        const found = this.current.get(file);
        return found ? Buffer.from(found.current) : undefined;
      },
      openRead: async (file): Promise<ReadFile> => {
        alive();
        const found = inode(file);
        return {
          size: found.current.length,
          read: async (buffer, length, position) => {
            alive();
            return found.current.copy(buffer, 0, position, Math.min(found.current.length, position + length));
          },
          close: async () => undefined,
        };
      },
      openAppend: async (file): Promise<AppendFile> => {
        alive();
        let found = this.current.get(file);
        if (!found) {
          found = { current: Buffer.alloc(0), durable: Buffer.alloc(0) };
          this.current.set(file, found);
        }
        const target = found;
        return {
          append: async (data) => {
            alive();
            target.current = Buffer.concat([target.current, data]);
          },
          datasync: async () => {
            alive();
            target.durable = target.current;
          },
          close: async () => undefined,
        };
      },
      writeDurable: async (file, chunks) => {
        alive();
        const data = Buffer.concat([...chunks]);
        this.current.set(file, { current: data, durable: data });
      },
      truncate: async (file, bytes) => {
        alive();
        const found = inode(file);
        found.current = Buffer.from(found.current.subarray(0, bytes));
        found.durable = found.current;
      },
      rename: async (from, to) => {
        alive();
        const found = inode(from);
        this.current.delete(from);
        this.current.set(to, found);
      },
      remove: async (file) => {
        alive();
        this.current.delete(file);
      },
      syncDirectory: async (directory) => {
        alive();
        for (const [file] of this.durable) if (path.dirname(file) === directory && !this.current.has(file)) this.durable.delete(file);
        for (const [file, found] of this.current) if (path.dirname(file) === directory) this.durable.set(file, found);
      },
    };
  }
}
