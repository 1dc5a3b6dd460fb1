// Paths in a user's namespace: the one place that resolves what users type (relative, `~`, `.`,
// `..`) into canonical absolute paths, and that validates names and paths (at most NAME_BYTES_MAX and
// PATH_BYTES_MAX bytes; no `/` or NUL in a name, no `.` or `..`).

import { NAME_BYTES_MAX, PATH_BYTES_MAX } from './limits';
import { DfsError } from './wire/errors';

export const ROOT = '/';

/** Throws BAD_REQUEST unless `name` is a single valid entry name. */
export function validateName(name: string): void {
  if (name === '' || name === '.' || name === '..') throw new DfsError('BAD_REQUEST', `invalid name "${name}"`);
  if (name.includes('/')) throw new DfsError('BAD_REQUEST', `invalid name "${name}": names cannot contain "/"`);
  if (name.includes('\0')) throw new DfsError('BAD_REQUEST', 'invalid name: names cannot contain NUL');
  if (Buffer.byteLength(name) > NAME_BYTES_MAX) throw new DfsError('BAD_REQUEST', `name longer than ${NAME_BYTES_MAX} bytes`);
}

/** Throws BAD_REQUEST unless `path` is canonical: absolute, no empty, `.` or `..` components. */
export function validatePath(path: string): void {
  if (Buffer.byteLength(path) > PATH_BYTES_MAX) throw new DfsError('BAD_REQUEST', `path longer than ${PATH_BYTES_MAX} bytes`);
  if (!path.startsWith('/')) throw new DfsError('BAD_REQUEST', `path "${path}" is not absolute`);
  if (path === ROOT) return;
  if (path.endsWith('/')) throw new DfsError('BAD_REQUEST', `path "${path}" ends with "/"`);
  for (const name of path.slice(1).split('/')) validateName(name);
}

/** Resolves what a user typed against the working directory into a canonical absolute path. */
export function resolvePath(cwd: string, input: string): string {
  if (input.includes('\0')) throw new DfsError('BAD_REQUEST', 'invalid path: paths cannot contain NUL');
  const start = input === '~' ? '/' : input.startsWith('~/') ? input.slice(1) : input;
  const absolute = start.startsWith('/') ? start : `${cwd}/${start}`;
  const parts: string[] = [];
  for (const part of absolute.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  const path = `/${parts.join('/')}`;
  validatePath(path);
  return path;
}

export function parentOf(path: string): string {
  if (path === ROOT) return ROOT;
  const index = path.lastIndexOf('/');
  return index === 0 ? ROOT : path.slice(0, index);
}

export function baseName(path: string): string {
  return path === ROOT ? '' : path.slice(path.lastIndexOf('/') + 1);
}

export function joinPath(directory: string, name: string): string {
  return directory === ROOT ? `/${name}` : `${directory}/${name}`;
}

/** True when `path` is `ancestor` itself or lies below it. */
export function isWithin(path: string, ancestor: string): boolean {
  return ancestor === ROOT || path === ancestor || path.startsWith(`${ancestor}/`);
}
