// What the explorer's action keys do, through ClusterApi only: get (g), put (p), mkdir (m), rename or move
// (r), delete (d), copy on the cluster (c), view a small text file (v) and find (/). get, put, move, copy and
// delete work on the marked entries (Space) when there are any, else on the selected one; directories and
// several entries go through the shell's own get -r, put -r, cp -r and mv, so they behave exactly as there. Each
// asks what it needs in a dialog, does it, reloads what changed and says what happened; a failure is thrown to
// the explorer, which shows it on the status line.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as local from 'node:path';
import type { ClusterApi, Entry, EntryKind, ProgressListener } from '../client/api';
import { isDfsError } from '../wire/errors';
import { baseName, isWithin, joinPath, parentOf, resolvePath, ROOT } from '../paths';
import { formatSize } from '../units';
import { Writable } from 'node:stream';
import type { ShellCommand } from '../shell/context';
import { cp, mv } from '../shell/commands/files';
import { get, put } from '../shell/commands/transfer';
import { TUI_FIND_RESULTS_MAX, TUI_PREVIEW_BYTES_MAX } from './constants';
import type { Dialogs } from './dialogs';
import { literal } from './dialogs';
import { bytesText } from './explorer';
import type { LocalEntry } from './local';
import { fit, replicaText } from './model';

/** What an action works on: the selected entry, or the directory selected in the tree. */
export interface Target {
  path: string;
  kind: EntryKind;
  /** From the listing, when the selection is in the entries pane. */
  entry: Entry | undefined;
}

/** The part of the explorer actions may use. */
export interface ActionHost {
  readonly api: ClusterApi;
  readonly dialogs: Dialogs;
  /** The directory the entries pane shows. */
  readonly cwd: string;
  /** This machine's working directory, for local paths typed relative. */
  readonly localCwd: string;
  target(): Target | undefined;
  /** The marked entries of the files pane, else the selected one (none in the tree pane). */
  targets(): Target[];
  /** The marked entries of the local pane, else the selected one, when the local pane has the keys. */
  localTargets(): LocalEntry[] | undefined;
  /** Forgets the marks, after an action used them. */
  clearMarks(): void;
  /** Runs a shell command (its words after the name) on the explorer's session and working directories; its progress
   * line shows on the status line. Resolves with what it printed, or rejects with its first error line. */
  shell(command: ShellCommand, args: string[]): Promise<string>;
  /** Lists the local pane's directory again (after a get into it). */
  reloadLocal(): Promise<void>;
  /** Shows `path` in the entries pane, selecting `select` (a name in it) when given. */
  open(path: string, select?: string): Promise<boolean>;
  say(text: string, error?: boolean): void;
  /** Runs a get or put with a progress box, counting its bytes for the dashboard; `finishing` is shown
   * once every byte has moved and the work still runs. */
  transfer<T>(label: string, work: (onProgress: ProgressListener) => Promise<T>, finishing?: string): Promise<T>;
}

function localPath(host: ActionHost, typed: string): string {
  const expanded = typed === '~' ? os.homedir() : typed.startsWith('~/') ? local.join(os.homedir(), typed.slice(2)) : typed;
  return local.resolve(host.localCwd, expanded);
}

async function localKind(path: string): Promise<'file' | 'dir' | 'other' | undefined> {
  const stats = await fs.stat(path).catch(() => undefined);
  if (!stats) return undefined;
  return stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : 'other';
}

async function remoteExists(api: ClusterApi, path: string): Promise<boolean> {
  try {
    await api.stat(path);
    return true;
  } catch (error) {
    if (isDfsError(error, 'NOT_FOUND')) return false;
    throw error;
  }
}

/** `count` entries as the questions name them: the one path, or "3 entries". */
function whatTargets(targets: readonly { path: string }[]): string {
  return targets.length === 1 ? (targets[0]?.path ?? '') : `${targets.length} entries`;
}

export async function getFile(host: ActionHost): Promise<void> {
  const targets = host.targets();
  if (targets.length === 0) return host.say('get: select a file or directory');
  if (targets.length > 1 || targets[0]?.kind === 'dir') {
    // Directories and several entries: the shell's get -r, into a local directory.
    const typed = await host.dialogs.ask('Get', `Download ${whatTargets(targets)} into the local directory:`, host.localCwd);
    if (typed === undefined || typed.trim() === '') return host.say('get cancelled');
    const directory = localPath(host, typed.trim());
    if ((await localKind(directory)) !== 'dir') return host.say(`get: ${directory} is not a local directory`);
    const summary = await host.shell(get, ['-r', ...targets.map((target) => target.path), directory]);
    host.clearMarks();
    await host.reloadLocal();
    return host.say(`got ${whatTargets(targets)} → ${directory}: ${summary}`);
  }
  const target = targets[0] as Target;
  const name = baseName(target.path);
  const typed = await host.dialogs.ask('Get', `Download ${target.path} to (relative to ${host.localCwd}):`, name);
  if (typed === undefined || typed.trim() === '') return host.say('get cancelled');
  let destination = localPath(host, typed.trim());
  if ((await localKind(destination)) === 'dir') destination = local.join(destination, name);
  if ((await localKind(destination)) !== undefined && !(await host.dialogs.confirm('Get', `${destination} exists. Replace it?`))) {
    return host.say('get cancelled');
  }
  const fetched = await host.transfer(`get ${name}`, (onProgress) => host.api.get(target.path, destination, { onProgress }));
  host.say(`got ${name} (${formatSize(fetched.size)}, SHA-256 verified) → ${destination}`);
}

export async function putFile(host: ActionHost): Promise<void> {
  const cwd = host.cwd;
  const sources = host.localTargets();
  if (sources !== undefined) {
    // From the local pane: what is marked there (or selected), directories whole, into the files pane's directory.
    if (sources.length === 0) return host.say('put: select a local file or directory');
    const summary = await host.shell(put, ['-r', ...sources.map((source) => source.path), cwd]);
    host.clearMarks();
    await host.open(cwd, sources.length === 1 ? sources[0]?.name : undefined);
    return host.say(`put ${whatTargets(sources)} → ${cwd}: ${summary}`);
  }
  const typed = await host.dialogs.ask('Put', `Upload into ${cwd} the local file (relative to ${host.localCwd}):`, '');
  if (typed === undefined || typed.trim() === '') return host.say('put cancelled');
  const source = localPath(host, typed.trim());
  const kind = await localKind(source);
  if (kind === undefined) return host.say(`put: ${source}: No such file or directory`);
  if (kind !== 'file') return host.say(`put: ${source}: not a regular file (directories: put -r in dfs shell)`);
  const remote = joinPath(cwd, local.basename(source));
  const overwrite = await remoteExists(host.api, remote);
  if (overwrite && !(await host.dialogs.confirm('Put', `${remote} exists. Replace it?`))) return host.say('put cancelled');
  const stored = await host.transfer(
    `put ${local.basename(source)}`,
    async (onProgress) => {
      await host.api.put([{ localPath: source, remotePath: remote }], { overwrite, onProgress });
      return host.api.stat(remote);
    },
    'waiting for the replicas…',
  );
  await host.open(cwd, stored.name);
  host.say(`put ${stored.name} (${formatSize(stored.size)}, replicas ${replicaText(stored)}) ← ${source}`);
}

export async function makeDirectory(host: ActionHost): Promise<void> {
  const cwd = host.cwd;
  const typed = await host.dialogs.ask('New directory', `Name of the new directory in ${cwd}:`, '');
  if (typed === undefined || typed.trim() === '') return host.say('mkdir cancelled');
  const path = resolvePath(cwd, typed.trim());
  await host.api.mkdir(path, false);
  await host.open(cwd, parentOf(path) === cwd ? baseName(path) : undefined);
  host.say(`made ${path}`);
}

export async function rename(host: ActionHost): Promise<void> {
  const targets = host.targets();
  if (targets.length > 1) {
    const typed = await host.dialogs.ask('Move', `Move ${targets.length} entries into the directory:`, host.cwd);
    if (typed === undefined || typed.trim() === '') return host.say('move cancelled');
    const directory = resolvePath(host.cwd, typed.trim());
    await host.shell(mv, [...targets.map((target) => target.path), directory]);
    host.clearMarks();
    await host.open(host.cwd);
    return host.say(`moved ${targets.length} entries → ${directory}`);
  }
  const target = targets[0];
  if (!target || target.path === ROOT) return host.say('rename: select a file or directory');
  const base = parentOf(target.path);
  const typed = await host.dialogs.ask('Rename', `New name (or path) for ${target.path}:`, baseName(target.path));
  if (typed === undefined || typed.trim() === '') return host.say('rename cancelled');
  const destination = resolvePath(base, typed.trim());
  if (destination === target.path) return host.say('rename: same name, nothing to do');
  const moved = await host.api.move(target.path, destination);
  host.clearMarks();
  const cwd = isWithin(host.cwd, target.path) ? parentOf(target.path) : host.cwd;
  await host.open(cwd, parentOf(moved.path) === cwd ? moved.name : undefined);
  host.say(`renamed ${baseName(target.path)} → ${moved.path}`);
}

export async function remove(host: ActionHost): Promise<void> {
  const targets = host.targets();
  if (targets.length > 1) {
    const bytes = targets.reduce((sum, target) => sum + (target.entry?.size ?? 0), 0);
    if (!(await host.dialogs.confirm('Delete', `Delete the ${targets.length} marked entries (${bytesText(bytes)} in all), directories with everything in them?`))) {
      return host.say('delete cancelled');
    }
    try {
      for (const target of targets) await host.api.remove(target.path, target.kind === 'dir');
    } finally {
      // What was deleted before a failure is gone: the listing and the marks say so either way.
      host.clearMarks();
      await host.open(host.cwd);
    }
    return host.say(`deleted ${targets.length} entries from ${host.cwd}`);
  }
  const target = targets[0];
  if (!target || target.path === ROOT) return host.say('delete: select a file or directory');
  const question =
    target.kind === 'dir'
      ? `Delete the directory ${target.path} and everything in it${target.entry ? ` (${bytesText(target.entry.size)})` : ''}?`
      : `Delete ${target.path}${target.entry ? ` (${bytesText(target.entry.size)})` : ''}?`;
  if (!(await host.dialogs.confirm('Delete', question))) return host.say('delete cancelled');
  const removed = await host.api.remove(target.path, target.kind === 'dir');
  host.clearMarks();
  const cwd = isWithin(host.cwd, target.path) ? parentOf(target.path) : host.cwd;
  await host.open(cwd);
  host.say(`deleted ${baseName(target.path)}${target.kind === 'dir' ? ` (${removed} entries)` : ''} from ${parentOf(target.path)}`);
}

export async function find(host: ActionHost): Promise<void> {
  const start = host.cwd;
  const glob = await host.dialogs.ask('Find', `Names matching (glob: * ? [..]) under ${start}:`, '*');
  if (glob === undefined || glob.trim() === '') return host.say('find cancelled');
  host.say(`searching ${start} for ${glob.trim()} …`);
  const found: Entry[] = [];
  let more = false;
  for await (const entry of host.api.find(start, { name: glob.trim() })) {
    if (found.length === TUI_FIND_RESULTS_MAX) {
      more = true;
      break;
    }
    found.push(entry);
  }
  if (found.length === 0) return host.say(`find: nothing under ${start} matches ${glob.trim()}`);
  const count = more ? `the first ${found.length} matches` : `${found.length} match${found.length === 1 ? '' : 'es'}`;
  host.say(`find: ${count} for ${glob.trim()}`);
  const items = found.map((entry) => (entry.kind === 'dir' ? `${entry.path}/` : entry.path));
  const picked = await host.dialogs.pick(`Find ${glob.trim()}`, items, `${count}. Enter: go there   Escape: close`);
  const entry = picked === undefined ? undefined : found[picked];
  if (entry) await host.open(parentOf(entry.path), entry.name);
}

/** c: copies on the cluster (a node holding the bytes writes the copy; nothing passes through this machine). */
export async function copy(host: ActionHost): Promise<void> {
  const targets = host.targets();
  if (targets.length === 0) return host.say('copy: select a file or directory');
  const single = targets.length === 1 ? targets[0] : undefined;
  const question = single ? `Copy ${single.path} to (a new name, or a directory):` : `Copy ${targets.length} entries into the directory:`;
  const typed = await host.dialogs.ask('Copy', question, single ? `${single.path}.copy` : host.cwd);
  if (typed === undefined || typed.trim() === '') return host.say('copy cancelled');
  const destination = resolvePath(host.cwd, typed.trim());
  await host.shell(cp, ['-r', ...targets.map((target) => target.path), destination]);
  host.clearMarks();
  await host.open(host.cwd, single && parentOf(destination) === host.cwd ? baseName(destination) : undefined);
  host.say(`copied ${whatTargets(targets)} → ${destination}`);
}

/** Bytes to text for the preview: tabs as spaces, each line fitted to `width`, at most `rows` lines. */
export function previewLines(bytes: Buffer, width: number, rows: number): string[] | undefined {
  if (bytes.includes(0)) return undefined;
  const lines = bytes.toString('utf8').replace(/\t/g, '    ').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(0, rows).map((line) => fit(line.replace(/\r$/, ''), width).trimEnd());
}

/** v: the first screenful of a small text file, in a box (any key closes it). */
export async function preview(host: ActionHost, width: number, rows: number): Promise<void> {
  const target = host.target();
  if (!target || target.kind === 'dir') return host.say('view: select a file');
  const size = target.entry?.size ?? (await host.api.stat(target.path)).size;
  if (size > TUI_PREVIEW_BYTES_MAX) return host.say(`view: ${baseName(target.path)} is ${formatSize(size)}; only files up to ${formatSize(TUI_PREVIEW_BYTES_MAX)} are shown (g downloads it)`);
  const chunks: Buffer[] = [];
  let held = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      held += chunk.length;
      // The size was checked, but the file may have been replaced since: never hold more than the bound.
      if (held > TUI_PREVIEW_BYTES_MAX) return callback(new Error(`more than ${formatSize(TUI_PREVIEW_BYTES_MAX)}`));
      chunks.push(chunk);
      callback();
    },
  });
  await host.api.cat(target.path, sink);
  const lines = previewLines(Buffer.concat(chunks), width, rows);
  if (lines === undefined) return host.say(`view: ${baseName(target.path)} is not text (g downloads it)`);
  await host.dialogs.page(`${baseName(target.path)} (${formatSize(size)})`, [...lines.map(literal), '', '{gray-fg}Any key closes this view.{/gray-fg}'].join('\n'));
}
