// The local side and the screen: lpwd, lcd and lls work on this machine's working directory (where put reads and
// get writes relative paths), `!COMMAND` runs a command there, clear clears a terminal.

import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { printable } from '../../printable';
import type { ShellCommand, ShellOutput } from '../context';
import { CommandError } from '../errors';
import { formatColumns } from '../format';
import { expectOperands, parseFlags } from '../parse';
import { localReason } from './local-walk';

export const lpwd: ShellCommand = {
  name: 'lpwd',
  usage: 'lpwd',
  summary: 'print the local working directory (where put and get resolve local paths)',
  operands: 'nothing',
  async run(args, _ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    out.stdout(`${printable(process.cwd())}\n`);
  },
};

export const lcd: ShellCommand = {
  name: 'lcd',
  usage: 'lcd [DIR]',
  summary: 'change the local working directory (default: your home)',
  operands: 'local',
  async run(args, _ctx, _out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 0, 1);
    const target = path.resolve(operands[0] ?? os.homedir());
    try {
      process.chdir(target);
    } catch (error) {
      throw new CommandError(`${printable(target)}: ${localReason(error)}`);
    }
  },
};

export const lls: ShellCommand = {
  name: 'lls',
  usage: 'lls [DIR]',
  summary: 'list a local directory (directories end in /)',
  operands: 'local',
  async run(args, _ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 0, 1);
    const directory = path.resolve(operands[0] ?? '.');
    let entries;
    try {
      entries = await fs.readdir(directory, { withFileTypes: true });
    } catch (error) {
      throw new CommandError(`${printable(directory)}: ${localReason(error)}`);
    }
    const names = entries.map((entry) => `${entry.name}${entry.isDirectory() ? '/' : ''}`).sort();
    if (names.length === 0) return;
    out.stdout(out.columns === undefined ? names.map((name) => `${printable(name)}\n`).join('') : formatColumns(names, out.columns));
  },
};

export const clear: ShellCommand = {
  name: 'clear',
  usage: 'clear',
  summary: 'clear the terminal',
  operands: 'nothing',
  async run(args, _ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    if (out.columns !== undefined) out.stdout('\x1b[H\x1b[2J\x1b[3J');
  },
};

/** How `!COMMAND` runs on this machine: the REPL hands the terminal over (cooked mode) while it runs. */
export type LocalShell = (command: string) => Promise<number>;

let localCommands = 0;

/** A local command runs: Ctrl-C at the terminal signals it (and this process, which then stays: the command is the
 * one to stop, as in sh). */
export function isLocalCommandRunning(): boolean {
  return localCommands > 0;
}

/** `!COMMAND` (sftp's): the rest of the line runs in /bin/sh on this machine (`!` alone: an interactive $SHELL). Its
 * output goes straight to this process's stdout and stderr when it has them, else (tests) into `out`. */
export function spawnLocal(out: ShellOutput, stdin: 'inherit' | 'ignore'): LocalShell {
  return (command) => new Promise((resolve) => {
    const args = command.trim() === '' ? [process.env.SHELL ?? '/bin/sh', []] as const : ['/bin/sh', ['-c', command]] as const;
    const direct = out.binary !== undefined;
    const child = spawn(args[0], args[1], { stdio: [stdin, direct ? 'inherit' : 'pipe', direct ? 'inherit' : 'pipe'] });
    localCommands++;
    child.once('close', () => localCommands--);
    child.stdout?.on('data', (chunk: Buffer) => out.stdout(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => out.stderr(chunk.toString()));
    child.once('error', (error) => {
      out.stderr(`dfs: !: ${localReason(error)}\n`);
      resolve(127);
    });
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : (osConstants.signals[signal] ?? 0))));
  });
}
