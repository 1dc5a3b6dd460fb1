// `--json` on ls, stat, find, du, nodes and df: one JSON document on stdout, with field names that stay (README's
// "Machine-readable output" lists them). Times are ISO 8601 (UTC) and epoch milliseconds; sizes are bytes.

import type { Entry } from '../client/api';
import { printableJson } from '../printable';
import type { ShellOutput } from './context';

/** `--json` among a command's words (before `--`): whether it was there, and the other words. */
export function takeJsonFlag(args: readonly string[]): { json: boolean; rest: string[] } {
  const end = args.indexOf('--');
  const options = end < 0 ? args : args.slice(0, end);
  if (!options.includes('--json')) return { json: false, rest: [...args] };
  return { json: true, rest: [...options.filter((arg) => arg !== '--json'), ...(end < 0 ? [] : args.slice(end))] };
}

export interface EntryJson {
  path: string;
  name: string;
  type: 'file' | 'dir';
  size: number;
  mtime: string;
  mtimeMs: number;
  /** Files: SHA-256 of the content (hex). */
  sha256?: string;
  /** Files: good copies, copies wanted, and (stat) the nodes holding them. */
  replicas?: { have: number; want: number; nodes?: string[] };
}

export function entryJson(entry: Entry): EntryJson {
  const json: EntryJson = { path: entry.path, name: entry.name, type: entry.kind, size: entry.size, mtime: new Date(entry.mtimeMs).toISOString(), mtimeMs: entry.mtimeMs };
  if (entry.sha256 !== null) json.sha256 = entry.sha256;
  if (entry.replicas) json.replicas = { have: entry.replicas.have, want: entry.replicas.want, ...(entry.replicas.nodes.length > 0 ? { nodes: entry.replicas.nodes } : {}) };
  return json;
}

export function printJson(out: ShellOutput, value: unknown): void {
  out.stdout(`${printableJson(value)}\n`);
}

/** A JSON array written as its items come (find and du stream), one item per line; end() closes it, even after a
 * failure, so the document stays whole. */
export function jsonArray(out: ShellOutput): { item(value: unknown): void; end(): void } {
  let count = 0;
  return {
    item(value) {
      out.stdout(`${count++ === 0 ? '[\n' : ',\n'}${printableJson(value, 0)}`);
    },
    end() {
      out.stdout(count === 0 ? '[]\n' : '\n]\n');
    },
  };
}
