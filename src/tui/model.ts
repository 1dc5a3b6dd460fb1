// What the explorer shows, without a terminal: the order of a directory's entries, their rows
// (name, size, replicas, time) fitted to a width, the directory's counts, and the lazily loaded
// tree of directories (children fetched only when a directory is opened or expanded).

import { printable } from '../printable';
import type { Entry } from '../client/api';
import { baseName, isWithin, joinPath, parentOf, ROOT } from '../paths';
import { formatSize } from '../units';
import { timeText } from '../shell/format';
import { TUI_TREE_ROWS_MAX } from './constants';

/** How the files pane orders a directory; `s` cycles through them. */
export const SORT_ORDERS = ['name', 'size', 'time'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];

export function nextSort(order: SortOrder): SortOrder {
  return SORT_ORDERS[(SORT_ORDERS.indexOf(order) + 1) % SORT_ORDERS.length] as SortOrder;
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** By name: directories first, then code point order (the master's). By size or time: biggest or newest first,
 * directories among files (by their total size, as ncdu), ties by name. Local entries sort the same way. */
export function sortEntries<T extends Pick<Entry, 'name' | 'kind' | 'size' | 'mtimeMs'>>(entries: readonly T[], order: SortOrder = 'name'): T[] {
  return [...entries].sort((a, b) => {
    if (order === 'size' && a.size !== b.size) return b.size - a.size;
    if (order === 'time' && a.mtimeMs !== b.mtimeMs) return b.mtimeMs - a.mtimeMs;
    if (order === 'name' && a.kind !== b.kind) return a.kind === 'dir' ? -1 : 1;
    return byName(a, b);
  });
}

const BAR_CHARS = 10;

/** ncdu's size column: `[#####     ]  48.2%` — the share of `total` (the directory's bytes) as a bar of 10. */
export function shareText(size: number, total: number): string {
  const share = total > 0 ? size / total : 0;
  const filled = Math.round(share * BAR_CHARS);
  return `[${'#'.repeat(filled)}${' '.repeat(BAR_CHARS - filled)}] ${(share * 100).toFixed(1).padStart(5)}%`;
}
export const SHARE_CHARS = BAR_CHARS + 2 + 1 + 6;

/** "3/3" for a file's replicas (good/wanted), "-" for a directory. */
export function replicaText(entry: Entry): string {
  return entry.replicas ? `${entry.replicas.have}/${entry.replicas.want}` : '-';
}

/** A file with fewer good replicas than wanted. */
export function underReplicated(entry: Entry): boolean {
  return entry.replicas !== null && entry.replicas.have < entry.replicas.want;
}

const SIZE_CHARS = 6;
const REPLICAS_CHARS = 5;
const TIME_CHARS = 16;
const NAME_CHARS_MIN = 8;

export interface EntryColumns {
  name: number;
  /** Whether the modification time fits. */
  time: boolean;
}

/** Before each row: "* " when it is marked (Space), else two blanks. */
export const MARK_CHARS = 2;

/** How wide the name column is in `width` characters (the time is dropped first when narrow); the size view's bar
 * takes its place before the name. */
export function entryColumns(width: number, sizeView = false): EntryColumns {
  const rest = width - MARK_CHARS - (sizeView ? SHARE_CHARS + 1 : 0);
  const withTime = rest - (1 + SIZE_CHARS + 1 + REPLICAS_CHARS + 1 + TIME_CHARS);
  if (withTime >= NAME_CHARS_MIN + 4) return { name: withTime, time: true };
  return { name: Math.max(NAME_CHARS_MIN, rest - (1 + SIZE_CHARS + 1 + REPLICAS_CHARS)), time: false };
}

/** `text` cut to `width` characters with "…" at the end when it is longer, else padded. */
export function fit(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) return text + ' '.repeat(width - chars.length);
  return `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** The column titles; the column the entries are sorted by is marked ▼ (name: ▲, A to Z). */
export function entryHeader(width: number, order: SortOrder = 'name', sizeView = false): string {
  const columns = entryColumns(width, sizeView);
  const title = (text: string, by: SortOrder): string => (order === by ? `${text}${by === 'name' ? '▲' : '▼'}` : text);
  const share = sizeView ? `${fit('Share', SHARE_CHARS)} ` : '';
  const head = `${' '.repeat(MARK_CHARS)}${share}${fit(title('Name', 'name'), columns.name)} ${title('Size', 'size').padStart(SIZE_CHARS)} ${'Repl'.padStart(REPLICAS_CHARS)}`;
  return columns.time ? `${head} ${title('Modified', 'time').padEnd(TIME_CHARS)}` : head;
}

/** The cells of one entry's row, each already fitted to its column. */
export interface EntryCells {
  name: string;
  size: string;
  replicas: string;
  time: string | undefined;
}

export function entryCells(entry: Entry, width: number, sizeView = false): EntryCells {
  const columns = entryColumns(width, sizeView);
  return {
    name: fit(printable(entry.kind === 'dir' ? `${entry.name}/` : entry.name), columns.name),
    size: formatSize(entry.size).padStart(SIZE_CHARS),
    replicas: replicaText(entry).padStart(REPLICAS_CHARS),
    time: columns.time ? timeText(entry.mtimeMs) : undefined,
  };
}

export interface DirectorySummary {
  dirs: number;
  files: number;
  bytes: number;
  underReplicated: number;
}

export function summarize(entries: readonly Entry[]): DirectorySummary {
  const summary: DirectorySummary = { dirs: 0, files: 0, bytes: 0, underReplicated: 0 };
  for (const entry of entries) {
    if (entry.kind === 'dir') summary.dirs++;
    else summary.files++;
    summary.bytes += entry.size;
    if (underReplicated(entry)) summary.underReplicated++;
  }
  return summary;
}

/** "2 dirs, 3 files, 1.5M" (zero counts left out; "empty" for nothing), and the under-replicated files. */
export function summaryText(summary: DirectorySummary): string {
  const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;
  const parts: string[] = [];
  if (summary.dirs > 0) parts.push(plural(summary.dirs, 'dir'));
  if (summary.files > 0) parts.push(plural(summary.files, 'file'), formatSize(summary.bytes));
  if (summary.underReplicated > 0) parts.push(`${summary.underReplicated} under-replicated`);
  return parts.length > 0 ? parts.join(', ') : 'empty';
}

/** One visible line of the directory tree. */
export interface TreeRow {
  path: string;
  depth: number;
  expanded: boolean;
  /** The directory's children are known (it was listed). */
  loaded: boolean;
  /** Known to have no subdirectories. */
  leaf: boolean;
}

/**
 * The user's directories as a tree that is only ever as deep as what was opened: a directory's
 * subdirectories are known once it has been listed (`setChildren`), and shown when it is expanded.
 */
export class DirectoryTree {
  /** Subdirectory paths of each listed directory, sorted. */
  private readonly children = new Map<string, string[]>();
  private readonly expanded = new Set<string>([ROOT]);

  setChildren(path: string, entries: readonly Entry[]): void {
    const dirs = entries.filter((entry) => entry.kind === 'dir').map((entry) => joinPath(path, entry.name));
    this.children.set(path, dirs.sort());
    // Forget what was known below directories that are gone.
    for (const known of [...this.children.keys()]) {
      if (known !== path && isWithin(known, path) && !dirs.some((dir) => isWithin(known, dir))) this.children.delete(known);
    }
  }

  isLoaded(path: string): boolean {
    return this.children.has(path);
  }

  isExpanded(path: string): boolean {
    return this.expanded.has(path);
  }

  expand(path: string): void {
    this.expanded.add(path);
  }

  collapse(path: string): void {
    if (path !== ROOT) this.expanded.delete(path);
  }

  /** Expands `path` and every directory above it (so it shows). */
  reveal(path: string): void {
    for (let current = path; ; current = parentOf(current)) {
      this.expanded.add(current);
      if (current === ROOT) break;
    }
  }

  /** The directories above `path` that have not been listed yet, from the root down. */
  unloadedAncestors(path: string): string[] {
    const missing: string[] = [];
    for (let current = parentOf(path); ; current = parentOf(current)) {
      if (!this.children.has(current)) missing.unshift(current);
      if (current === ROOT) break;
    }
    return path === ROOT ? [] : missing;
  }

  /** The visible rows, depth first (an explicit stack: no recursion over user data), bounded. */
  rows(): TreeRow[] {
    const rows: TreeRow[] = [];
    const stack: { path: string; depth: number }[] = [{ path: ROOT, depth: 0 }];
    while (stack.length > 0 && rows.length < TUI_TREE_ROWS_MAX) {
      const { path, depth } = stack.pop() as { path: string; depth: number };
      const children = this.children.get(path);
      const expanded = this.expanded.has(path);
      rows.push({ path, depth, expanded, loaded: children !== undefined, leaf: children !== undefined && children.length === 0 });
      if (!expanded || children === undefined) continue;
      for (let index = children.length - 1; index >= 0; index--) stack.push({ path: children[index] as string, depth: depth + 1 });
    }
    return rows;
  }
}

/** A tree row as text: indentation, ▾ (open) / ▸ (closed) / · (no subdirectories), the name. */
export function treeRowText(row: TreeRow): string {
  const marker = row.leaf ? '·' : row.expanded && row.loaded ? '▾' : '▸';
  const name = row.path === ROOT ? '~ (your root)' : baseName(row.path);
  return `${'  '.repeat(row.depth)}${marker} ${name}`;
}
