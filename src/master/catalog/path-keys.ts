// Path keys: how the catalog stores a path. Paths are stored as an order-preserving *path key*: "/"
// becomes \x01 and the bytes \x01-\x2e move up by one, so that sorting keys bytewise lists a
// directory right before its subtree and siblings by name (a pre-order walk). Sorting raw paths would
// not: "/a.txt" sorts between "/a" and "/a/x". Every subtree is then one index range
// [key, upper(key)), so find, du, tree, rm -r and mv are range scans and single range statements,
// never recursion. What a valid path is, and how to take one apart, is src/paths.ts's.

import { parentOf, ROOT } from '../../paths';

const KEY_BYTE = Uint8Array.from({ length: 256 }, (_, byte) => (byte === 0x2f ? 0x01 : byte >= 0x01 && byte <= 0x2e ? byte + 1 : byte));
const PATH_BYTE = Uint8Array.from({ length: 256 }, (_, byte) => (byte === 0x01 ? 0x2f : byte >= 0x02 && byte <= 0x2f ? byte - 1 : byte));
const PATH_LOW_BYTES = /[\x01-\x2e]/; // characters a key shifts up (besides "/")
const KEY_LOW_BYTES = /[\x02-\x2f]/; // characters a path shifted down

/** "/" → \x01, \x01-\x2e → \x02-\x2f: bytewise order of keys is a pre-order walk of the tree. */
export function pathToKey(path: string): string {
  return PATH_LOW_BYTES.test(path) ? mapBytes(path, KEY_BYTE) : path.replaceAll('/', '\x01');
}

export function keyToPath(key: string): string {
  return KEY_LOW_BYTES.test(key) ? mapBytes(key, PATH_BYTE) : key.replaceAll('\x01', '/');
}

/** Only ASCII bytes are remapped, so the UTF-8 stays valid. */
function mapBytes(text: string, table: Uint8Array): string {
  const bytes = Buffer.from(text, 'utf8');
  for (let index = 0; index < bytes.length; index++) bytes[index] = table[bytes[index] as number] as number;
  return bytes.toString('utf8');
}

/** Keys strictly inside the subtree of `key` are in (below, upper): every one starts with `below`. */
export function descendantRange(key: string): [below: string, upper: string] {
  const below = key === '\x01' ? key : `${key}\x01`;
  return [below, `${below.slice(0, -1)}\x02`];
}

/** The proper ancestors of a path, root first. */
export function ancestorPaths(path: string): string[] {
  const ancestors: string[] = [];
  for (let current = path; current !== ROOT; ) {
    current = parentOf(current);
    ancestors.push(current);
  }
  return ancestors.reverse();
}

/** SQLite's substr counts characters (code points), not UTF-16 units. */
export function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
