// How shell output looks: sizes (exact or human), times (ls --time-style=long-iso), aligned
// tables, ls-style columns for terminals, and paths shown relative to what the user typed.

import { printable } from '../printable';
import type { ClusterTotal, RebalanceStatus } from '../client/api';
import { isWithin } from '../paths';
import { formatSize } from '../units';

/** Exact bytes, or ls -h style ("1.5K") when `human`. */
export function sizeText(bytes: number, human: boolean): string {
  return human ? formatSize(bytes) : String(bytes);
}

/** "2024-05-01 12:34" in local time, like `ls -l --time-style=long-iso`. */
export function timeText(epochMs: number): string {
  const date = new Date(epochMs);
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

export type Align = 'left' | 'right';

/** Rows as lines with columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function formatTable(cellsOf: readonly (readonly string[])[], align: readonly Align[]): string {
  const rows = cellsOf.map((row) => row.map(printable));
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length);
    });
  }
  const lines = rows.map((row) => {
    const cells = row.map((cell, column) => {
      const width = widths[column] ?? 0;
      return align[column] === 'right' ? cell.padStart(width) : cell.padEnd(width);
    });
    return cells.join('  ').trimEnd();
  });
  return lines.map((line) => `${line}\n`).join('');
}

const COLUMN_GAP = 2;

/** Names in columns filled top to bottom like `ls -C`, as wide as fits in `width` characters. */
export function formatColumns(typed: readonly string[], width: number): string {
  const names = typed.map(printable);
  if (names.length === 0) return '';
  const widest = names.reduce((most, name) => Math.max(most, name.length), 0);
  // At least one column; never more than could fit even if every name were one character long.
  const columnsMax = Math.max(1, Math.min(names.length, Math.floor(width / (1 + COLUMN_GAP))));
  for (let columns = columnsMax; columns > 1; columns--) {
    const rows = Math.ceil(names.length / columns);
    const widths = columnWidths(names, rows);
    const total = widths.reduce((sum, value) => sum + value, 0) + COLUMN_GAP * (widths.length - 1);
    if (total <= width) return layoutColumns(names, rows, widths);
  }
  return layoutColumns(names, names.length, [widest]);
}

function columnWidths(names: readonly string[], rows: number): number[] {
  const widths: number[] = [];
  names.forEach((name, index) => {
    const column = Math.floor(index / rows);
    widths[column] = Math.max(widths[column] ?? 0, name.length);
  });
  return widths;
}

function layoutColumns(names: readonly string[], rows: number, widths: readonly number[]): string {
  let text = '';
  for (let row = 0; row < rows; row++) {
    const cells: string[] = [];
    for (let column = 0; column < widths.length; column++) {
      const name = names[column * rows + row];
      if (name !== undefined) cells.push(name.padEnd((widths[column] ?? 0) + COLUMN_GAP));
    }
    text += `${cells.join('').trimEnd()}\n`;
  }
  return text;
}

/**
 * How find and du show a path below the starting point, like GNU tools: relative to what the user
 * typed ("docs" → "docs/a.txt", "." → "./a.txt"). A typed `~…` start shows absolute paths.
 */
export function displayPath(typed: string, start: string, path: string): string {
  if (typed.startsWith('~') || !isWithin(path, start)) return printable(path);
  if (path === start) return printable(typed);
  const relative = start === '/' ? path.slice(1) : path.slice(start.length + 1);
  return printable(typed.endsWith('/') ? `${typed}${relative}` : `${typed}/${relative}`);
}

/** "rebalance: running, 12 blobs moved (48M), 4 under way, to within 10% of the mean" or, once it stopped, "rebalance:
 * done in 20 s: 12 blobs moved (48M); every node is within 10% of the mean". */
export function rebalanceText(status: RebalanceStatus): string {
  const moved = `${status.moved} blob${status.moved === 1 ? '' : 's'} moved (${formatSize(status.bytes)})${status.failed > 0 ? `, ${status.failed} failed` : ''}`;
  if (status.running) return `rebalance: running, ${moved}, ${status.inFlight} under way, to within ${status.thresholdPct}% of the mean`;
  const seconds = Math.round(((status.endedMs ?? status.startedMs) - status.startedMs) / 1000);
  return `rebalance: done in ${seconds} s: ${moved}; ${status.outcome ?? ''}`;
}

/** "3 nodes: 3 alive, 0 full, 0 dead; capacity 30G, used 1.2G, free 28G" (stopping, draining, drained, read-only and
 * unreachable only when some are). */
export function totalText(total: ClusterTotal): string {
  const draining = [['stopping', total.stopping], ['draining', total.draining], ['drained', total.drained]].map(([name, count]) => (Number(count) > 0 ? `, ${count} ${name}` : '')).join('');
  const readOnly = total.readOnly > 0 ? `, ${total.readOnly} read-only` : '';
  const unreachable = total.unreachable > 0 ? `, ${total.unreachable} unreachable` : '';
  return `${total.nodes} node${total.nodes === 1 ? '' : 's'}: ${total.alive} alive, ${total.full} full${draining}${readOnly}${unreachable}, ${total.dead} dead; capacity ${formatSize(total.capacityBytes)}, used ${formatSize(total.usedBytes)}, free ${formatSize(total.freeBytes)}`;
}
