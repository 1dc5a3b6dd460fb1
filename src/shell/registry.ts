// The shell's command table and how a line runs: look the command up, let it parse its words,
// turn what it throws into `dfs: CMD: …` lines, and stop after `exit`.

import { printable } from '../printable';
import { cd, ls, pwd } from './commands/navigation';
import { count, cp, mkdir, mv, rm, setrep, stat, touch } from './commands/files';
import { clear, lcd, lls, lpwd, spawnLocal } from './commands/local';
import { head, tail } from './commands/read';
import { du, find, tree } from './commands/walk';
import { passwd, quota, unlock, useradd, userdel, users, whoami } from './commands/users';
import { backup, df, drain, forget, fsck, nodes, rebalance, token, undrain } from './commands/cluster';
import { cat, get, put } from './commands/transfer';
import { tui } from './commands/tui';
import { commandHelp, exit, helpCommand, quit } from './commands/meta';
import type { ShellCommand, ShellContext, ShellOutput } from './context';
import { CommandFailed, reportError, UsageError } from './errors';
import { expandWords } from './expand';
import { LineSyntaxError, parseLineWords, type Word } from './parse';

const help = helpCommand(() => COMMANDS);

export const COMMANDS: readonly ShellCommand[] = [
  ls, cd, pwd, mkdir, rm, mv, cp, stat, setrep, touch, count, put, get, cat, head, tail, find, du, tree, whoami, passwd, useradd, users, userdel, unlock, quota, nodes, df, drain, undrain, forget, rebalance, token, backup, fsck, tui, lpwd, lcd, lls, clear, help, exit, quit,
];

export function findCommand(name: string): ShellCommand | undefined {
  return COMMANDS.find((command) => command.name === name);
}

/** Runs one command's words; 0 when it succeeded, 1 when it failed (already reported on stderr). */
export async function runCommand(words: readonly string[], ctx: ShellContext, out: ShellOutput): Promise<0 | 1> {
  const [name, ...args] = words;
  if (name === undefined) return 0;
  const command = findCommand(name);
  if (!command) {
    out.stderr(`dfs: ${printable(name)}: command not found (type help for the list)\n`);
    return 1;
  }
  if (args[0] === '--help') {
    out.stdout(commandHelp(command));
    return 0;
  }
  try {
    await command.run(args, ctx, out);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) out.stderr(`dfs: ${name}: ${printable(error.message)}\nusage: ${command.usage}\n`);
    else if (!(error instanceof CommandFailed)) reportError(out, name, undefined, error);
    return 1;
  }
}

/** What running a line came to: every command succeeded, one failed, or the line did not parse. */
export type LineStatus = 'ok' | 'failed' | 'syntax-error';

/** Expands a command's globs (expand.ts), then runs it as runCommand does; a pattern that fails is its error. */
async function runWords(words: readonly Word[], ctx: ShellContext, out: ShellOutput): Promise<0 | 1> {
  const name = words[0]?.text ?? '';
  const command = findCommand(name);
  if (!command) return runCommand(words.map((word) => word.text), ctx, out);
  let args: string[];
  try {
    args = await expandWords(command, words.slice(1), ctx);
  } catch (error) {
    reportError(out, name, undefined, error);
    return 1;
  }
  return runCommand([name, ...args], ctx, out);
}

/** Runs the `;`-separated commands of a line in order, all of them, until one asks to exit. */
export async function runLine(line: string, ctx: ShellContext, out: ShellOutput): Promise<LineStatus> {
  const bang = /^\s*!/.exec(line);
  if (bang) {
    // sftp's !COMMAND: the rest of the line is the local shell's, `;` and quotes included.
    const status = await (ctx.local ?? spawnLocal(out, 'ignore'))(line.slice(bang[0].length));
    if (status === 0) return 'ok';
    if (ctx.stopOnError) ctx.exitRequested = true;
    return 'failed';
  }
  let commands: Word[][];
  try {
    commands = parseLineWords(line);
  } catch (error) {
    if (!(error instanceof LineSyntaxError)) throw error;
    out.stderr(`dfs: syntax error: ${printable(error.message)}\n`);
    return 'syntax-error';
  }
  let status: LineStatus = 'ok';
  for (const words of commands) {
    if ((await runWords(words, ctx, out)) !== 0) {
      status = 'failed';
      if (ctx.stopOnError) ctx.exitRequested = true;
    }
    if (ctx.exitRequested) break;
  }
  return status;
}
