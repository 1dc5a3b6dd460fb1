// The interactive shell on a fake terminal: the prompt shows user@master:/cwd, Tab completes a
// remote path, Ctrl-C drops the typed line, passwords are neither echoed nor kept in any history,
// lines go to the history file, and Ctrl-D leaves.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import t from 'tap';
import { runRepl } from '../../src/shell/repl';
import { tempDir } from '../helpers/binary';
import { MemoryCluster } from '../helpers/memory-cluster';
import { capture, testContext } from '../helpers/shell-harness';

const WAIT_MS_MAX = 3_000;

class FakeTerminalOutput extends Writable {
  text = '';
  readonly isTTY = true;
  columns = 100;
  rows = 40;
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

function fakeTerminalInput(): NodeJS.ReadStream {
  const input = new PassThrough() as unknown as NodeJS.ReadStream & { isRaw: boolean };
  Object.assign(input, { isTTY: true, isRaw: false, setRawMode: (mode: boolean) => Object.assign(input, { isRaw: mode }) });
  return input;
}

let debugText = (): string => '';

async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${debugText()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function startRepl(t: { teardown(fn: () => unknown): void }, cluster: MemoryCluster, admin = false) {
  const historyFile = path.join(await tempDir(t, 'dfs-repl-'), 'history');
  const input = fakeTerminalInput();
  const terminal = new FakeTerminalOutput();
  const captured = capture();
  const identity = { user: admin ? 'admin' : 'shared', admin };
  const ctx = testContext(cluster, { identity, passwordless: !admin });
  debugText = () => `; the terminal shows ${JSON.stringify(terminal.text)}`;
  const done = runRepl({ ctx, input, output: terminal as unknown as NodeJS.WriteStream, out: captured.out, historyFile });
  // Every drawing of the prompt, whatever the working directory in it.
  const prompts = (): number => terminal.text.split(`${identity.user}@${ctx.master}:`).length - 1;
  /** Types `text` and waits until the prompt was drawn `count` more times (0: do not wait). */
  const type = async (text: string, count = 1): Promise<void> => {
    const before = prompts();
    input.write(text);
    if (count > 0) await waitFor(`prompt after ${JSON.stringify(text)}`, () => prompts() >= before + count);
  };
  await waitFor('the first prompt', () => prompts() === 1);
  return { ctx, input, terminal, captured, done, type, historyFile };
}

t.test('repl: prompt, commands, cwd in the prompt, history file, Ctrl-D', async (t) => {
  const repl = await startRepl(t, new MemoryCluster());
  t.match(repl.captured.stdout(), /^Connected to 127\.0\.0\.1:7070 as shared\. Type help/);
  t.match(repl.terminal.text, 'shared@127.0.0.1:7070:/$ ');
  await repl.type('mkdir -p /docs/notes\r');
  await repl.type('cd /docs\r');
  t.match(repl.terminal.text, 'shared@127.0.0.1:7070:/docs$ ');
  await repl.type('pwd\r');
  t.match(repl.captured.stdout(), /\/docs\n$/);
  await repl.type('ls /nope\r');
  t.equal(repl.captured.stderr(), 'dfs: ls: /nope: No such file or directory\n');
  repl.input.write('\x04');
  t.equal(await repl.done, 'failed', 'a failed command makes the session fail');
  t.equal(await fs.readFile(repl.historyFile, 'utf8'), 'mkdir -p /docs/notes\ncd /docs\npwd\nls /nope\n');
});

t.test('repl: Tab completes a remote path; Ctrl-C drops the line', async (t) => {
  const repl = await startRepl(t, new MemoryCluster().addDir('/projects/alpha'));
  await repl.type('cd /pro\t', 0);
  await waitFor('completion', () => repl.terminal.text.includes('cd /projects/'));
  await repl.type('\r');
  t.equal(repl.ctx.cwd, '/projects');
  await repl.type('rm -r alpha', 0);
  await repl.type('\x03');
  t.match(repl.terminal.text, 'rm -r alpha^C\r\n');
  await repl.type('exit\r', 0);
  t.equal(await repl.done, 'ok');
  t.ok(repl.ctx.api instanceof MemoryCluster && repl.ctx.api.entries.has('/projects/alpha'), 'the dropped line did not run');
});

t.test('repl: passwd prompts are hidden and kept out of every history', async (t) => {
  const cluster = new MemoryCluster({ user: 'admin', admin: true });
  const repl = await startRepl(t, cluster, true);
  await repl.type('passwd\r', 0);
  await waitFor('current password question', () => repl.terminal.text.includes('Current password for admin: '));
  repl.input.write('admin-secret\r');
  await waitFor('new password question', () => repl.terminal.text.includes('New password for admin: '));
  repl.input.write('n3w-pass\r');
  await waitFor('retype question', () => repl.terminal.text.includes('Retype the new password: '));
  await repl.type('n3w-pass\r');
  t.equal(cluster.accounts.get('admin')?.password, 'n3w-pass');
  t.notMatch(repl.terminal.text, 'admin-secret', 'typed passwords are not echoed');
  t.notMatch(repl.terminal.text, 'n3w-pass');
  await repl.type('\x1b[A', 0);
  // Up-arrow recalls the passwd line itself, not an answer typed at its questions.
  await waitFor('history recall', () => repl.terminal.text.includes(':/$ passwd\u001b['));
  await repl.type('\x03');
  await repl.type('exit\r', 0);
  await repl.done;
  const history = await fs.readFile(repl.historyFile, 'utf8').catch(() => '');
  t.notMatch(history, /passwd|admin-secret|n3w-pass/);
  t.equal(history, 'exit\n');
});

t.test('repl: Ctrl-C at a password question cancels the command', async (t) => {
  const cluster = new MemoryCluster({ user: 'admin', admin: true });
  const repl = await startRepl(t, cluster, true);
  await repl.type('passwd\r', 0);
  await waitFor('current password question', () => repl.terminal.text.includes('Current password for admin: '));
  await repl.type('\x03');
  t.equal(repl.captured.stderr(), 'dfs: passwd: cancelled\n');
  t.equal(cluster.accounts.get('admin')?.password, 'admin-secret');
  await repl.type('exit\r', 0);
  t.equal(await repl.done, 'failed');
});

t.test('repl: Ctrl-R searches the history as bash does; Enter runs the line found, Ctrl-G gives the old line back', async (t) => {
  const cluster = new MemoryCluster();
  const repl = await startRepl(t, cluster);
  /** The line as last drawn, escape sequences dropped. */
  const drawn = (): string => (repl.terminal.text.split('\x1b[0J').at(-1) ?? '').replace(/\x1b\[\d*[A-Za-z]/g, '');
  await repl.type('mkdir -p /alpha/beta\r');
  await repl.type('cd /alpha\r');
  await repl.type('pwd\r');
  await repl.type('\x12', 0);
  await waitFor('the search prompt', () => drawn() === "(reverse-i-search)`': ");
  await repl.type('mk', 0);
  await waitFor('the match', () => drawn() === "(reverse-i-search)`mk': mkdir -p /alpha/beta");
  await repl.type('\x12', 0);
  await repl.type('zz', 0);
  await waitFor('no match', () => drawn() === "(failed reverse-i-search)`mkzz': mkdir -p /alpha/beta");
  await repl.type('\x7f\x7f', 0);
  await repl.type('\x07', 0);
  await waitFor('the old line back', () => drawn() === 'shared@127.0.0.1:7070:/alpha$ ');
  await repl.type('\x12cd', 0);
  await waitFor('cd found', () => drawn() === "(reverse-i-search)`cd': cd /alpha");
  await repl.type('\x12', 0);
  await repl.type('\x1b[D', 0); // an arrow key: the line found stays, to be edited
  await waitFor('the line in the normal prompt', () => drawn() === 'shared@127.0.0.1:7070:/alpha$ cd /alpha');
  await repl.type('\x05/beta\r'); // Ctrl-E, then append
  t.equal(repl.ctx.cwd, '/alpha/beta', 'the edited line ran');
  await repl.type('\x12pw', 0);
  await repl.type('\r', 0);
  await waitFor('pwd to run', () => repl.captured.stdout().endsWith('/alpha/beta\n'));
  t.pass('Enter ran the pwd it found');
  await repl.type('exit\r', 0);
  t.equal(await repl.done, 'ok');
});
