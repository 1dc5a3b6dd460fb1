// Changing the namespace and inspecting one entry: mkdir, rm, mv, cp, stat, setrep, touch, count.

import { promises as fs } from 'node:fs';
import * as localPath from 'node:path';
import { printable } from '../../printable';
import type { CopyOptions, Entry } from '../../client/api';
import { withTemporaryDirectory } from '../../client/transfer';
import { REPLICAS_MAX, TREE_TRANSFERS_IN_FLIGHT_MAX } from '../../limits';
import { Interrupted, isDfsError } from '../../wire/errors';
import { baseName, isWithin, joinPath, resolvePath, ROOT } from '../../paths';
import { formatSize, parseCount } from '../../units';
import type { ShellCommand, ShellContext, ShellOutput } from '../context';
import { CommandError, CommandFailed, forEachOperand, reportError, usageParse } from '../errors';
import { formatTable, timeText } from '../format';
import { entryJson, printJson, takeJsonFlag } from '../json';
import { expectOperands, parseFlags } from '../parse';
import { inParallel } from './transfer';

export const mkdir: ShellCommand = {
  name: 'mkdir',
  usage: 'mkdir [-p] PATH…',
  summary: 'make directories',
  details: ['-p  make missing parents too, and accept directories that already exist'],
  operands: 'remote',
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
  operands: 'remote',
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
  operands: 'remote',
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

/** A target that is not there yet is undefined. */
async function statIfAny(ctx: ShellContext, path: string): Promise<Entry | undefined> {
  return ctx.api.stat(path).catch((error: unknown) => {
    if (isDfsError(error, 'NOT_FOUND')) return undefined;
    throw error;
  });
}

function copyRefused(error: unknown): unknown {
  return isDfsError(error, 'EXISTS') ? new CommandError('File exists (cp -f replaces it)') : error;
}

export const cp: ShellCommand = {
  name: 'cp',
  usage: 'cp [-r] [-f] [--no-wait] SRC DST | cp [-r] [-f] [--no-wait] SRC… DIR',
  summary: 'copy files on the cluster (the bytes never leave the nodes)',
  details: [
    'A node holding SRC writes the copy and replicates it; nothing passes through this machine.',
    'When DST is an existing directory, SRC is copied into it. Waits for the copy\'s replicas, like put.',
    '-r         copy directories and everything beneath them (-R too); into an existing directory, merged',
    `           ${TREE_TRANSFERS_IN_FLIGHT_MAX} files at a time; a file that fails is reported and the others are still copied`,
    '-f         replace existing files',
    '--no-wait  return once each copy is committed; replication carries on',
  ],
  operands: 'remote',
  async run(args, ctx, out) {
    const wait = !args.includes('--no-wait');
    const { flags, operands } = parseFlags(args.filter((arg) => arg !== '--no-wait'), 'rRf');
    expectOperands(operands, 2, Infinity);
    const options = { overwrite: flags.has('f'), wait };
    const typedTarget = operands[operands.length - 1] ?? '';
    const target = resolvePath(ctx.cwd, typedTarget);
    const targetIsDirectory = (await statIfAny(ctx, target))?.kind === 'dir';
    const sources = operands.slice(0, -1);
    if (sources.length > 1 && !targetIsDirectory) throw new CommandError(`target '${typedTarget}' is not a directory`);
    await forEachOperand(out, 'cp', sources, async (typed) => {
      const source = resolvePath(ctx.cwd, typed);
      const entry = await ctx.api.stat(source);
      const destination = targetIsDirectory ? joinPath(target, baseName(source)) : target;
      if (entry.kind === 'file') {
        await ctx.api.copy(source, destination, options).catch((error: unknown) => {
          throw copyRefused(error);
        });
        return;
      }
      if (!flags.has('r') && !flags.has('R')) throw new CommandError(`-r not specified; omitting directory '${typed}'`);
      if (isWithin(destination, source)) throw new CommandError(`cannot copy a directory, '${typed}', into itself, '${typedTarget}'`);
      await copyTree(ctx, out, source, destination, options);
    });
  },
};

/**
 * cp -r: the tree is listed first (so the copies never copy themselves), its directories made in path
 * order, then its files copied several at once; each failure is reported as `dfs: cp: PATH: reason`.
 */
async function copyTree(ctx: ShellContext, out: ShellOutput, source: string, destination: string, options: CopyOptions): Promise<void> {
  if ((await statIfAny(ctx, destination))?.kind !== 'dir') await ctx.api.mkdir(destination, false);
  const files: { source: string; target: string }[] = [];
  let failures = 0;
  let bytes = 0;
  const failed: string[] = [];
  for await (const entry of ctx.api.tree(source)) {
    if (entry.path === source) continue;
    const target = destination + entry.path.slice(source === ROOT ? 0 : source.length);
    if (failed.some((directory) => isWithin(target, directory))) continue;
    if (entry.kind === 'file') {
      files.push({ source: entry.path, target });
      continue;
    }
    try {
      await ctx.api.mkdir(target, true);
    } catch (error) {
      reportError(out, 'cp', target, error);
      failed.push(target);
      failures++;
    }
  }
  let copied = 0;
  await inParallel(files, TREE_TRANSFERS_IN_FLIGHT_MAX, async (file) => {
    try {
      const entry = await ctx.api.copy(file.source, file.target, options);
      bytes += entry.size;
      copied++;
    } catch (error) {
      if (error instanceof Interrupted) throw error;
      reportError(out, 'cp', file.target, copyRefused(error));
      failures++;
    }
  });
  out.stdout(`${printable(destination)}: ${copied} ${copied === 1 ? 'file' : 'files'}, ${formatSize(bytes)} copied\n`);
  if (failures > 0) throw new CommandFailed(failures);
}

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
  usage: 'stat [--json] PATH…',
  summary: 'show size, mtime, SHA-256, replicas and their nodes',
  details: ['--json  one JSON document: an array of entries (as ls --json\'s, with "replicas": {"have", "want", "nodes"})'],
  operands: 'remote',
  async run(args, ctx, out) {
    const { json, rest } = takeJsonFlag(args);
    const { operands } = parseFlags(rest, '');
    expectOperands(operands, 1, Infinity);
    let first = true;
    const entries: Entry[] = [];
    try {
      await forEachOperand(out, 'stat', operands, async (typed) => {
        const entry = await ctx.api.stat(resolvePath(ctx.cwd, typed));
        if (json) return void entries.push(entry);
        out.stdout(`${first ? '' : '\n'}${formatTable(statRows(entry), ['right', 'left'])}`);
        first = false;
      });
    } finally {
      if (json) printJson(out, entries.map(entryJson));
    }
  },
};

export const setrep: ShellCommand = {
  name: 'setrep',
  usage: 'setrep [-R] N PATH…',
  summary: 'set how many copies files keep; -R for every file under a directory',
  details: [
    'The master adds or trims copies in the background; stat, ls -l and fsck count against N. A file\'s new bytes',
    '(put -f, cp onto it) start again from the master\'s --replicas, as in HDFS. N is 1 to ' + String(REPLICAS_MAX) + '.',
  ],
  operands: 'remote',
  async run(args, ctx, out) {
    const { flags, operands } = parseFlags(args, 'R');
    expectOperands(operands, 2, Infinity);
    const [countText = '', ...paths] = operands;
    const replicas = usageParse(() => parseCount(countText, 'the number of copies', 1, REPLICAS_MAX));
    await forEachOperand(out, 'setrep', paths, async (typed) => {
      const files = await ctx.api.setrep(resolvePath(ctx.cwd, typed), replicas, flags.has('R'));
      out.stdout(`replication of ${printable(typed)} set to ${replicas} (${files} file${files === 1 ? '' : 's'})\n`);
    });
  },
};

export const touch: ShellCommand = {
  name: 'touch',
  usage: 'touch PATH…',
  summary: 'make empty files, or set existing ones\' time to now',
  details: ['The parent directory must exist, as with touch(1).'],
  operands: 'remote',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, Infinity);
    await forEachOperand(out, 'touch', operands, async (typed) => {
      const target = resolvePath(ctx.cwd, typed);
      try {
        await ctx.api.touch(target);
        return;
      } catch (error) {
        if (!isDfsError(error, 'NOT_FOUND')) throw error;
      }
      await withTemporaryDirectory('dfs-touch-', async (directory) => {
        const empty = localPath.join(directory, 'empty');
        await fs.writeFile(empty, '');
        await ctx.api.put([{ localPath: empty, remotePath: target, size: 0 }], { overwrite: false });
      });
    });
  },
};

export const count: ShellCommand = {
  name: 'count',
  usage: 'count PATH…',
  summary: 'directories, files and bytes under each path (HDFS count)',
  details: ['Prints DIRS FILES BYTES PATH; a directory counts itself, as in HDFS.'],
  operands: 'remote',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, Infinity);
    await forEachOperand(out, 'count', operands, async (typed) => {
      const tally = { dirs: 0, files: 0, bytes: 0 };
      for await (const entry of ctx.api.tree(resolvePath(ctx.cwd, typed))) {
        if (entry.kind === 'dir') tally.dirs++;
        else {
          tally.files++;
          tally.bytes += entry.size;
        }
      }
      out.stdout(`${String(tally.dirs).padStart(12)} ${String(tally.files).padStart(12)} ${String(tally.bytes).padStart(18)} ${printable(typed)}\n`);
    });
  },
};
