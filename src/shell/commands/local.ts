// The local side and the screen: lpwd, lcd and lls work on this machine's working directory (where put reads and
// get writes relative paths), clear clears a terminal.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { printable } from '../../printable';
import type { ShellCommand } from '../context';
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
