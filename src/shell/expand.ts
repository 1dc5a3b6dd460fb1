// Which side each word of a command names (a remote path, a local one, or neither), and glob expansion of the
// words that hold wildcards against that side: the cluster's namespace through ClusterApi.list, this machine's
// through readdir (relative to the local working directory, which lcd moves).

import { promises as fs } from 'node:fs';
import { DfsError } from '../wire/errors';
import { resolvePath } from '../paths';
import type { OperandKind, ShellCommand, ShellContext } from './context';
import { expandGlob, type Lister } from './glob';
import type { Word } from './parse';

export type WordSide = 'remote' | 'local' | 'command' | 'other';

/** Flags take no part: a word starting with '-' (not '-' itself) before `--`. */
function isOperand(word: string, optionsEnded: boolean): boolean {
  return optionsEnded || !word.startsWith('-') || word === '-';
}

/** What each of `args` (a command's words after its name) names, by the command's operand kind. */
export function wordSides(kind: OperandKind, args: readonly string[]): WordSide[] {
  const sides: WordSide[] = args.map(() => 'other');
  const operands: number[] = [];
  let optionsEnded = false;
  args.forEach((word, index) => {
    if (!optionsEnded && word === '--') optionsEnded = true;
    else if (isOperand(word, optionsEnded)) operands.push(index);
  });
  const last = operands.length >= 2 ? operands.at(-1) : undefined;
  for (const index of operands) {
    const word = args[index] as string;
    const previous = args[index - 1];
    if (kind === 'remote') sides[index] = 'remote';
    else if (kind === 'local') sides[index] = 'local';
    else if (kind === 'commands') sides[index] = 'command';
    else if (kind === 'upload') sides[index] = index === last ? 'remote' : 'local';
    else if (kind === 'download') sides[index] = index === last ? 'local' : 'remote';
    else if (kind === 'find' && !(previous !== undefined && /^-(name|type|size)$/.test(previous)) && !word.startsWith('-')) sides[index] = 'remote';
  }
  return sides;
}

/**
 * The command's words with every unquoted wildcard expanded on its word's side. A put or get whose single
 * operand was a pattern gets its working directory as the target, so `put *.csv` puts every match here rather
 * than reading the last match as the target. Throws CommandError (no match, too many) naming the pattern.
 */
export async function expandWords(command: ShellCommand, words: readonly Word[], ctx: ShellContext): Promise<string[]> {
  const texts = words.map((word) => word.text);
  if (words.every((word) => word.pattern === null)) return texts;
  const sides = wordSides(command.operands, texts);
  const expanded: string[] = [];
  let operands = 0;
  let patternOperand = false;
  for (const [index, word] of words.entries()) {
    const side = sides[index];
    if (side === 'remote' || side === 'local') operands++;
    if (word.pattern === null || (side !== 'remote' && side !== 'local')) {
      expanded.push(word.text);
      continue;
    }
    patternOperand = true;
    expanded.push(...(await expandGlob(word.pattern, side === 'remote' ? remoteLister(ctx) : localLister)));
  }
  if (patternOperand && operands === 1 && (command.operands === 'upload' || command.operands === 'download') && expanded.length > texts.length) {
    expanded.push('.');
  }
  return expanded;
}

/** The cluster's directories as globs and completion see them ('' is the working directory, `~/` the user's root). */
export function remoteLister(ctx: ShellContext): Lister {
  return async (directory) => {
    const path = resolvePath(ctx.cwd, directory === '' ? '.' : directory);
    try {
      const entries = await ctx.api.list(path);
      if (entries.length === 1 && entries[0]?.path === path && entries[0].kind === 'file') return undefined;
      return entries.map((entry) => ({ name: entry.name, directory: entry.kind === 'dir' }));
    } catch (error) {
      if (error instanceof DfsError && (error.code === 'NOT_FOUND' || error.code === 'NOT_A_DIRECTORY')) return undefined;
      throw error;
    }
  };
}

/** This machine's directories, relative to the local working directory; symlinks to directories count as ones. */
export const localLister: Lister = async (directory) => {
  try {
    const entries = await fs.readdir(directory === '' ? '.' : directory, { withFileTypes: true });
    return Promise.all(entries.map(async (entry) => ({
      name: entry.name,
      directory: entry.isDirectory() || (entry.isSymbolicLink() && (await fs.stat(`${directory}${entry.name}`).then((stat) => stat.isDirectory(), () => false))),
      link: entry.isSymbolicLink(),
    })));
  } catch {
    return undefined;
  }
};
