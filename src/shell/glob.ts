// Globs as bash expands them with failglob and globstar: `*`, `?` and `[...]` within one path component,
// `**` as a whole component for any depth (zero or more directories), names starting with `.` only when the
// pattern's component does, results sorted. A pattern that matches nothing is an error naming it. The same
// expansion runs against the cluster's namespace (remote operands) and this machine's (local ones): only the
// Lister differs.

import { GLOB_MATCHES_MAX } from '../limits';
import { isWildcard, parseGlob, type GlobToken } from '../glob';
import { printable } from '../printable';
import { CommandError } from './errors';

export interface ListedName {
  name: string;
  directory: boolean;
  /** A symbolic link (to a directory, if `directory`): `**` does not go down it, as bash's globstar. */
  link?: boolean;
}

/** Lists a directory given as the pattern wrote it ('' is the working directory); undefined when it is not one. */
export type Lister = (directory: string) => Promise<ListedName[] | undefined>;

type Component = { literal: string } | { match: RegExp; dotted: boolean } | { anyDepth: true };

/** The names a pattern (from parse.ts: wildcards bare, other glob characters backslash-escaped) matches, sorted. */
export async function expandGlob(pattern: string, list: Lister): Promise<string[]> {
  const absolute = pattern.startsWith('/');
  // A pattern ending in '/' matches directories only, and its matches keep the slash (`*/` is every directory).
  const directoriesOnly = pattern.endsWith('/');
  const components = pattern.split('/').filter((part, index) => part !== '' || index === 0).map(compileComponent);
  if (absolute) components.shift();
  const found = new Map<string, boolean>();
  await walk(absolute ? '/' : '', components, list, found);
  const matches = [...found].filter(([, directory]) => directory || !directoriesOnly).map(([path]) => (directoriesOnly ? `${path}/` : path));
  if (matches.length === 0) throw new CommandError(`no match: ${printable(pattern)}`);
  // A match named like a flag (another user of `shared` may make `-r`) is never read as one.
  return matches.sort().map((path) => (path.startsWith('-') ? `./${path}` : path));
}

/** Adds to `found` every path under `prefix` (written as typed, '' or ending in '/') matching `rest`, with whether
 * it is a directory. */
async function walk(prefix: string, rest: readonly Component[], list: Lister, found: Map<string, boolean>): Promise<void> {
  const [component, ...after] = rest;
  if (component === undefined) {
    if (prefix !== '' && prefix !== '/') add(found, prefix.replace(/\/$/, ''), true);
    return;
  }
  if ('literal' in component && after.every((part) => 'literal' in part)) {
    // Only the last components are literal: a path needs to exist to be a match, so look it up in its directory.
    const names = await list(prefix);
    const entry = names?.find((listed) => listed.name === component.literal);
    if (entry === undefined) return;
    if (after.length === 0) add(found, `${prefix}${entry.name}`, entry.directory);
    else if (entry.directory) await walk(`${prefix}${entry.name}/`, after, list, found);
    return;
  }
  if ('literal' in component) {
    // Literal directories before a wildcard: no need to list them, the wildcard's listing tells whether they exist.
    await walk(`${prefix}${component.literal}/`, after, list, found);
    return;
  }
  const names = (await list(prefix)) ?? [];
  if ('anyDepth' in component) {
    await walk(prefix, after, list, found);
    for (const entry of names) {
      if (entry.name.startsWith('.')) continue;
      if (after.length === 0) add(found, `${prefix}${entry.name}`, entry.directory);
      if (entry.directory && entry.link !== true) await walk(`${prefix}${entry.name}/`, rest, list, found);
    }
    return;
  }
  for (const entry of names) {
    if (entry.name.startsWith('.') && !component.dotted) continue;
    if (!component.match.test(entry.name)) continue;
    if (after.length === 0) add(found, `${prefix}${entry.name}`, entry.directory);
    else if (entry.directory) await walk(`${prefix}${entry.name}/`, after, list, found);
  }
}

function add(found: Map<string, boolean>, path: string, directory: boolean): void {
  found.set(path, directory);
  if (found.size > GLOB_MATCHES_MAX) throw new CommandError(`a pattern matched more than ${GLOB_MATCHES_MAX} names: narrow it`);
}

function compileComponent(component: string): Component {
  if (component === '**') return { anyDepth: true };
  const tokens = parseGlob(component);
  if (!isWildcard(tokens)) return { literal: tokens.map((token) => (token.kind === 'text' ? token.text : '')).join('') };
  const first = tokens[0];
  return { match: tokensRegExp(tokens), dotted: first?.kind === 'text' && first.text.startsWith('.') };
}

/** A glob (src/glob.ts's syntax) as a RegExp matching a whole name, as find -name matches. */
export function globRegExp(pattern: string): RegExp {
  return tokensRegExp(parseGlob(pattern));
}

function tokensRegExp(tokens: readonly GlobToken[]): RegExp {
  const source = tokens.map((token) => {
    if (token.kind === 'text') return escapeRegExp(token.text);
    if (token.kind === 'star') return '.*';
    if (token.kind === 'one') return '.';
    const members = token.members.map(([from, to]) => (from === to ? escapeClass(from) : `${escapeClass(from)}-${escapeClass(to)}`));
    return `[${token.negated ? '^' : ''}${members.join('')}]`;
  });
  return new RegExp(`^${source.join('')}$`, 's');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClass(character: string): string {
  return /[\]\\^[-]/.test(character) ? `\\${character}` : character;
}
