// One process per data directory: a LOCK file holding the owner's pid. A lock whose process is
// gone (a crash, kill -9) is stale and taken over; a live one means "refuse to start".

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DfsError } from '../wire/errors';

export const LOCK_FILE = 'LOCK';

export interface DirectoryLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockDirectory(directory: string, role: string): Promise<DirectoryLock> {
  const file = path.join(directory, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return { release: () => fs.rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
      throw new DfsError('EXISTS', `another dfs ${role} (pid ${owner}) is using ${directory}; stop it first`);
    }
    await fs.rm(file, { force: true }); // stale: its process is gone
  }
  throw new DfsError('EXISTS', `cannot lock ${directory}: ${file} keeps reappearing`);
}
