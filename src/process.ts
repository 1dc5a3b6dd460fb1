// Running roles as child processes of this same executable, and the readiness line they print.

import { spawn, type ChildProcess } from 'node:child_process';
import { isSea } from 'node:sea';
import type { Writable } from 'node:stream';
import { parseHostPort, type HostPort } from './wire/address';
import { DfsError } from './wire/errors';

export const LISTENING_PREFIX = 'listening on ';
/** What a role logs, before it exits with EXIT_SOFTWARE, when a throw reached no handler: a bug, named so that
 * tests and operators can look for it. */
export const LAST_RESORT_MARKER = 'fatal: uncaught';
/** A role's exit status after a bug reached the last resort (sysexits' EX_SOFTWARE): a supervisor restarts it. */
export const EXIT_SOFTWARE = 70;
/** Set for roles run by another dfs process: stop when stdin ends, i.e. when the parent is gone. */
export const STOP_ON_STDIN_EOF = 'DFS_STOP_ON_STDIN_EOF';

/** The command that starts this program again: the executable itself, or node with its script. */
export function selfCommand(): { command: string; args: string[] } {
  if (isSea()) return { command: process.execPath, args: [] };
  const script = process.argv[1];
  if (script === undefined) throw new DfsError('INTERNAL', 'cannot tell how this program was started');
  return { command: process.execPath, args: [...process.execArgv, script] };
}

export interface ChildRole {
  name: string;
  child: ChildProcess;
  address: HostPort;
}

/** Starts `dfs ARGS…` and resolves with the address from its "listening on" line. */
export function spawnRole(name: string, args: string[], log: Writable, env: NodeJS.ProcessEnv = process.env): Promise<ChildRole> {
  const self = selfCommand();
  // Its own process group, so a Ctrl-C at the parent's terminal is the parent's to handle; and a
  // stdin pipe whose end tells the child its parent is gone, even after a kill -9.
  const child = spawn(self.command, [...self.args, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...env, [STOP_ON_STDIN_EOF]: '1' },
    detached: true,
  });
  child.stderr?.pipe(log, { end: false });
  // The last words of a child that dies while starting say why; keep a few lines of them.
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000)));
  return new Promise((resolve, reject) => {
    let pending = '';
    const onData = (chunk: Buffer): void => {
      pending += chunk.toString('utf8');
      const line = pending.split('\n').find((candidate) => candidate.startsWith(LISTENING_PREFIX));
      if (line === undefined) return;
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.stdout?.resume();
      resolve({ name, child, address: parseHostPort(line.slice(LISTENING_PREFIX.length)) });
    };
    const onExit = (code: number | null, signal: string | null): void => {
      const why = stderrTail.trim().split('\n').filter((line) => line.startsWith('dfs: ')).pop();
      reject(new DfsError('UNAVAILABLE', `${name} exited before it was ready (${why ?? signal ?? `exit code ${code}`})`));
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Asks a child to stop (SIGTERM) and waits; SIGKILL after graceMs. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
