// Moving bytes: put, get, cat. Local paths are the shell process's own (relative to its working
// directory); remote ones the user's. A progress line goes to stderr when stdout is a terminal.

import { promises as fs } from 'node:fs';
import * as localPath from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import { LocalFileError, type ProgressListener } from '../../../client/api';
import { isDfsError } from '../../../net/errors';
import { baseName, joinPath, resolvePath } from '../../../paths';
import { formatSize } from '../../../units';
import type { ShellCommand, ShellContext, ShellOutput } from '../context';
import { CommandError, CommandFailed, reportError } from '../errors';
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

/**
 * Runs one transfer, reporting its failure as `dfs: CMD: SUBJECT: reason`: the remote path for the
 * cluster's refusals, the local path for this machine's.
 */
async function transfer(out: ShellOutput, command: string, subject: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof LocalFileError) reportError(out, command, error.localPath, error.reason);
    else reportError(out, command, subject, error);
    throw new CommandFailed(1);
  }
}

export const put: ShellCommand = {
  name: 'put',
  usage: 'put [-f] [--no-wait] LOCAL [REMOTE]',
  summary: 'upload a local file',
  details: [
    'REMOTE defaults to the file\'s name in the working directory; a directory there receives it.',
    'Waits until the file is replicated and prints how many copies exist (e.g. "replicated 3/3").',
    '-f         replace an existing file',
    '--no-wait  return once the first copy is committed; replication carries on',
  ],
  completes: 'paths',
  async run(args, ctx, out) {
    const wait = !args.includes('--no-wait');
    const { flags, operands } = parseFlags(args.filter((arg) => arg !== '--no-wait'), 'f');
    expectOperands(operands, 1, 2);
    const source = operands[0] ?? '';
    const typed = operands[1];
    const remoteSubject = typed ?? localPath.basename(source);
    await transfer(out, 'put', remoteSubject, async () => {
      let target = resolvePath(ctx.cwd, typed ?? localPath.basename(source));
      if (typed !== undefined && (await isRemoteDirectory(ctx, target))) target = joinPath(target, localPath.basename(source));
      const progress = progressLine(out);
      let entry;
      try {
        entry = await ctx.api.put(source, target, { overwrite: flags.has('f'), wait, ...(progress.listener ? { onProgress: progress.listener } : {}) });
      } catch (error) {
        if (isDfsError(error, 'EXISTS')) throw new CommandError('File exists (put -f replaces it)');
        throw error;
      } finally {
        progress.done();
      }
      const replicas = entry.replicas;
      if (wait && replicas) out.stdout(`${target}: replicated ${replicas.have}/${replicas.want}\n`);
      if (!wait) out.stdout(`${target}: stored; replication continues\n`);
    });
  },
};

export const get: ShellCommand = {
  name: 'get',
  usage: 'get REMOTE [LOCAL]',
  summary: 'download a file (verified; nothing is left behind if it fails)',
  details: ['LOCAL defaults to the file\'s name in the local working directory; a local directory receives it.'],
  completes: 'paths',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, 2);
    const typed = operands[0] ?? '';
    await transfer(out, 'get', typed, async () => {
      const source = resolvePath(ctx.cwd, typed);
      let target = operands[1] ?? baseName(source);
      if (await isLocalDirectory(target)) target = localPath.join(target, baseName(source));
      const progress = progressLine(out);
      try {
        await ctx.api.get(source, target, progress.listener ? { onProgress: progress.listener } : {});
      } finally {
        progress.done();
      }
    });
  },
};

/** The shell's stdout as a byte stream; a text-only output (tests) gets the bytes decoded as UTF-8. */
function byteOutput(out: ShellOutput): NodeJS.WritableStream {
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
  completes: 'paths',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, Infinity);
    const output = byteOutput(out);
    let failures = 0;
    for (const typed of operands) {
      try {
        await ctx.api.cat(resolvePath(ctx.cwd, typed), output);
      } catch (error) {
        reportError(out, 'cat', typed, error);
        failures++;
      }
    }
    if (failures > 0) throw new CommandFailed(failures);
  },
};
