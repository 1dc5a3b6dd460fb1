// find -name → SQLite GLOB. Both are case-sensitive with * ? [...] and ranges; find writes [!x] where SQLite
// writes [^x]; a literal * ? or [ is written as a set of one ([*]). The pattern is read by src/glob.ts.

import { GLOB_BYTES_MAX } from '../../limits';
import { parseGlob, type GlobToken } from '../../glob';
import { DfsError } from '../../wire/errors';

export function toSqliteGlob(pattern: string): string {
  return parseGlob(pattern).map(sqliteToken).join('');
}

function sqliteToken(token: GlobToken): string {
  switch (token.kind) {
    case 'star':
      return '*';
    case 'one':
      return '?';
    case 'text':
      return token.text.replace(/[*?[]/g, (character) => `[${character}]`);
    case 'set': {
      // In SQLite's sets a ']' is a member only first, a '-' only last, and '^' first means negation.
      const ranges = token.members.map(([from, to]) => (from === to ? from : `${from}-${to}`));
      const closing = ranges.filter((range) => range === ']');
      const dash = ranges.filter((range) => range === '-');
      const rest = ranges.filter((range) => range !== ']' && range !== '-');
      if (!token.negated && closing.length === 0 && rest[0]?.startsWith('^')) rest.push(rest.shift() as string);
      return `[${token.negated ? '^' : ''}${[...closing.slice(0, 1), ...rest, ...dash.slice(0, 1)].join('')}]`;
    }
  }
}

/** Throws BAD_REQUEST unless `pattern` is a name pattern the catalog accepts. */
export function checkGlob(pattern: string): string {
  if (typeof pattern !== 'string' || Buffer.byteLength(pattern) > GLOB_BYTES_MAX || pattern.includes('\0')) {
    throw new DfsError('BAD_REQUEST', `a name pattern must be a string of at most ${GLOB_BYTES_MAX} bytes without NUL`);
  }
  return pattern;
}
