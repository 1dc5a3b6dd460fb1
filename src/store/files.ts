// Small files that must survive a crash whole or not at all: temp file, fsync, rename, fsync dir.

import { randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { DfsError } from '../wire/errors';
import * as path from 'node:path';

export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await fs.open(temporary, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
  await syncDirectory(path.dirname(file));
}

export async function syncDirectory(directory: string): Promise<void> {
  const handle = await fs.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function readFileIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Creates a data directory readable only by its owner (it holds keys), and its missing parents, one level at a time:
 * fs.mkdir's recursive mode loops forever where the system refuses a new entry with ENOENT (under /proc). A
 * directory that cannot be made or written is a DfsError naming it and the reason.
 */
export async function ensurePrivateDirectory(directory: string): Promise<void> {
  const absolute = path.resolve(directory);
  const missing: string[] = [];
  for (let at = absolute; ; at = path.dirname(at)) {
    const stats = await fs.stat(at).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw unusable(directory, error);
    });
    if (stats?.isDirectory()) break;
    if (stats) throw new DfsError('NOT_A_DIRECTORY', `cannot use ${directory} as a data directory: ${at} is not a directory`);
    missing.unshift(at);
    if (path.dirname(at) === at) break;
  }
  for (const at of missing) {
    await fs.mkdir(at, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw unusable(directory, error);
    });
  }
  await fs.access(absolute, fsConstants.W_OK | fsConstants.X_OK).catch((error: NodeJS.ErrnoException) => {
    throw unusable(directory, error);
  });
}

function unusable(directory: string, error: NodeJS.ErrnoException): DfsError {
  const reasons: Record<string, string> = {
    ENOENT: 'it cannot be created there',
    ENOTDIR: 'a part of its path is a file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'read-only file system',
  };
  return new DfsError('FORBIDDEN', `cannot use ${directory} as a data directory: ${reasons[error.code ?? ''] ?? error.message} (${error.message})`);
}
