// Commands that walk a subtree: find, du, tree. The master walks; the shell only filters what it
// asks for and draws what comes back, with explicit stacks (never recursion over user data).

import { printable } from '../../printable';
import type { Entry, FindFilter, SizeFilter } from '../../client/api';
import { DfsError } from '../../wire/errors';
import { isWithin, parentOf, resolvePath } from '../../paths';
import { SHELL_TREE_ENTRIES_MAX } from '../../limits';
import { sizeUnitBytes } from '../../units';
import type { ShellCommand, ShellContext, ShellOutput } from '../context';
import { CommandError, forEachOperand, UsageError } from '../errors';
import { displayPath, sizeText } from '../format';
import { entryJson, jsonArray, takeJsonFlag } from '../json';
import { expectOperands, parseFlags } from '../parse';

export interface FindRequest {
  starts: string[];
  filter: FindFilter;
}

/** "+10M", "-5k", "3", "100c" → a size comparison in whole units, as GNU find -size counts. */
export function parseSizeFilter(text: string): SizeFilter {
  const match = /^([+-]?)(\d+)([a-zA-Z]?)$/.exec(text);
  const suffix = match?.[3] ?? '';
  const unitBytes = suffix.toLowerCase() === 'b' ? undefined : sizeUnitBytes(suffix);
  if (!match || unitBytes === undefined || !Number.isSafeInteger(Number(match[2]))) {
    throw new UsageError(`invalid -size '${text}': expected [+-]N with an optional c, K, M or G suffix (no suffix: bytes)`);
  }
  const cmp = match[1] === '+' ? 'gt' : match[1] === '-' ? 'lt' : 'eq';
  return { cmp, count: Number(match[2]), unitBytes };
}

function predicateValue(args: readonly string[], index: number, predicate: string): string {
  const value = args[index + 1];
  if (value === undefined) throw new UsageError(`missing argument to '${predicate}'`);
  return value;
}

/** find's words: start paths first, then -name GLOB, -type f|d and -size [+-]N[KMG], each once. */
export function parseFindArgs(args: readonly string[]): FindRequest {
  const starts: string[] = [];
  const filter: FindFilter = {};
  let index = 0;
  for (; index < args.length && !(args[index] ?? '').startsWith('-'); index++) starts.push(args[index] ?? '');
  for (; index < args.length; index += 2) {
    const predicate = args[index] ?? '';
    const value = predicateValue(args, index, predicate);
    const key = predicate === '-name' ? 'name' : predicate === '-type' ? 'type' : predicate === '-size' ? 'size' : undefined;
    if (key === undefined) {
      throw new UsageError(predicate.startsWith('-') ? `unknown predicate '${predicate}'` : `paths must come before the expression: '${predicate}'`);
    }
    if (filter[key] !== undefined) throw new UsageError(`'${predicate}' given twice`);
    if (key === 'name') filter.name = value;
    if (key === 'size') filter.size = parseSizeFilter(value);
    if (key === 'type') {
      if (value !== 'f' && value !== 'd') throw new UsageError(`invalid -type '${value}': expected f (file) or d (directory)`);
      filter.type = value === 'f' ? 'file' : 'dir';
    }
  }
  return { starts: starts.length > 0 ? starts : ['.'], filter };
}

export const find: ShellCommand = {
  name: 'find',
  usage: 'find [PATH…] [-name GLOB] [-type f|d] [-size [+-]N[KMG]] [--json]',
  summary: 'search for files and directories',
  details: [
    '-name GLOB     the name matches GLOB (* ? [...]); quote it: -name \'*.txt\'',
    '-type f|d      files only, or directories only',
    '-size [+-]N    size rounded up to whole units is N, more than N (+N) or less than N (-N);',
    '               units: none or c = bytes, K, M, G = KiB, MiB, GiB (1024-based)',
    'Paths are printed relative to how the start was typed, like GNU find (default start ".").',
    '--json         one JSON document: an array of entries (as ls --json\'s), absolute paths',
  ],
  operands: 'find',
  async run(args, ctx, out) {
    const { json, rest } = takeJsonFlag(args);
    const request = parseFindArgs(rest);
    const array = json ? jsonArray(out) : undefined;
    try {
      await forEachOperand(out, 'find', request.starts, async (typed) => {
        const start = resolvePath(ctx.cwd, typed);
        for await (const entry of ctx.api.find(start, request.filter)) {
          if (array) array.item(entryJson(entry));
          else out.stdout(`${displayPath(typed, start, entry.path)}\n`);
        }
      });
    } finally {
      array?.end();
    }
  },
};

interface DirectoryUsage {
  path: string;
  bytes: number;
}

/**
 * The master lists directories in path order (each before what is inside it); du prints each after
 * its subdirectories, so the total comes last. A stack of open ancestors does it while streaming:
 * a directory is printed once a path outside it arrives.
 */
async function* deepestFirst(usages: AsyncIterable<DirectoryUsage>): AsyncIterable<DirectoryUsage> {
  const open: DirectoryUsage[] = [];
  for await (const usage of usages) {
    for (let top = open.at(-1); top !== undefined && !isWithin(usage.path, top.path); top = open.at(-1)) {
      yield top;
      open.pop();
    }
    open.push(usage);
  }
  for (let top = open.pop(); top !== undefined; top = open.pop()) yield top;
}

export const du: ShellCommand = {
  name: 'du',
  usage: 'du [-s] [-h] [--json] [PATH…]',
  summary: 'bytes used by each directory, recursively',
  details: [
    '-s  only the total of each PATH',
    '-h  sizes like 1.5K, 20M',
    'Each line is SIZE<tab>PATH, subdirectories before their parent, so the total comes last.',
    '--json  one JSON document: [{"path", "bytes"}] in the same order, absolute paths',
  ],
  operands: 'remote',
  async run(args, ctx, out) {
    const { json, rest } = takeJsonFlag(args);
    const { flags, operands } = parseFlags(rest, 'sh');
    const array = json ? jsonArray(out) : undefined;
    try {
      await forEachOperand(out, 'du', operands.length > 0 ? operands : ['.'], async (typed) => {
        const start = resolvePath(ctx.cwd, typed);
        for await (const usage of deepestFirst(ctx.api.du(start, flags.has('s')))) {
          if (array) array.item({ path: usage.path, bytes: usage.bytes });
          else out.stdout(`${sizeText(usage.bytes, flags.has('h'))}\t${displayPath(typed, start, usage.path)}\n`);
        }
      });
    } finally {
      array?.end();
    }
  },
};

const byName = (left: Entry, right: Entry): number => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0);

/** Everything below `root`, grouped by parent directory and sorted by name, whatever order it came in. */
async function collectTree(ctx: ShellContext, root: string): Promise<Map<string, Entry[]>> {
  const children = new Map<string, Entry[]>();
  let count = 0;
  for await (const entry of ctx.api.tree(root)) {
    if (entry.path === root) continue;
    if (++count > SHELL_TREE_ENTRIES_MAX) {
      throw new CommandError(`more than ${SHELL_TREE_ENTRIES_MAX} entries to draw; use find or du on a smaller part`);
    }
    const parent = parentOf(entry.path);
    const siblings = children.get(parent) ?? [];
    siblings.push(entry);
    children.set(parent, siblings);
  }
  for (const siblings of children.values()) siblings.sort(byName);
  return children;
}

interface TreeFrame {
  entries: Entry[];
  index: number;
  indent: string;
}

/** Draws like tree(1): ├── and └── branches, │ for open levels, then the directory/file count. */
export function drawTree(label: string, root: string, children: ReadonlyMap<string, Entry[]>, out: ShellOutput): void {
  let directories = 0;
  let files = 0;
  let text = `${printable(label)}\n`;
  const stack: TreeFrame[] = [{ entries: children.get(root) ?? [], index: 0, indent: '' }];
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    const entry = frame.entries[frame.index++];
    if (entry === undefined) {
      stack.pop();
      continue;
    }
    const last = frame.index === frame.entries.length;
    text += `${frame.indent}${last ? '└── ' : '├── '}${printable(entry.name)}\n`;
    if (entry.kind === 'file') {
      files++;
      continue;
    }
    directories++;
    stack.push({ entries: children.get(entry.path) ?? [], index: 0, indent: `${frame.indent}${last ? '    ' : '│   '}` });
  }
  const plural = (count: number, one: string, many: string): string => `${count} ${count === 1 ? one : many}`;
  out.stdout(`${text}\n${plural(directories, 'directory', 'directories')}, ${plural(files, 'file', 'files')}\n`);
}

export const tree: ShellCommand = {
  name: 'tree',
  usage: 'tree [PATH…]',
  summary: 'draw a directory tree',
  operands: 'remote',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 0, Infinity);
    await forEachOperand(out, 'tree', operands.length > 0 ? operands : ['.'], async (typed) => {
      const root = resolvePath(ctx.cwd, typed);
      const entry = await ctx.api.stat(root);
      if (entry.kind !== 'dir') throw new DfsError('NOT_A_DIRECTORY', `${root} is not a directory`);
      drawTree(typed, root, await collectTree(ctx, root), out);
    });
  },
};
