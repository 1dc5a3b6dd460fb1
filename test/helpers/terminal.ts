// A real terminal for end-to-end tests: build/dfs run in a tmux session on a private socket, its screen
// read with capture-pane, keys sent with send-keys. One tmux server per test process, killed at the end.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import tap, { type Test } from 'tap';
import { DFS } from './binary';

const TMUX = '/usr/bin/tmux';
const TMUX_SOCKET = `dfs-test-${process.pid}`;
const POLL_MS = 40;

interface TmuxResult {
  code: number;
  stdout: string;
  stderr: string;
}

const tmuxEnv = ((): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color' };
  delete env.TMUX;
  delete env.TMUX_PANE;
  return env;
})();

/** The server's directory (config, exit-status files), made at the first session. */
let tmuxDir: string | undefined;
/** The server's socket file, known once a session has started; tmux leaves it behind after kill-server. */
let tmuxSocketPath: string | undefined;
let sessionCount = 0;

function serverDir(): string {
  if (tmuxDir !== undefined) return tmuxDir;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dfs-tmux-'));
  // A dead pane stays so its exit status can be read; kill-session in each test's teardown removes it.
  writeFileSync(path.join(dir, 'tmux.conf'), 'set -g remain-on-exit on\nset -g history-limit 5000\n');
  tmuxDir = dir;
  tap.teardown(async () => {
    await tmux(['kill-server']);
    if (tmuxSocketPath !== undefined) rmSync(tmuxSocketPath, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function tmux(args: string[]): Promise<TmuxResult> {
  const conf = path.join(serverDir(), 'tmux.conf');
  return new Promise((resolve) => {
    execFile(TMUX, ['-L', TMUX_SOCKET, '-f', conf, ...args], { env: tmuxEnv, timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

export interface TerminalOptions {
  /** The whole environment dfs runs with (env -i), TERM apart. */
  env: Record<string, string>;
  args: string[];
  cwd?: string;
  columns?: number;
  rows?: number;
  /** screen() includes the scrollback, wrapped lines joined (a shell's output), not just the visible screen (a TUI). */
  scrollback?: boolean;
  /** Default limit of waitFor and exited. */
  timeoutMs?: number;
}

export interface Terminal {
  name: string;
  /** The pane as text, trailing blanks trimmed per line. */
  screen(): Promise<string>;
  /** Types text literally (no key names). */
  type(text: string): Promise<void>;
  /** Presses keys by tmux name: Enter, Tab, Up, BSpace, C-d. */
  press(...keys: string[]): Promise<void>;
  /** Polls the screen until `done` holds; fails with the screen after `timeoutMs`. */
  waitFor(what: string, done: (screen: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Waits until dfs has ended and nothing runs in the pane; resolves with dfs's exit status. */
  exited(timeoutMs?: number): Promise<number>;
}

/**
 * Runs `env -i ENV… build/dfs ARGS` in a new tmux session, killed in the teardown. A /bin/sh around it
 * writes dfs's exit status to a file: tmux 3.3 does not always reap a pane's process promptly
 * (pane_dead_status stays empty, a zombie remains), so its own status is not relied on.
 */
export async function openTerminal(t: Test, options: TerminalOptions): Promise<Terminal> {
  if (!existsSync(TMUX)) throw new Error(`${TMUX} is missing: the terminal tests need tmux`);
  const { columns = 120, rows = 30, timeoutMs: defaultTimeoutMs = 10_000 } = options;
  const name = `dfs-${process.pid}-${++sessionCount}`;
  const statusFile = path.join(serverDir(), `${name}.status`);
  const variables = Object.entries({ TERM: 'xterm-256color', ...options.env }).map(([key, value]) => `${key}=${value}`);
  const wrapper = `"$@"; echo "$?" > ${shellQuote(statusFile)}`;
  const command = ['env', '-i', ...variables, '/bin/sh', '-c', wrapper, 'sh', DFS, ...options.args].map(shellQuote).join(' ');
  const where = options.cwd === undefined ? [] : ['-c', options.cwd];
  const started = await tmux(['new-session', '-d', '-s', name, ...where, '-x', String(columns), '-y', String(rows), command]);
  if (started.code !== 0) throw new Error(`tmux new-session failed: ${started.stderr}`);
  t.teardown(() => tmux(['kill-session', '-t', name]));
  tmuxSocketPath ??= (await tmux(['display-message', '-p', '#{socket_path}'])).stdout.trim() || undefined;
  const target = `=${name}:`;
  const run = async (args: string[]): Promise<string> => {
    const result = await tmux(args);
    if (result.code !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  // -J joins wrapped lines but keeps trailing spaces: drop them, as a person would not see them.
  const capture = options.scrollback === true ? ['capture-pane', '-p', '-J', '-S', '-', '-t', target] : ['capture-pane', '-p', '-t', target];
  const screen = async (): Promise<string> =>
    (await run(capture))
      .split('\n')
      .map((line) => line.trimEnd())
      .join('\n');
  /** dfs's exit status once it has ended and the pane is dead (nothing runs in it any more). */
  const exitStatus = async (): Promise<number | undefined> => {
    const status = /^(\d+)\n$/.exec(await fs.readFile(statusFile, 'utf8').catch(() => ''))?.[1];
    if (status === undefined) return undefined;
    const dead = (await run(['display-message', '-p', '-t', target, '#{pane_dead}'])).trim();
    return dead === '1' ? Number(status) : undefined;
  };
  const poll = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the screen:\n${await screen()}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };
  return {
    name,
    screen,
    type: async (text) => void (await run(['send-keys', '-t', target, '-l', text])),
    press: async (...keys) => void (await run(['send-keys', '-t', target, ...keys])),
    waitFor: (what, done, timeoutMs = defaultTimeoutMs) =>
      poll(what, async () => {
        const text = await screen();
        return done(text) ? text : undefined;
      }, timeoutMs),
    exited: (timeoutMs = defaultTimeoutMs) => poll('dfs to exit', exitStatus, timeoutMs),
  };
}
