// Globs as bash expands them with failglob and globstar: `*`, `?` and `[...]` within one path component,
// `**` as a whole component for any depth (zero or more directories), names starting with `.` only when the
// pattern's component does, results sorted. A pattern that matches nothing is an error naming it. The same
// expansion runs against the cluster's namespace (remote operands) and this machine's (local ones): only the
// Lister differs.

import { GLOB_MATCHES_MAX } from '../limits';
import { printable } from '../printable';
import { CommandError } from './errors';

export interface ListedName {
  name: string;
  directory: boolean;
}

/** Lists a directory given as the pattern wrote it ('' is the working directory); undefined when it is not one. */
export type Lister = (directory: string) => Promise<ListedName[] | undefined>;

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  xdigit: '0-9a-fA-F',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
};

type Component = { literal: string } | { match: RegExp; dotted: boolean } | { anyDepth: true };

/** The names a pattern (from parse.ts: wildcards bare, other glob characters backslash-escaped) matches, sorted. */
export async function expandGlob(pattern: string, list: Lister): Promise<string[]> {
  const absolute = pattern.startsWith('/');
  const components = pattern.split('/').filter((part, index) => part !== '' || index === 0).map(compileComponent);
  if (absolute) components.shift();
  const found = new Set<string>();
  await walk(absolute ? '/' : '', components, list, found);
  if (found.size === 0) throw new CommandError(`no match: ${printable(pattern)}`);
  return [...found].sort();
}

/** Adds to `found` every path under `prefix` (written as typed, '' or ending in '/') matching `rest`. */
async function walk(prefix: string, rest: readonly Component[], list: Lister, found: Set<string>): Promise<void> {
  const [component, ...after] = rest;
  if (component === undefined) {
    if (prefix !== '' && prefix !== '/') add(found, prefix.replace(/\/$/, ''));
    return;
  }
  if ('literal' in component && after.every((part) => 'literal' in part)) {
    // Only the last components are literal: a path needs to exist to be a match, so look it up in its directory.
    const names = await list(prefix);
    const entry = names?.find((listed) => listed.name === component.literal);
    if (entry === undefined) return;
    if (after.length === 0) add(found, `${prefix}${entry.name}`);
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
      if (after.length === 0) add(found, `${prefix}${entry.name}`);
      if (entry.directory) await walk(`${prefix}${entry.name}/`, rest, list, found);
    }
    return;
  }
  for (const entry of names) {
    if (entry.name.startsWith('.') && !component.dotted) continue;
    if (!component.match.test(entry.name)) continue;
    if (after.length === 0) add(found, `${prefix}${entry.name}`);
    else if (entry.directory) await walk(`${prefix}${entry.name}/`, after, list, found);
  }
}

function add(found: Set<string>, path: string): void {
  found.add(path);
  if (found.size > GLOB_MATCHES_MAX) throw new CommandError(`a pattern matched more than ${GLOB_MATCHES_MAX} names: narrow it`);
}

function compileComponent(component: string): Component {
  if (component === '**') return { anyDepth: true };
  let source = '';
  let literal = '';
  let wildcard = false;
  for (let index = 0; index < component.length; ) {
    const character = component[index] as string;
    if (character === '\\' && index + 1 < component.length) {
      const next = component[index + 1] as string;
      source += escapeRegExp(next);
      literal += next;
      index += 2;
    } else if (character === '*' || character === '?') {
      source += character === '*' ? '.*' : '.';
      wildcard = true;
      index++;
    } else if (character === '[') {
      const set = bracket(component, index);
      if (set === undefined) {
        source += '\\[';
        literal += '[';
        index++;
      } else {
        source += set.source;
        wildcard = true;
        index = set.next;
      }
    } else {
      source += escapeRegExp(character);
      literal += character;
      index++;
    }
  }
  if (!wildcard) return { literal };
  return { match: new RegExp(`^${source}$`, 's'), dotted: component.startsWith('.') || component.startsWith('\\.') };
}

/** The set starting at component[start] === '[' as a RegExp class, or undefined if it never closes (a literal '['). */
function bracket(component: string, start: number): { source: string; next: number } | undefined {
  let index = start + 1;
  let negated = false;
  if (component[index] === '!' || component[index] === '^') {
    negated = true;
    index++;
  }
  let body = '';
  let first = true;
  while (index < component.length && (component[index] !== ']' || first)) {
    first = false;
    const close = component.startsWith('[:', index) ? component.indexOf(':]', index + 2) : -1;
    const expansion = close > 0 ? POSIX_CLASSES[component.slice(index + 2, close)] : undefined;
    if (expansion !== undefined) {
      body += expansion;
      index = close + 2;
      continue;
    }
    let character = component[index] as string;
    if (character === '\\' && index + 1 < component.length) character = component[++index] as string;
    body += character === '-' ? '-' : escapeClass(character);
    index++;
  }
  if (index >= component.length) return undefined;
  return { source: `[${negated ? '^' : ''}${body}]`, next: index + 1 };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function escapeClass(character: string): string {
  return /[\]\\^[]/.test(character) ? `\\${character}` : character;
}
