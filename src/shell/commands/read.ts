// Reading the start or the end of files: head and tail, by lines or bytes. head stops the download once it has
// its bytes; tail reads the whole file and keeps only its end (at most SHELL_TAIL_BYTES_MAX).

import { Writable } from 'node:stream';
import { OutputClosed } from '../../client/transfer';
import { SHELL_TAIL_BYTES_MAX } from '../../limits';
import { resolvePath } from '../../paths';
import { printable } from '../../printable';
import { Interrupted } from '../../wire/errors';
import { parseCount } from '../../units';
import type { ShellCommand, ShellContext, ShellOutput } from '../context';
import { CommandFailed, reasonOf, UsageError, usageParse } from '../errors';
import { expectOperands } from '../parse';
import { byteOutput } from './transfer';

const LINES_DEFAULT = 10;

interface Amount {
  unit: 'lines' | 'bytes';
  count: number;
}

/** -n N / -c N (also -nN, -cN), and the paths. */
function parseAmount(args: readonly string[]): { amount: Amount; paths: string[] } {
  let amount: Amount = { unit: 'lines', count: LINES_DEFAULT };
  const paths: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    const flag = /^-([nc])(\d*)$/.exec(arg);
    if (!flag) {
      if (arg.startsWith('-') && arg !== '-') throw new UsageError(`invalid option -- '${arg.slice(1)}'`);
      paths.push(arg);
      continue;
    }
    const text = flag[2] !== '' ? (flag[2] ?? '') : (args[++index] ?? '');
    amount = { unit: flag[1] === 'c' ? 'bytes' : 'lines', count: usageParse(() => parseCount(text, flag[1] === 'c' ? '-c' : '-n', 0, Number.MAX_SAFE_INTEGER)) };
  }
  expectOperands(paths, 1, Infinity);
  return { amount, paths };
}

/** How many bytes of `chunk` hold the first `lines` lines (all of it when fewer). */
function bytesOfLines(chunk: Buffer, lines: number): { bytes: number; lines: number } {
  let seen = 0;
  for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
    if (++seen === lines) return { bytes: at + 1, lines: seen };
  }
  return { bytes: chunk.length, lines: seen };
}

/** A sink passing the first `amount` on to `output`, then closing, which ends the download quietly. */
function headSink(output: NodeJS.WritableStream, amount: Amount): Writable {
  let left = amount.count;
  const sink: Writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const taken = amount.unit === 'bytes' ? { bytes: Math.min(left, chunk.length), lines: 0 } : bytesOfLines(chunk, left);
      if (taken.bytes > 0) output.write(chunk.subarray(0, taken.bytes));
      left -= amount.unit === 'bytes' ? taken.bytes : taken.lines;
      callback();
      if (left <= 0) sink.destroy();
    },
  });
  if (left <= 0) sink.destroy();
  return sink;
}

/** A sink keeping the last `amount` of what it is given (at most SHELL_TAIL_BYTES_MAX bytes). */
class TailSink extends Writable {
  private kept: Buffer = Buffer.alloc(0);

  constructor(private readonly amount: Amount) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.kept = Buffer.concat([this.kept, chunk]);
    if (this.amount.unit === 'bytes') this.kept = this.kept.subarray(Math.max(0, this.kept.length - this.amount.count));
    else this.kept = this.kept.subarray(this.startOfLastLines(this.kept));
    if (this.kept.length > SHELL_TAIL_BYTES_MAX) return callback(new Error(`the last ${this.amount.count} ${this.amount.unit} are more than ${SHELL_TAIL_BYTES_MAX} bytes: use -c`));
    callback();
  }

  /** What it kept. */
  get lastBytes(): Buffer {
    return this.kept;
  }

  /** Where the last `count` lines begin (a last line without a newline counts as one). */
  private startOfLastLines(buffer: Buffer): number {
    let lines = 0;
    let at = buffer.length - 1;
    if (buffer[at] === 10) at--; // the final newline ends the last line
    for (; at >= 0; at--) {
      if (buffer[at] === 10 && ++lines === this.amount.count) return at + 1;
    }
    return this.amount.count === 0 ? buffer.length : 0;
  }
}

async function readEach(ctx: ShellContext, out: ShellOutput, command: string, args: readonly string[], read: (path: string, amount: Amount, output: NodeJS.WritableStream) => Promise<void>): Promise<void> {
  const { amount, paths } = parseAmount(args);
  const output = byteOutput(out);
  let failures = 0;
  for (const [index, typed] of paths.entries()) {
    if (paths.length > 1) output.write(`${index > 0 ? '\n' : ''}==> ${printable(typed)} <==\n`);
    try {
      await read(resolvePath(ctx.cwd, typed), amount, output);
    } catch (error) {
      if (error instanceof OutputClosed) return;
      if (error instanceof Interrupted) throw error;
      out.stderr(`dfs: ${command}: ${printable(typed)}: ${printable(reasonOf(error))}\n`);
      failures++;
    }
  }
  if (failures > 0) throw new CommandFailed(failures);
}

export const head: ShellCommand = {
  name: 'head',
  usage: 'head [-n N | -c N] PATH…',
  summary: 'print the first lines (10) or bytes of files',
  details: ['Only the bytes shown are downloaded: the transfer stops there.'],
  operands: 'remote',
  async run(args, ctx, out) {
    await readEach(ctx, out, 'head', args, async (path, amount, output) => {
      await ctx.api.cat(path, headSink(output, amount)).catch((error: unknown) => {
        if (!(error instanceof OutputClosed)) throw error; // our own sink closing: it has what it wanted
      });
    });
  },
};

export const tail: ShellCommand = {
  name: 'tail',
  usage: 'tail [-n N | -c N] PATH…',
  summary: 'print the last lines (10) or bytes of files',
  details: [`The whole file is read (and verified); only its end is kept, at most ${SHELL_TAIL_BYTES_MAX / 1024 / 1024} MiB.`],
  operands: 'remote',
  async run(args, ctx, out) {
    await readEach(ctx, out, 'tail', args, async (path, amount, output) => {
      const sink = new TailSink(amount);
      await ctx.api.cat(path, sink);
      output.write(sink.lastBytes);
    });
  },
};
