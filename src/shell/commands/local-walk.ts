// Walking a directory on this machine for `put -r`: every entry beneath a root, in path order
// (a directory right before what is inside it), with an explicit stack, never recursion.

import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, promises as fs, statSync } from 'node:fs';
import * as localPath from 'node:path';
import { pipeline } from 'node:stream/promises';

/** `relative` joins names with "/" ("" for the root itself), ready to append to a remote path. */
export type LocalEntry =
  | { kind: 'dir'; path: string; relative: string }
  | { kind: 'file'; path: string; relative: string; size: number }
  /** Symlinks (never followed: a link cannot pull in a tree outside the root, or loop), sockets, devices. */
  | { kind: 'other'; path: string; relative: string }
  /** Could not be read (permissions, removed meanwhile); what lies below it is not visited. */
  | { kind: 'unreadable'; path: string; relative: string; reason: string };

interface Pending {
  path: string;
  relative: string;
}

const byName = (left: string, right: string): number => (left < right ? -1 : left > right ? 1 : 0);

const ERRNO_TEXTS: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EEXIST: 'File exists',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
};

/** The coreutils wording for a local errno ("Permission denied"), else the error's own message. */
export function localReason(error: unknown): string {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  const text = code === undefined ? undefined : ERRNO_TEXTS[code];
  return text ?? (error instanceof Error ? error.message : String(error));
}

/** Classifies one path: by lstat (a symlink is seen as itself) below the root; the root, which the user
 * named, by stat, so `put -r LINK` uploads the directory it points to, as cp -r does. Synchronous, as
 * coreutils' cp -r is: a thread-pool round trip per entry costs many times the lstat itself. */
function classify(pending: Pending): LocalEntry {
  try {
    const stats = pending.relative === '' ? statSync(pending.path) : lstatSync(pending.path);
    if (stats.isDirectory()) return { kind: 'dir', ...pending };
    if (stats.isFile()) return { kind: 'file', ...pending, size: stats.size };
    return { kind: 'other', ...pending };
  } catch (error) {
    return { kind: 'unreadable', ...pending, reason: localReason(error) };
  }
}

/** Yields `root` (relative "") and everything beneath it; names sorted bytewise within a directory. */
export async function* walkLocal(root: string): AsyncGenerator<LocalEntry> {
  const stack: Pending[] = [{ path: root, relative: '' }];
  for (let pending = stack.pop(); pending !== undefined; pending = stack.pop()) {
    const entry = classify(pending);
    if (entry.kind !== 'dir') {
      yield entry;
      continue;
    }
    let names: string[];
    try {
      names = (await fs.readdir(entry.path)).sort(byName);
    } catch (error) {
      yield { kind: 'unreadable', path: entry.path, relative: entry.relative, reason: localReason(error) };
      continue;
    }
    yield entry;
    // Pushed last name first, so the first name is popped (and its subtree walked) first.
    for (let index = names.length - 1; index >= 0; index--) {
      const name = names[index] ?? '';
      stack.push({ path: localPath.join(entry.path, name), relative: entry.relative === '' ? name : `${entry.relative}/${name}` });
    }
  }
}

/** A local file's SHA-256 (hex) and size, or undefined when it is not a readable regular file. */
export async function localDigest(path: string): Promise<{ size: number; sha256: string } | undefined> {
  const stats = await fs.stat(path).catch(() => undefined);
  if (!stats?.isFile()) return undefined;
  const hash = createHash('sha256');
  let size = 0;
  try {
    await pipeline(createReadStream(path), async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
      }
    });
  } catch {
    return undefined;
  }
  return { size, sha256: hash.digest('hex') };
}
