// The explorer's local pane: this machine's directory as a list (directories by their own size: a local tree is not
// summed, that would mean walking it), read with one readdir and a stat per name.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { SortOrder } from './model';
import { sortEntries } from './model';

export interface LocalEntry {
  name: string;
  /** Absolute. */
  path: string;
  kind: 'file' | 'dir';
  size: number;
  mtimeMs: number;
}

/** The directories and regular files in `directory` (symlinks followed; sockets and the like left out), sorted. */
export async function listLocal(directory: string, order: SortOrder): Promise<LocalEntry[]> {
  const names = await fs.readdir(directory);
  const entries = await Promise.all(names.map(async (name): Promise<LocalEntry | undefined> => {
    const full = path.join(directory, name);
    const stats = await fs.stat(full).catch(() => undefined);
    if (!stats || (!stats.isFile() && !stats.isDirectory())) return undefined;
    return { name, path: full, kind: stats.isDirectory() ? 'dir' : 'file', size: stats.isFile() ? stats.size : 0, mtimeMs: stats.mtimeMs };
  }));
  return sortEntries(entries.filter((entry): entry is LocalEntry => entry !== undefined), order);
}
