// Changing the namespace and inspecting one entry: mkdir, rm, mv, stat.

import type { Entry } from '../../../client/api';
import { isDfsError } from '../../../net/errors';
import { resolvePath, ROOT } from '../../../paths';
import { formatSize } from '../../../units';
import type { ShellCommand, ShellContext } from '../context';
import { CommandError, forEachOperand } from '../errors';
import { formatTable, timeText } from '../format';
import { expectOperands, parseFlags } from '../parse';

export const mkdir: ShellCommand = {
  name: 'mkdir',
  usage: 'mkdir [-p] PATH…',
  summary: 'make directories',
  details: ['-p  make missing parents too, and accept directories that already exist'],
  completes: 'paths',
  async run(args, ctx, out) {
    const { flags, operands } = parseFlags(args, 'p');
    expectOperands(operands, 1, Infinity);
    await forEachOperand(out, 'mkdir', operands, async (typed) => {
      await ctx.api.mkdir(resolvePath(ctx.cwd, typed), flags.has('p'));
    });
  },
};

/** rm refuses `.`, `..` and the root like coreutils: removing them is never what was meant. */
function removablePath(ctx: ShellContext, typed: string): string {
  const last = typed.replace(/\/+$/, '').split('/').pop();
  if (last === '.' || last === '..') throw new CommandError('refusing to remove \'.\' or \'..\' directory');
  const path = resolvePath(ctx.cwd, typed);
  if (path === ROOT) throw new CommandError('refusing to remove the root directory; remove what is in it instead');
  return path;
}

export const rm: ShellCommand = {
  name: 'rm',
  usage: 'rm [-r] [-f] PATH…',
  summary: 'remove files and empty directories; -r for whole trees',
  details: ['-r  remove directories and everything beneath them (-R too)', '-f  say nothing about paths that do not exist'],
  completes: 'paths',
  async run(args, ctx, out) {
    const { flags, operands } = parseFlags(args, 'rRf');
    if (!flags.has('f')) expectOperands(operands, 1, Infinity);
    const recursive = flags.has('r') || flags.has('R');
    await forEachOperand(out, 'rm', operands, async (typed) => {
      try {
        await ctx.api.remove(removablePath(ctx, typed), recursive);
      } catch (error) {
        if (!(flags.has('f') && isDfsError(error, 'NOT_FOUND'))) throw error;
      }
    });
  },
};

export const mv: ShellCommand = {
  name: 'mv',
  usage: 'mv SRC DST | mv SRC… DIR',
  summary: 'move or rename',
  details: [
    'When DST is an existing directory, SRC is moved into it. A file replaces a file;',
    'nothing replaces a directory, and a directory cannot move into itself.',
  ],
  completes: 'paths',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 2, Infinity);
    const typedTarget = operands[operands.length - 1] ?? '';
    const target = resolvePath(ctx.cwd, typedTarget);
    const sources = operands.slice(0, -1);
    if (sources.length > 1) {
      const entry = await ctx.api.stat(target).catch((error: unknown) => {
        if (isDfsError(error, 'NOT_FOUND')) return undefined;
        throw error;
      });
      if (entry?.kind !== 'dir') throw new CommandError(`target '${typedTarget}' is not a directory`);
    }
    await forEachOperand(out, 'mv', sources, async (typed) => {
      const source = resolvePath(ctx.cwd, typed);
      try {
        await ctx.api.move(source, target);
      } catch (error) {
        // The master says NOT_FOUND for a missing source and for a missing target parent alike.
        if (!isDfsError(error, 'NOT_FOUND') || !(await ctx.api.stat(source).then(() => true, () => false))) throw error;
        throw new CommandError(`cannot move to '${typedTarget}': No such file or directory`);
      }
    });
  },
};

function statRows(entry: Entry): string[][] {
  const rows = [
    ['Path:', entry.path],
    ['Kind:', entry.kind === 'dir' ? 'directory' : 'file'],
    ['Size:', entry.size >= 1024 ? `${entry.size} bytes (${formatSize(entry.size)})` : `${entry.size} bytes`],
    ['Modified:', `${timeText(entry.mtimeMs)} (${new Date(entry.mtimeMs).toISOString()})`],
  ];
  if (entry.kind === 'file') rows.push(['SHA-256:', entry.sha256 ?? '-']);
  if (entry.replicas) {
    rows.push(['Replicas:', `${entry.replicas.have}/${entry.replicas.want}`]);
    rows.push(['Nodes:', entry.replicas.nodes.length > 0 ? entry.replicas.nodes.join(', ') : '-']);
  }
  return rows;
}

export const stat: ShellCommand = {
  name: 'stat',
  usage: 'stat PATH…',
  summary: 'show size, mtime, SHA-256, replicas and their nodes',
  completes: 'paths',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, Infinity);
    let first = true;
    await forEachOperand(out, 'stat', operands, async (typed) => {
      const entry = await ctx.api.stat(resolvePath(ctx.cwd, typed));
      out.stdout(`${first ? '' : '\n'}${formatTable(statRows(entry), ['right', 'left'])}`);
      first = false;
    });
  },
};
