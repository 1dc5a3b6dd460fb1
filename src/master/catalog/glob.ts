// find -name → SQLite GLOB. Both are case-sensitive with * ? [...] and ranges; find writes [!x]
// where SQLite writes [^x]; a backslash makes the next character literal ([*] in GLOB); a "[" that
// opens no complete set is literal, as in fnmatch; POSIX classes like [[:digit:]] are expanded.

import { GLOB_BYTES_MAX } from '../../limits';
import { DfsError } from '../../wire/errors';

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  xdigit: '0-9a-fA-F',
  space: ' \t\n\r\f\v',
  blank: ' \t',
};

export function toSqliteGlob(pattern: string): string {
  let glob = '';
  for (let index = 0; index < pattern.length; ) {
    const character = pattern[index] as string;
    if (character === '\\' && index + 1 < pattern.length) {
      glob += literalGlob(pattern[index + 1] as string);
      index += 2;
    } else if (character === '[') {
      const set = bracketGlob(pattern, index);
      glob += set?.glob ?? '[[]';
      index = set?.next ?? index + 1;
    } else {
      glob += character;
      index++;
    }
  }
  return glob;
}

function literalGlob(character: string): string {
  return character === '*' || character === '?' || character === '[' ? `[${character}]` : character;
}

/** The set starting at pattern[start] === '[', or undefined if it is never closed. */
function bracketGlob(pattern: string, start: number): { glob: string; next: number } | undefined {
  let index = start + 1;
  let negated = false;
  if (pattern[index] === '!' || pattern[index] === '^') {
    negated = true;
    index++;
  }
  let body = '';
  if (pattern[index] === ']') {
    body += ']';
    index++;
  }
  while (index < pattern.length && pattern[index] !== ']') {
    const close = pattern.startsWith('[:', index) ? pattern.indexOf(':]', index + 2) : -1;
    const expansion = close > 0 ? POSIX_CLASSES[pattern.slice(index + 2, close)] : undefined;
    if (expansion !== undefined) {
      body += expansion;
      index = close + 2;
    } else {
      body += pattern[index] === '\\' && index + 1 < pattern.length ? pattern[++index] : pattern[index];
      index++;
    }
  }
  if (index >= pattern.length) return undefined;
  return { glob: `[${negated ? '^' : ''}${body}]`, next: index + 1 };
}

/** Throws BAD_REQUEST unless `pattern` is a name pattern the catalog accepts. */
export function checkGlob(pattern: string): string {
  if (typeof pattern !== 'string' || Buffer.byteLength(pattern) > GLOB_BYTES_MAX || pattern.includes('\0')) {
    throw new DfsError('BAD_REQUEST', `a name pattern must be a string of at most ${GLOB_BYTES_MAX} bytes without NUL`);
  }
  return pattern;
}
