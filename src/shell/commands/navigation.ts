// Moving around and looking: ls, cd, pwd.

import { printable } from '../../printable';
import type { Entry } from '../../client/api';
import { DfsError } from '../../wire/errors';
import { resolvePath } from '../../paths';
import type { ShellCommand, ShellOutput } from '../context';
import { forEachOperand } from '../errors';
import { formatColumns, formatTable, sizeText, timeText } from '../format';
import { entryJson, printJson, takeJsonFlag } from '../json';
import { expectOperands, parseFlags } from '../parse';

interface ListStyle {
  long: boolean;
  human: boolean;
}

interface Listing {
  typed: string;
  entries: Entry[];
}

/** One `ls -l` row: kind, size, replicas (have/want), mtime, name; directories end in '/'. */
function longRow(entry: Entry, name: string, human: boolean): string[] {
  const replicas = entry.replicas ? `${entry.replicas.have}/${entry.replicas.want}` : '-';
  const shown = entry.kind === 'dir' ? `${name}/` : name;
  return [entry.kind === 'dir' ? 'd' : '-', sizeText(entry.size, human), replicas, timeText(entry.mtimeMs), shown];
}

function renderEntries(entries: readonly Entry[], names: readonly string[], style: ListStyle, out: ShellOutput): void {
  if (style.long) {
    const rows = entries.map((entry, index) => longRow(entry, names[index] ?? entry.name, style.human));
    out.stdout(formatTable(rows, ['left', 'right', 'left', 'left', 'left']));
  } else if (out.columns !== undefined) {
    const shown = entries.map((entry, index) => `${names[index] ?? entry.name}${entry.kind === 'dir' ? '/' : ''}`);
    out.stdout(formatColumns(shown, out.columns));
  } else {
    out.stdout(names.map((name) => `${printable(name)}\n`).join(''));
  }
}

/** A directory below the typed `start` as ls -R heads it: the typed path with the rest appended ("." → "./a/b"). */
function typedBelow(typed: string, start: string, path: string): string {
  if (typed.startsWith('~')) return path;
  const relative = start === '/' ? path.slice(1) : path.slice(start.length + 1);
  return typed.endsWith('/') ? `${typed}${relative}` : `${typed}/${relative}`;
}

/** Like ls: file operands first (by the names typed), then each directory, headed when several. */
function renderListings(files: readonly Listing[], directories: readonly Listing[], style: ListStyle, out: ShellOutput, recursive = false): void {
  const headed = recursive || files.length + directories.length > 1;
  if (files.length > 0) {
    const entries = files.flatMap((listing) => listing.entries);
    renderEntries(entries, files.map((listing) => listing.typed), style, out);
  }
  directories.forEach((listing, index) => {
    if (files.length > 0 || index > 0) out.stdout('\n');
    if (headed) out.stdout(`${printable(listing.typed)}:\n`);
    renderEntries(listing.entries, listing.entries.map((entry) => entry.name), style, out);
  });
}

export const ls: ShellCommand = {
  name: 'ls',
  usage: 'ls [-l] [-h] [-a] [-R] [--json] [PATH…]',
  summary: 'list a directory, or show a file',
  details: [
    '-l  long format: kind (d or -), size in bytes, replicas (good/wanted), mtime, name',
    '-h  with -l: sizes like 1.5K, 20M',
    '-a  names starting with "." too (hidden otherwise, as ls does)',
    '-R  each directory below too, headed by its path, as ls -R does',
    '--json  one JSON document: [{"path", "entries": [{"path", "name", "type", "size", "mtime", "mtimeMs",',
    '        "sha256", "replicas": {"have", "want"}}]}], one item per file operand and per directory listed',
    'A directory\'s size is the total of the files beneath it. On a terminal names are shown',
    'in columns with a trailing / on directories; otherwise one name per line.',
  ],
  operands: 'remote',
  async run(args, ctx, out) {
    const { json, rest } = takeJsonFlag(args);
    const { flags, operands } = parseFlags(rest, 'lhaR');
    const style: ListStyle = { long: flags.has('l'), human: flags.has('h') };
    const shown = (entry: Entry): boolean => flags.has('a') || !entry.name.startsWith('.');
    const files: Listing[] = [];
    const directories: Listing[] = [];
    try {
      await forEachOperand(out, 'ls', operands.length > 0 ? operands : ['.'], async (typed) => {
        const path = resolvePath(ctx.cwd, typed);
        const entries = await ctx.api.list(path);
        const isFile = entries.length === 1 && entries[0]?.path === path && entries[0].kind === 'file';
        if (isFile) return void files.push({ typed, entries });
        directories.push({ typed, entries: entries.filter(shown) });
        if (!flags.has('R')) return;
        // Depth first, each directory's subdirectories in name order, as ls -R lists them.
        const below = entries.filter((entry) => entry.kind === 'dir' && shown(entry)).map((entry) => entry.path).reverse();
        for (let next = below.pop(); next !== undefined; next = below.pop()) {
          const children = (await ctx.api.list(next)).filter(shown);
          directories.push({ typed: typedBelow(typed, path, next), entries: children });
          below.push(...children.filter((entry) => entry.kind === 'dir').map((entry) => entry.path).reverse());
        }
      });
    } finally {
      if (!json) renderListings(files, directories, style, out, flags.has('R'));
      else printJson(out, [...files, ...directories].map((listing) => ({ path: listing.typed, entries: listing.entries.map(entryJson) })));
    }
  },
};

export const cd: ShellCommand = {
  name: 'cd',
  usage: 'cd [PATH]',
  summary: 'change the working directory (no PATH: ~, your root)',
  operands: 'remote',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 0, 1);
    await forEachOperand(out, 'cd', [operands[0] ?? '~'], async (typed) => {
      const path = resolvePath(ctx.cwd, typed);
      const entry = await ctx.api.stat(path);
      if (entry.kind !== 'dir') throw new DfsError('NOT_A_DIRECTORY', `${path} is not a directory`);
      ctx.cwd = path;
    });
  },
};

export const pwd: ShellCommand = {
  name: 'pwd',
  usage: 'pwd',
  summary: 'print the working directory',
  operands: 'nothing',
  async run(args, ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    out.stdout(`${printable(ctx.cwd)}\n`);
  },
};
