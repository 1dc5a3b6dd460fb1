// Reading what people type: a line into commands (split on `;`) and words (whitespace, single and
// double quotes, backslash escapes, `#` comments at a word's start), and a command's words into
// flags and operands (combined flags like -lh, `--` ends options).
// The scanner also reports where the last word starts and which quote is open, for completion, and
// keeps each word's glob pattern: `*`, `?` and `[` typed unquoted are wildcards, quoted or escaped
// they are themselves (the pattern escapes them with a backslash).

import { isWildcard, parseGlob } from '../glob';
import { UsageError } from './errors';

export type Quote = "'" | '"';

export interface Word {
  /** The word with quotes and escapes removed. */
  text: string;
  /** Offset in the line of the word's first character (a quote or backslash included). */
  start: number;
  /** The word as a glob pattern (wildcards typed unquoted, every other glob character escaped), or null when it
   * has no unquoted wildcard. */
  pattern: string | null;
}

export interface LineScan {
  /** Every command, the empty ones included (`a;;b` has an empty one in the middle). */
  commands: Word[][];
  /** The quote still open at the end of the line, if any. */
  openQuote: Quote | null;
  /** The line ends with a backslash that escapes nothing. */
  danglingEscape: boolean;
  /** The last word reaches the end of the line: typing more would extend it. */
  wordAtEnd: boolean;
  /** The line ends inside a comment. */
  inComment: boolean;
}

export class LineSyntaxError extends Error {
  override name = 'LineSyntaxError';
}

interface ScanState {
  commands: Word[][];
  word: Word | null;
  quote: Quote | null;
  /** A backslash was read: outside quotes it escapes anything, inside "…" only `"` and `\`. */
  escape: 'none' | 'plain' | 'double';
  comment: boolean;
  /** The current word has an unquoted wildcard. */
  wildcard: boolean;
}

const WHITESPACE = /\s/;

export function scanLine(line: string): LineScan {
  const state: ScanState = { commands: [[]], word: null, quote: null, escape: 'none', comment: false, wildcard: false };
  for (let index = 0; index < line.length; index++) {
    step(state, line.charAt(index), index);
  }
  const wordAtEnd = state.word !== null && !state.comment;
  endWord(state);
  return {
    commands: state.commands,
    openQuote: state.quote,
    danglingEscape: state.escape !== 'none',
    wordAtEnd,
    inComment: state.comment,
  };
}

/** The commands of a line as lists of words, empty commands dropped; throws on open quotes. */
export function parseLine(line: string): string[][] {
  return parseLineWords(line).map((words) => words.map((word) => word.text));
}

/** parseLine with each word's glob pattern. */
export function parseLineWords(line: string): Word[][] {
  const scan = scanLine(line);
  if (scan.openQuote !== null) throw new LineSyntaxError(`unterminated ${scan.openQuote === '"' ? 'double' : 'single'} quote`);
  if (scan.danglingEscape) throw new LineSyntaxError('the line ends with a backslash that escapes nothing');
  return scan.commands.filter((words) => words.length > 0);
}

const GLOB_SPECIAL = /[*?[\]\\]/g;
const WILDCARD = /[*?[]/;

function step(state: ScanState, char: string, index: number): void {
  if (state.comment) return;
  if (state.escape !== 'none') {
    const keepBackslash = state.escape === 'double' && char !== '"' && char !== '\\';
    append(state, keepBackslash ? `\\${char}` : char, index);
    state.escape = 'none';
    return;
  }
  if (state.quote !== null) {
    stepQuoted(state, state.quote, char, index);
    return;
  }
  if (WHITESPACE.test(char)) {
    endWord(state);
  } else if (char === ';') {
    endWord(state);
    state.commands.push([]);
  } else if (char === '#' && state.word === null) {
    state.comment = true;
  } else if (char === '\\') {
    append(state, '', index);
    state.escape = 'plain';
  } else if (char === "'" || char === '"') {
    append(state, '', index);
    state.quote = char;
  } else {
    append(state, char, index, char === ']' ? 'raw' : WILDCARD.test(char) ? 'wildcard' : 'literal');
  }
}

function stepQuoted(state: ScanState, quote: Quote, char: string, index: number): void {
  if (char === quote) state.quote = null;
  else if (quote === '"' && char === '\\') state.escape = 'double';
  else append(state, char, index);
}

/** Adds text to the current word, starting one at `index` if none is open ('' just starts it). In the pattern, a
 * `wildcard` (unquoted * ? [) and an unquoted ] (`raw`: it closes a set, and is itself elsewhere) stay as typed. */
function append(state: ScanState, text: string, index: number, glob: 'literal' | 'raw' | 'wildcard' = 'literal'): void {
  if (state.word === null) state.word = { text: '', start: index, pattern: '' };
  state.word.text += text;
  state.word.pattern += glob === 'literal' ? text.replace(GLOB_SPECIAL, (char) => `\\${char}`) : text;
  if (glob === 'wildcard') state.wildcard = true;
}

function endWord(state: ScanState): void {
  if (state.word === null) return;
  // `a[b` holds no wildcard after all: its '[' opens no set, so the word is taken as typed, as bash does.
  if (!state.wildcard || !isWildcard(parseGlob(state.word.pattern ?? ''))) state.word.pattern = null;
  state.commands[state.commands.length - 1]?.push(state.word);
  state.word = null;
  state.wildcard = false;
}

export interface ParsedFlags {
  flags: Set<string>;
  operands: string[];
}

/**
 * Splits words into single-letter flags (from `allowed`) and operands. Flags may be combined
 * (-lh) and may follow operands, as with GNU tools; `--` makes every later word an operand and
 * a lone `-` is an operand.
 */
export function parseFlags(args: readonly string[], allowed: string): ParsedFlags {
  const flags = new Set<string>();
  const operands: string[] = [];
  let optionsEnded = false;
  for (const arg of args) {
    if (optionsEnded || !arg.startsWith('-') || arg === '-') {
      operands.push(arg);
    } else if (arg === '--') {
      optionsEnded = true;
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unrecognized option '${arg}'`);
    } else {
      for (const letter of arg.slice(1)) {
        if (!allowed.includes(letter)) throw new UsageError(`invalid option -- '${letter}'`);
        flags.add(letter);
      }
    }
  }
  return { flags, operands };
}

/** Throws a usage error unless the operand count is within bounds. */
export function expectOperands(operands: readonly string[], min: number, max: number): void {
  if (operands.length < min) throw new UsageError(min === 1 && operands.length === 0 ? 'missing operand' : `expected at least ${min} operands`);
  if (operands.length > max) throw new UsageError(`extra operand '${operands[max] ?? ''}'`);
}
