// Moving bytes: put, get, cat. Local paths are the shell process's own (relative to its working
// directory); remote ones the user's. A progress line goes to stderr when stdout is a terminal.

import { printable } from '../../printable';
import { createWriteStream, promises as fs } from 'node:fs';
import * as localPath from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalFileError, type ProgressListener } from '../../client/api';
import { OutputClosed, withTemporaryDirectory } from '../../client/transfer';
import { PUT_FILES_BYTES_MAX, PUT_SMALL_FILE_BYTES_MAX, PUT_FILES_MAX, TREE_TRANSFERS_IN_FLIGHT_MAX } from '../../limits';
import { Interrupted, isDfsError } from '../../wire/errors';
import { baseName, isWithin, joinPath, parentOf, resolvePath, validatePath } from '../../paths';
import { formatSize } from '../../units';
import type { ShellCommand, ShellContext, ShellOutput } from '../context';
import { CommandError, CommandFailed, reasonOf, reportError, UsageError } from '../errors';
import { localDigest, localReason, walkLocal } from './local-walk';
import { expectOperands, parseFlags } from '../parse';

const PROGRESS_INTERVAL_MS = 200;

/** "12M / 48M  25%  110M/s  ETA 0:03" on one stderr line, redrawn at most every 200 ms; off unless stdout is a terminal. */
export function progressLine(out: ShellOutput, now: () => number = Date.now): { listener: ProgressListener | undefined; done(): void } {
  if (out.columns === undefined) return { listener: undefined, done: () => undefined };
  const startMs = now();
  let lastMs = 0;
  let drawn = false;
  const listener: ProgressListener = (bytes, totalBytes) => {
    const nowMs = now();
    if (nowMs - lastMs < PROGRESS_INTERVAL_MS && bytes < totalBytes) return;
    lastMs = nowMs;
    drawn = true;
    out.stderr(`\r${formatProgress(bytes, totalBytes, nowMs - startMs)}\x1b[K`);
  };
  return { listener, done: () => drawn && out.stderr('\r\x1b[K') };
}

export function formatProgress(bytes: number, totalBytes: number, elapsedMs: number): string {
  const percent = totalBytes === 0 ? 100 : Math.floor((bytes / totalBytes) * 100);
  const rate = elapsedMs > 0 ? (bytes / elapsedMs) * 1000 : 0;
  const remaining = rate > 0 ? Math.ceil((totalBytes - bytes) / rate) : undefined;
  const eta = remaining === undefined ? '--:--' : `${Math.floor(remaining / 60)}:${String(remaining % 60).padStart(2, '0')}`;
  return `${formatSize(bytes)} / ${formatSize(totalBytes)}  ${percent}%  ${formatSize(Math.round(rate))}/s  ETA ${eta}`;
}

async function isRemoteDirectory(ctx: ShellContext, path: string): Promise<boolean> {
  try {
    return (await ctx.api.stat(path)).kind === 'dir';
  } catch (error) {
    if (isDfsError(error, 'NOT_FOUND')) return false;
    throw error;
  }
}

async function isLocalDirectory(path: string): Promise<boolean> {
  return fs.stat(path).then((stats) => stats.isDirectory(), () => false);
}

/** `dfs: CMD: SUBJECT: reason` for a failed transfer: the local path for this machine's failures, else SUBJECT. */
function transferErrorLine(command: string, subject: string, error: unknown): string {
  if (error instanceof LocalFileError) return `dfs: ${command}: ${printable(error.localPath)}: ${printable(error.reason)}\n`;
  return `dfs: ${command}: ${printable(subject)}: ${printable(reasonOf(error))}\n`;
}

/**
 * Runs one transfer, reporting its failure as `dfs: CMD: SUBJECT: reason`: the remote path for the
 * cluster's refusals, the local path for this machine's.
 */
async function transfer(out: ShellOutput, command: string, subject: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof Interrupted) throw error; // the command stops; the registry says so once
    out.stderr(transferErrorLine(command, subject, error));
    throw new CommandFailed(1);
  }
}

/** A failed filesystem call on this machine (a directory where get -r writes a file) as a LocalFileError for `path`;
 * Node's fs errors carry the path they were about, network ones do not. */
function localFailure(path: string, error: unknown): unknown {
  const fsError = error instanceof Error && !isDfsError(error) && typeof (error as NodeJS.ErrnoException).path === 'string';
  return fsError ? new LocalFileError(path, localReason(error)) : error;
}

function existsHint(error: unknown): unknown {
  return isDfsError(error, 'EXISTS') ? new CommandError('File exists (put -f replaces it)') : error;
}

interface PutRequest {
  source: string;
  typed: string | undefined;
  overwrite: boolean;
  wait: boolean;
  /** -u: skip files whose size and SHA-256 already match, replace those that differ. */
  update: boolean;
  /** -u with one source: REMOTE is the tree's copy itself, never a directory receiving it. */
  syncInto: boolean;
}

/** True when the local file holds exactly the bytes of the remote one (size first: no hashing when they differ). */
async function sameBytes(local: string, remote: { size: number; sha256: string | null } | undefined): Promise<boolean> {
  if (remote?.sha256 == null) return false;
  const stats = await fs.stat(local).catch(() => undefined);
  if (stats?.isFile() !== true || stats.size !== remote.size) return false;
  return (await localDigest(local))?.sha256 === remote.sha256;
}

async function remoteFile(ctx: ShellContext, path: string): Promise<{ size: number; sha256: string | null } | undefined> {
  try {
    const entry = await ctx.api.stat(path);
    return entry.kind === 'file' ? entry : undefined;
  } catch (error) {
    if (isDfsError(error, 'NOT_FOUND')) return undefined;
    throw error;
  }
}

async function putFile(ctx: ShellContext, out: ShellOutput, request: PutRequest): Promise<void> {
  const { source, typed, wait } = request;
  await transfer(out, 'put', typed ?? localPath.basename(source), async () => {
    let target = resolvePath(ctx.cwd, typed ?? localPath.basename(source));
    if (typed !== undefined && (await isRemoteDirectory(ctx, target))) target = joinPath(target, localPath.basename(source));
    if (request.update && (await sameBytes(source, await remoteFile(ctx, target)))) return out.stdout(`${printable(target)}: skipped (unchanged)\n`);
    const progress = progressLine(out);
    const options = { overwrite: request.overwrite || request.update, wait, ...(progress.listener ? { onProgress: progress.listener } : {}) };
    try {
      await ctx.api.put([{ localPath: source, remotePath: target }], options).catch(async (error: unknown) => {
        // A missing parent is made, as HDFS's put does; the master refused before any byte moved.
        if (!isDfsError(error, 'NOT_FOUND') || (await isRemoteDirectory(ctx, parentOf(target)))) throw error;
        await ctx.api.mkdir(parentOf(target), true);
        await ctx.api.put([{ localPath: source, remotePath: target }], options);
      });
    } catch (error) {
      throw existsHint(error);
    } finally {
      progress.done();
    }
    if (!wait) return out.stdout(`${printable(target)}: stored; replication continues\n`);
    const replicas = (await ctx.api.stat(target)).replicas;
    if (replicas) out.stdout(`${printable(target)}: replicated ${replicas.have}/${replicas.want}\n`);
  });
}

export const put: ShellCommand = {
  name: 'put',
  usage: 'put [-r] [-f] [-u] [--no-wait] LOCAL [REMOTE] | put LOCAL… DIR',
  summary: 'upload a local file or directory',
  details: [
    'With several LOCALs the last operand is a remote directory that receives them all.',
    'REMOTE defaults to the file\'s name in the working directory; a directory there receives it; missing parent',
    'directories are made. LOCAL `-` is standard input (under -c, e.g. `tar c dir | dfs shell -c \'put - /b.tar\'`):',
    'it is kept in a private temporary file until it ends, then put and verified like any file.',
    'Waits until the file is replicated and prints how many copies exist (e.g. "replicated 3/3").',
    '-r         upload a directory and everything beneath it, empty directories too, like cp -r:',
    '           REMOTE is made with its parents, or an existing directory REMOTE receives it;',
    `           ${TREE_TRANSFERS_IN_FLIGHT_MAX} transfers at a time, files up to ${formatSize(PUT_SMALL_FILE_BYTES_MAX)} in batches of up to ${PUT_FILES_MAX};`,
    '           symlinks and special files are skipped with a warning;',
    '           a file that fails is reported and the others still go; ends with "REMOTE: N files, SIZE uploaded"',
    '-f         replace existing files',
    '-u         update, as rclone copy: skip files whose size and SHA-256 already match, replace those that',
    '           differ, say how many were skipped; with -r and one LOCAL, REMOTE itself becomes its copy (made',
    '           if missing, never nested into), so the same command run again sends only what changed',
    '--no-wait  return once the first copy is committed; replication carries on',
  ],
  operands: 'upload',
  async run(args, ctx, out) {
    const wait = !args.includes('--no-wait');
    const { flags, operands } = parseFlags(args.filter((arg) => arg !== '--no-wait'), 'fru');
    const update = flags.has('u');
    expectOperands(operands, 1, Infinity);
    if (operands.length > 2) {
      const directory = operands[operands.length - 1] ?? '';
      if (!(await isRemoteDirectory(ctx, resolvePath(ctx.cwd, directory)))) throw new CommandError(`target ${printable(directory)} is not a directory (several files go into one)`);
      let failures = 0;
      for (const source of operands.slice(0, -1)) {
        const request: PutRequest = { source, typed: directory, overwrite: flags.has('f'), wait, update, syncInto: false };
        try {
          if (!(await isLocalDirectory(source))) await putFile(ctx, out, request);
          else if (flags.has('r')) await putTree(ctx, out, request);
          else {
            reportError(out, 'put', source, new CommandError('Is a directory (put -r uploads a directory)'));
            failures++;
          }
        } catch (error) {
          if (!(error instanceof CommandFailed)) throw error;
          failures += error.failures;
        }
      }
      if (failures > 0) throw new CommandFailed(failures);
      return;
    }
    const request: PutRequest = { source: operands[0] ?? '', typed: operands[1], overwrite: flags.has('f'), wait, update, syncInto: update };
    if (request.source === '-') return putStdin(ctx, out, request);
    if (!(await isLocalDirectory(request.source))) return putFile(ctx, out, request);
    if (!flags.has('r')) {
      reportError(out, 'put', request.source, new CommandError('Is a directory (put -r uploads a directory)'));
      throw new CommandFailed(1);
    }
    await putTree(ctx, out, request);
  },
};

export const get: ShellCommand = {
  name: 'get',
  usage: 'get [-r] [-u] REMOTE [LOCAL] | get REMOTE… DIR',
  summary: 'download a file or directory (verified; nothing is left behind if it fails)',
  details: [
    'LOCAL defaults to the file\'s name in the local working directory; a local directory receives it;',
    'LOCAL `-` is standard output (as cat; a closed pipe ends it quietly).',
    'With several REMOTEs the last operand is a local directory that receives them all.',
    'An existing local file is replaced, once the new bytes are complete and verified.',
    '-r  download a directory and everything beneath it, empty directories too, like cp -r:',
    '    LOCAL is made with its parents, or an existing directory LOCAL receives it;',
    `    ${TREE_TRANSFERS_IN_FLIGHT_MAX} files at a time; a file that fails is reported and the others still come;`,
    '    ends with "LOCAL: N files, SIZE downloaded"',
    '-u  update, as rclone copy: skip local files whose size and SHA-256 already match the remote ones, say how',
    '    many were skipped; with -r and one REMOTE, LOCAL itself becomes its copy (never nested into)',
  ],
  operands: 'download',
  async run(args, ctx, out) {
    const { flags, operands } = parseFlags(args, 'ru');
    expectOperands(operands, 1, Infinity);
    const options = { recursive: flags.has('r'), update: flags.has('u'), syncInto: flags.has('u') };
    if (operands.length <= 2) return getOne(ctx, out, operands[0] ?? '', operands[1], options);
    const directory = operands[operands.length - 1] ?? '';
    if (!(await isLocalDirectory(directory))) throw new CommandError(`target ${printable(directory)} is not a directory (several files go into one)`);
    let failures = 0;
    for (const typed of operands.slice(0, -1)) {
      try {
        await getOne(ctx, out, typed, directory, { ...options, syncInto: false });
      } catch (error) {
        if (!(error instanceof CommandFailed)) throw error;
        failures += error.failures;
      }
    }
    if (failures > 0) throw new CommandFailed(failures);
  },
};

/** One get: a file (to LOCAL, into it when it is a directory, or to stdout for `-`), or with -r a directory. */
async function getOne(ctx: ShellContext, out: ShellOutput, typed: string, typedLocal: string | undefined, options: { recursive: boolean; update: boolean; syncInto: boolean }): Promise<void> {
  if (typedLocal === '-') return catFiles(ctx, out, 'get', [typed]);
  if (options.recursive) {
    let directory: string | undefined;
    await transfer(out, 'get', typed, async () => {
      const source = resolvePath(ctx.cwd, typed);
      if (await isRemoteDirectory(ctx, source)) directory = source;
    });
    // Like cp -r, -r on a file is a plain get.
    if (directory !== undefined) return getTree(ctx, out, directory, typedLocal, options);
  }
  await transfer(out, 'get', typed, async () => {
    const source = resolvePath(ctx.cwd, typed);
    let target = typedLocal ?? baseName(source);
    if (await isLocalDirectory(target)) target = localPath.join(target, baseName(source));
    if (options.update && (await sameBytes(target, await remoteFile(ctx, source)))) return out.stdout(`${printable(target)}: skipped (unchanged)\n`);
    const progress = progressLine(out);
    try {
      await ctx.api.get(source, target, progress.listener ? { onProgress: progress.listener } : {});
    } catch (error) {
      throw isDfsError(error, 'IS_A_DIRECTORY') ? new CommandError('Is a directory (get -r downloads a directory)') : error;
    } finally {
      progress.done();
    }
  });
}

/** One transfer of put -r or get -r: `source` and `target` are local and remote paths (or the reverse). */
interface TreeFile {
  source: string;
  target: string;
  size: number;
}

/** What a tree transfer did so far; failures were reported as they happened. */
interface TreeTally {
  files: number;
  bytes: number;
  failures: number;
  /** Files -u found unchanged; undefined without -u. */
  skipped?: number;
}

/** -u: the files whose target already holds their bytes are dropped (and counted as skipped), the rest returned.
 * `remoteOf` gives a file's remote entry; `localOf` its local path. */
async function withoutUnchanged(files: readonly TreeFile[], tally: TreeTally, remoteOf: (file: TreeFile) => { size: number; sha256: string | null } | undefined, localOf: (file: TreeFile) => string): Promise<TreeFile[]> {
  const unchanged = new Set<TreeFile>();
  await inParallel(files, TREE_TRANSFERS_IN_FLIGHT_MAX, async (file) => {
    if (await sameBytes(localOf(file), remoteOf(file))) unchanged.add(file);
  });
  tally.skipped = unchanged.size;
  // In walk order: groups and the order of transfers stay as without -u.
  return files.filter((file) => !unchanged.has(file));
}

/** Runs `work` on every item, at most `width` at once; `work` reports its own failures. If it rejects (Ctrl-C), no
 * new item is taken, the items under way are waited for, and the first rejection is thrown: nothing goes on after. */
export async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stopped) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        stopped = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(width, items.length) }, worker));
  const failure = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
}

interface TreeProgress {
  /** A listener for one file that adds the bytes it moves to the tree's total; undefined off a terminal. */
  forFile(): ProgressListener | undefined;
  /** Writes a line to stderr without leaving it on the end of the progress line. */
  warn(text: string): void;
  done(): void;
}

/** One progress line for the whole tree, whichever files are moving. */
function treeProgress(out: ShellOutput, totalBytes: number): TreeProgress {
  const line = progressLine(out);
  const listener = line.listener;
  let movedBytes = 0;
  return {
    forFile() {
      if (!listener) return undefined;
      let fileBytes = 0;
      // A retried download starts its count again from 0: the difference keeps the total right.
      return (bytes) => {
        movedBytes += bytes - fileBytes;
        fileBytes = bytes;
        listener(movedBytes, totalBytes);
      };
    },
    warn(text) {
      line.done();
      out.stderr(text);
    },
    done: line.done,
  };
}

/**
 * Moves every file, `TREE_TRANSFERS_IN_FLIGHT_MAX` groups at once, reporting each failure as
 * `dfs: CMD: SUBJECT: reason`. A group of several files goes by `moveGroup` (all or nothing); if that fails,
 * its files go one at a time, so each failure is reported for the file it concerns.
 */
async function transferFiles(
  out: ShellOutput,
  command: 'put' | 'get',
  groups: readonly (readonly TreeFile[])[],
  tally: TreeTally,
  move: (file: TreeFile, onProgress: ProgressListener | undefined) => Promise<number>,
  moveGroup?: (files: readonly TreeFile[], onProgress: ProgressListener | undefined) => Promise<void>,
): Promise<void> {
  const progress = treeProgress(out, groups.flat().reduce((sum, file) => sum + file.size, 0));
  const moveOne = async (file: TreeFile): Promise<void> => {
    try {
      // Awaited first: `tally.bytes += await …` would add to the total read before the wait.
      const bytes = await move(file, progress.forFile());
      tally.bytes += bytes;
      tally.files++;
    } catch (error) {
      if (error instanceof Interrupted) throw error;
      // The remote path names the file, as for one file: the target of put, the source of get.
      const remote = command === 'put' ? file.target : file.source;
      progress.warn(transferErrorLine(command, remote, command === 'put' ? existsHint(error) : localFailure(file.target, error)));
      tally.failures++;
    }
  };
  try {
    await inParallel(groups, TREE_TRANSFERS_IN_FLIGHT_MAX, async (group) => {
      if (group.length > 1 && moveGroup) {
        const onProgress = progress.forFile();
        try {
          await moveGroup(group, onProgress);
          for (const file of group) {
            tally.bytes += file.size;
            tally.files++;
          }
          return;
        } catch (error) {
          if (error instanceof Interrupted) throw error;
          onProgress?.(0, 0); // its bytes are counted again as the files go one at a time
        }
      }
      for (const file of group) await moveOne(file);
    });
  } finally {
    progress.done();
  }
}

/** put -r's groups, in walk order: runs of small files that one put carries together (PUT_* limits), every larger
 * file alone. */
function putGroups(files: readonly TreeFile[]): TreeFile[][] {
  const groups: TreeFile[][] = [];
  let group: TreeFile[] = [];
  let groupBytes = 0;
  const close = (): void => {
    if (group.length > 0) groups.push(group);
    group = [];
    groupBytes = 0;
  };
  for (const file of files) {
    if (file.size > PUT_SMALL_FILE_BYTES_MAX) {
      groups.push([file]);
      continue;
    }
    if (group.length === PUT_FILES_MAX || groupBytes + file.size > PUT_FILES_BYTES_MAX) close();
    group.push(file);
    groupBytes += file.size;
  }
  close();
  return groups;
}

/** The summary line, then the command fails if anything did. */
function finishTree(out: ShellOutput, root: string, verb: 'uploaded' | 'downloaded', tally: TreeTally): void {
  const skipped = tally.skipped === undefined ? '' : `, ${tally.skipped} skipped (unchanged)`;
  out.stdout(`${printable(root)}: ${tally.files} ${tally.files === 1 ? 'file' : 'files'}, ${formatSize(tally.bytes)} ${verb}${skipped}\n`);
  if (tally.failures > 0) throw new CommandFailed(tally.failures);
}

/** True when `path` lies inside a directory that could not be made (its failure is already reported). */
const underFailed = (failed: readonly string[], path: string, within: (path: string, ancestor: string) => boolean): boolean =>
  failed.some((directory) => within(path, directory));

const isWithinLocal = (path: string, ancestor: string): boolean => path.startsWith(`${ancestor}${localPath.sep}`);

/**
 * put -r: the remote root is made (with parents; an existing directory is merged into), then every
 * directory beneath in path order as the local walk finds it, then the files, several at once.
 */
async function putTree(ctx: ShellContext, out: ShellOutput, request: PutRequest): Promise<void> {
  const name = localPath.basename(localPath.resolve(request.source));
  let root = '';
  await transfer(out, 'put', request.typed ?? name, async () => {
    root = resolvePath(ctx.cwd, request.typed ?? name);
    // -u of one source syncs in rclone's sense: REMOTE is the copy itself, so running it again never nests.
    if (request.typed !== undefined && name !== '' && !request.syncInto && (await isRemoteDirectory(ctx, root))) root = joinPath(root, name);
    await ctx.api.mkdir(root, true);
  });
  const tally: TreeTally = { files: 0, bytes: 0, failures: 0 };
  const files: TreeFile[] = [];
  const failed: string[] = [];
  for await (const entry of walkLocal(request.source)) {
    const target = entry.relative === '' ? root : joinPath(root, entry.relative);
    if (underFailed(failed, target, isWithin)) continue;
    if (entry.kind === 'file') files.push({ source: entry.path, target, size: entry.size });
    else if (entry.kind === 'other') out.stderr(`dfs: put: ${printable(entry.path)}: skipped: not a regular file\n`);
    else if (entry.kind === 'unreadable') {
      reportError(out, 'put', entry.path, new CommandError(entry.reason));
      tally.failures++;
    } else if (target !== root) {
      try {
        await ctx.api.mkdir(target, true);
      } catch (error) {
        reportError(out, 'put', target, error);
        failed.push(target);
        tally.failures++;
      }
    }
  }
  const options = { overwrite: request.overwrite || request.update, wait: request.wait };
  let sending: readonly TreeFile[] = files;
  if (request.update) {
    const remote = new Map<string, { size: number; sha256: string | null }>();
    for await (const entry of ctx.api.tree(root)) if (entry.kind === 'file') remote.set(entry.path, entry);
    sending = await withoutUnchanged(files, tally, (file) => remote.get(file.target), (file) => file.source);
  }
  await transferFiles(
    out,
    'put',
    putGroups(sending),
    tally,
    // A file going alone is looked at again as it goes (it may have changed since the walk); a group is sent as listed.
    async (file, onProgress) => {
      await ctx.api.put([{ localPath: file.source, remotePath: file.target }], { ...options, ...(onProgress ? { onProgress } : {}) });
      return file.size;
    },
    (group, onProgress) => ctx.api.put(group.map((file) => ({ localPath: file.source, remotePath: file.target, size: file.size })), { ...options, ...(onProgress ? { onProgress } : {}) }),
  );
  finishTree(out, root, 'uploaded', tally);
}

/** A tree entry's path below `root` as local path components; a master listing anything else is refused. */
function relativeParts(root: string, path: string): string[] {
  validatePath(path);
  if (path === root || !isWithin(path, root)) throw new CommandError(`the master listed ${path} in the tree of ${root}`);
  return path.slice(root === '/' ? 1 : root.length + 1).split('/');
}

/**
 * get -r: the local root is made (mkdir -p; an existing directory is merged into), then every
 * directory as the remote tree lists it (in path order), then the files, several at once. An
 * existing local file is replaced, as a single get replaces it.
 */
async function getTree(ctx: ShellContext, out: ShellOutput, source: string, typedLocal: string | undefined, { update, syncInto }: { update: boolean; syncInto: boolean }): Promise<void> {
  const name = baseName(source);
  let root = typedLocal ?? (name === '' ? '.' : name);
  if (typedLocal !== undefined && name !== '' && !syncInto && (await isLocalDirectory(root))) root = localPath.join(root, name);
  await transfer(out, 'get', root, () => makeLocalDirectory(root));
  const tally: TreeTally = { files: 0, bytes: 0, failures: 0 };
  const files: TreeFile[] = [];
  const failed: string[] = [];
  const remote = new Map<string, { size: number; sha256: string | null }>();
  for await (const entry of ctx.api.tree(source)) {
    if (entry.path === source) continue;
    const target = localPath.join(root, ...relativeParts(source, entry.path));
    if (underFailed(failed, target, isWithinLocal)) continue;
    if (entry.kind === 'file') {
      files.push({ source: entry.path, target, size: entry.size });
      if (update) remote.set(entry.path, entry);
      continue;
    }
    try {
      await makeLocalDirectory(target);
    } catch (error) {
      out.stderr(transferErrorLine('get', entry.path, error));
      failed.push(target);
      tally.failures++;
    }
  }
  const fetching = update ? await withoutUnchanged(files, tally, (file) => remote.get(file.source), (file) => file.target) : files;
  await transferFiles(out, 'get', fetching.map((file) => [file]), tally, async (file, onProgress) => (await ctx.api.get(file.source, file.target, onProgress ? { onProgress } : {})).size);
  finishTree(out, root, 'downloaded', tally);
}

async function makeLocalDirectory(path: string): Promise<void> {
  await fs.mkdir(path, { recursive: true }).catch((error: unknown) => {
    throw new LocalFileError(path, localReason(error));
  });
}

/** The shell's stdout as a byte stream; a text-only output (tests) gets the bytes decoded as UTF-8. */
/** stdout as a byte stream (cat, get -, head, tail); text for outputs without one. */
export function byteOutput(out: ShellOutput): NodeJS.WritableStream {
  if (out.binary) return out.binary;
  const decoder = new StringDecoder('utf8');
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.stdout(decoder.write(chunk));
      callback();
    },
  });
}

export const cat: ShellCommand = {
  name: 'cat',
  usage: 'cat PATH…',
  summary: 'print files',
  operands: 'remote',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, Infinity);
    await catFiles(ctx, out, 'cat', operands);
  },
};

/** Files' bytes to stdout, one after the other (cat, get REMOTE -). */
async function catFiles(ctx: ShellContext, out: ShellOutput, command: string, operands: readonly string[]): Promise<void> {
  const output = byteOutput(out);
  let failures = 0;
  for (const typed of operands) {
    try {
      await ctx.api.cat(resolvePath(ctx.cwd, typed), output);
    } catch (error) {
      if (error instanceof OutputClosed) return; // the reader has what it wanted, like cat into head
      if (error instanceof Interrupted) throw error;
      out.stderr(transferErrorLine(command, typed, error));
      failures++;
      if (error instanceof LocalFileError) break; // the output failed: the next files would too
    }
  }
  if (failures > 0) throw new CommandFailed(failures);
}

/** put - REMOTE: standard input, whose size is known only at its end, into a private temporary file, then put. */
async function putStdin(ctx: ShellContext, out: ShellOutput, request: PutRequest): Promise<void> {
  const { stdin } = ctx;
  if (!stdin) throw new CommandError('standard input is not data here: pipe it into dfs shell -c \'put - REMOTE\'');
  if (request.typed === undefined) throw new UsageError('put - needs a REMOTE path');
  await withTemporaryDirectory('dfs-put-', async (directory) => {
    const spool = localPath.join(directory, 'stdin');
    await transfer(out, 'put', '-', async () => {
      await pipeline(stdin, createWriteStream(spool, { mode: 0o600, flags: 'wx' }));
    });
    await putFile(ctx, out, { ...request, source: spool });
  });
}
