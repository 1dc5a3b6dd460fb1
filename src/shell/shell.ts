// `dfs shell`: log in, then run commands from -c, from stdin when it is not a terminal (no prompt,
// no banner), or interactively. The exit status is 0 only when every command succeeded, 1 when
// any failed or the login did, 2 for a bad invocation (no master, a -c line that does not parse).

import { createInterface } from 'node:readline';
import { setImmediate } from 'node:timers/promises';
import { DfsError } from '../wire/errors';
import { formatHostPort } from '../wire/address';
import type { Prompter, ShellContext, ShellOutput } from './context';
import { historyFilePath } from './history';
import { terminalPrompter } from './prompt';
import { runLine } from './registry';
import { spawnLocal } from './commands/local';
import { runRepl } from './repl';
import { openSession, type ConnectCluster, type FetchPresentedCa, type Session } from './session';

export type InputStream = NodeJS.ReadableStream & { isTTY?: boolean };
export type OutputStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; destroyed?: boolean };
export type ShellExitStatus = 0 | 1 | 2;

export interface ShellOptions {
  /** The positional HOST:PORT (else DFS_MASTER). */
  address?: string;
  /** --ca FILE (else DFS_CA, else known_masters). */
  caFile?: string;
  /** --user NAME (else DFS_USER, else shared). */
  user?: string;
  /** -c "CMD; CMD": run these and exit. */
  command?: string;
  /** -e: stop at the first command that fails. */
  stopOnError?: boolean;
  /** Defaults to process.env; tests pass their own. */
  env?: Readonly<Record<string, string | undefined>>;
  stdin?: InputStream;
  stdout?: OutputStream;
  stderr?: OutputStream;
  /** Tests replace the network. */
  connect?: ConnectCluster;
  fetchPresentedCa?: FetchPresentedCa;
}

function isTerminalInput(stream: InputStream): stream is NodeJS.ReadStream {
  return stream.isTTY === true;
}

function isTerminalOutput(stream: OutputStream): stream is NodeJS.WriteStream {
  return stream.isTTY === true;
}

/**
 * Commands' writer. A closed stdout (`dfs shell -c find | head`) stops the shell quietly; one that fails otherwise (a
 * full disk) stops it too, and the command writing says why. The listener stays on the stream, since its error can
 * be emitted after the shell has returned; it never throws (an uncaught error would print a stack trace).
 */
function streamOutput(stdout: OutputStream, stderr: OutputStream, onBrokenPipe: () => void): ShellOutput {
  let broken = false;
  const breakPipe = (): void => {
    broken = true;
    onBrokenPipe();
  };
  stdout.on('error', () => breakPipe());
  return {
    stdout: (text) => {
      if (broken) return;
      stdout.write(text);
      // A failed write destroys the stream at once; its error event only comes on a later tick.
      if (stdout.destroyed === true) breakPipe();
    },
    stderr: (text) => {
      stderr.write(text);
    },
    get columns() {
      return stdout.isTTY === true ? stdout.columns : undefined;
    },
    binary: stdout,
  };
}

async function runScript(stdin: InputStream, ctx: ShellContext, out: ShellOutput): Promise<ShellExitStatus> {
  const lines = createInterface({ input: stdin, terminal: false, crlfDelay: Infinity });
  let failed = false;
  try {
    for await (const line of lines) {
      if ((await runLine(line, ctx, out)) !== 'ok') failed = true;
      // Let pending events in (a closed stdout reports EPIPE on a later tick) before the next line.
      await setImmediate();
      if (ctx.exitRequested) break;
    }
  } finally {
    lines.close();
  }
  return failed ? 1 : 0;
}

function createContext(session: Session, env: ShellContext['env'], prompt: Prompter | undefined, stdin: NodeJS.ReadableStream | undefined, stopOnError: boolean): ShellContext {
  return {
    api: session.api,
    identity: session.identity,
    master: formatHostPort(session.address),
    cwd: '/',
    passwordless: session.passwordless,
    env,
    prompt,
    exitRequested: false,
    stdin,
    stopOnError,
  };
}

export async function runShell(options: ShellOptions): Promise<ShellExitStatus> {
  const env = options.env ?? process.env;
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const promptOutput = isTerminalOutput(stderr) ? stderr : isTerminalOutput(stdout) ? stdout : process.stderr;
  const prompter = isTerminalInput(stdin) ? terminalPrompter(stdin, promptOutput) : undefined;
  let session: Session;
  try {
    session = await openSession({
      address: options.address,
      caFile: options.caFile,
      user: options.user,
      env,
      prompter,
      interactive: isTerminalInput(stdin) && isTerminalOutput(stdout),
      notice: (text) => stderr.write(text),
      ...(options.connect ? { connect: options.connect } : {}),
      ...(options.fetchPresentedCa ? { fetchPresentedCa: options.fetchPresentedCa } : {}),
    });
  } catch (error) {
    stderr.write(`dfs: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof DfsError && error.code === 'BAD_REQUEST' ? 2 : 1;
  }
  const ctx = createContext(session, env, prompter, options.command !== undefined && !isTerminalInput(stdin) ? stdin : undefined, options.stopOnError === true);
  const out = streamOutput(stdout, stderr, () => {
    ctx.exitRequested = true;
  });
  // !COMMAND: under -c it may read stdin; with commands on stdin it must not eat them.
  ctx.local = spawnLocal(out, options.command !== undefined ? 'inherit' : 'ignore');
  try {
    if (options.command !== undefined) {
      const status = await runLine(options.command, ctx, out);
      return status === 'ok' ? 0 : status === 'syntax-error' ? 2 : 1;
    }
    if (!isTerminalInput(stdin) || !isTerminalOutput(stdout)) return await runScript(stdin, ctx, out);
    const status = await runRepl({ ctx, input: stdin, output: stdout, out, historyFile: historyFilePath(env) });
    return status === 'ok' ? 0 : 1;
  } finally {
    session.api.close();
  }
}
