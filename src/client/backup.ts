// Writing a backup the master sent (cluster.backup) into a new local directory: the catalog's snapshot file
// streamed to disk as it arrives, and the identity files, each fsynced, all in a directory beside the target that
// is renamed into place last: the target holds a whole backup or nothing. `dfs master --data DIR` starts from it.

import { randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ensurePrivateDirectory, syncDirectory, writeFileAtomic } from '../store/files';
import { DfsError } from '../wire/errors';
import { SNAPSHOT_FILE, type ResponseOf } from '../wire/messages';
import { LocalFileError } from './api';

/** The target must be new or empty: a backup never mixes with other files. */
export async function checkBackupTarget(directory: string): Promise<void> {
  const entries = await fs.readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw new LocalFileError(directory, error.message);
  });
  if (entries.length > 0) throw new LocalFileError(directory, 'not empty: a backup goes into a new or empty directory');
}

export async function writeBackup(directory: string, data: ResponseOf<'cluster.backup'>, body: Readable | undefined, bodyBytes: number): Promise<void> {
  if (!body || bodyBytes !== data.snapshotBytes) throw new DfsError('BAD_REQUEST', 'the master sent no catalog with the backup');
  const target = path.resolve(directory);
  const partial = `${target}.partial-${randomBytes(4).toString('hex')}`;
  await ensurePrivateDirectory(partial);
  try {
    const handle = await fs.open(path.join(partial, SNAPSHOT_FILE), 'wx', 0o600);
    try {
      await pipeline(body, createWriteStream('', { fd: handle.fd, autoClose: false }));
      const { size } = await handle.stat();
      if (size !== data.snapshotBytes) throw new DfsError('UNAVAILABLE', `the catalog arrived short (${size} of ${data.snapshotBytes} bytes)`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    for (const file of data.files) await writeFileAtomic(path.join(partial, file.name), file.text, 0o600);
    await syncDirectory(partial);
    await fs.rmdir(target).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await fs.rename(partial, target);
    await syncDirectory(path.dirname(target));
  } catch (error) {
    body.destroy();
    await fs.rm(partial, { recursive: true, force: true });
    throw error;
  }
}
