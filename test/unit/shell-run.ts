// runShell end to end over a MemoryCluster (connect and fetch are faked): -c lines with `;`,
// commands read from stdin, exit statuses (0 all good, 1 any failure, 2 bad invocation), and the
// login inputs (HOST:PORT or DFS_MASTER, --ca or DFS_CA, --user or DFS_USER, DFS_PASSWORD).

import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import t from 'tap';
import type { ClusterApi } from '../../src/client/api';
import { createCa } from '../../src/trust/ca';
import { DfsError } from '../../src/wire/errors';
import { runShell, type ShellOptions } from '../../src/shell/shell';
import type { ConnectClusterOptions } from '../../src/shell/session';
import { tempDir } from '../helpers/binary';
import { MemoryCluster } from '../helpers/memory-cluster';

const caPem = createCa('dfs test CA').certPem;

class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

interface Harness {
  cluster: MemoryCluster;
  connects: ConnectClusterOptions[];
  stdout: TextSink;
  stderr: TextSink;
  run(options: Partial<ShellOptions>, stdinText?: string): Promise<number>;
}

async function harness(t: { teardown(fn: () => unknown): void }, cluster = new MemoryCluster()): Promise<Harness> {
  const home = await tempDir(t, 'dfs-shell-run-');
  const caFile = path.join(home, 'ca.pem');
  await fs.writeFile(caFile, caPem);
  const connects: ConnectClusterOptions[] = [];
  const stdout = new TextSink();
  const stderr = new TextSink();
  const run = (options: Partial<ShellOptions>, stdinText = ''): Promise<number> =>
    runShell({
      address: '127.0.0.1:7070',
      caFile,
      env: { DFS_HOME: home, DFS_HISTORY: path.join(home, 'history') },
      stdin: Readable.from([stdinText]),
      stdout,
      stderr,
      connect: async (connectOptions): Promise<ClusterApi> => {
        connects.push(connectOptions);
        return cluster;
      },
      fetchPresentedCa: async () => caPem,
      ...options,
    });
  return { cluster, connects, stdout, stderr, run };
}

t.test('-c runs the ;-separated commands and exits 0 when all succeed', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({ command: 'mkdir /a; cd a; mkdir b; pwd; ls /a' }), 0);
  t.equal(shell.stdout.text, '/a\nb\n');
  t.equal(shell.stderr.text, '');
  t.same(shell.connects, [{ address: { host: '127.0.0.1', port: 7070 }, caPem, user: 'shared', password: undefined }]);
  t.ok(shell.cluster.closed, 'the connection is closed afterwards');
});

t.test('-c exits 1 when any command fails, after running the rest', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({ command: 'ls /nope; mkdir /made' }), 1);
  t.equal(shell.stderr.text, 'dfs: ls: /nope: No such file or directory\n');
  t.ok(shell.cluster.entries.has('/made'));
});

t.test('-c with a line that does not parse exits 2 and runs nothing', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({ command: 'mkdir /a; ls "open' }), 2);
  t.equal(shell.stderr.text, 'dfs: syntax error: unterminated double quote\n');
  t.notOk(shell.cluster.entries.has('/a'));
});

t.test('-c: exit stops there', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({ command: 'mkdir /a; exit; mkdir /b' }), 0);
  t.ok(shell.cluster.entries.has('/a'));
  t.notOk(shell.cluster.entries.has('/b'));
});

t.test('stdin that is not a terminal: one command line per line, no prompt, no banner', async (t) => {
  const shell = await harness(t);
  const script = 'mkdir -p "/my docs/x"\n# a comment\n\ncd "/my docs"; pwd\r\nls\n';
  t.equal(await shell.run({}, script), 0);
  t.equal(shell.stdout.text, '/my docs\nx\n');
  t.equal(shell.stderr.text, '');
});

t.test('stdin: a failing line makes the status 1 but later lines still run; exit stops reading', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({}, 'rm /nope\nmkdir /a\nexit\nmkdir /b\n'), 1);
  t.equal(shell.stderr.text, 'dfs: rm: /nope: No such file or directory\n');
  t.ok(shell.cluster.entries.has('/a'));
  t.notOk(shell.cluster.entries.has('/b'));
});

t.test('stdin: a syntax error fails that line only', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({}, "ls 'x\nmkdir /a\n"), 1);
  t.ok(shell.cluster.entries.has('/a'));
});

t.test('no master: usage error 2 with what to do; DFS_MASTER is used when no HOST:PORT', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({ address: undefined, command: 'pwd' }), 2);
  t.equal(shell.stderr.text, 'dfs: no master given: dfs shell HOST:PORT or DFS_MASTER\n');
  t.same(shell.connects, []);
  const fromEnv = await harness(t);
  t.equal(await fromEnv.run({ address: undefined, command: 'pwd', env: { DFS_MASTER: 'master.example:7000', DFS_HOME: '/nonexistent-dfs-home' } }), 0);
  t.same(fromEnv.connects[0]?.address, { host: 'master.example', port: 7000 });
  t.equal(await fromEnv.run({ address: 'no-port', command: 'pwd' }), 2);
  t.match(fromEnv.stderr.text, 'dfs: invalid address "no-port": missing :PORT\n');
});

t.test('no CA and no terminal: refused (status 1) with the hint to pass --ca', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({ caFile: undefined, command: 'pwd' }), 1);
  t.match(shell.stderr.text, /^dfs: no CA to verify the master 127\.0\.0\.1:7070 with: pass --ca FILE/);
  t.same(shell.connects, []);
});

t.test('DFS_CA names the CA when --ca is absent', async (t) => {
  const shell = await harness(t);
  const dir = await tempDir(t, 'dfs-shell-ca-');
  const caFile = path.join(dir, 'env-ca.pem');
  await fs.writeFile(caFile, caPem);
  t.equal(await shell.run({ caFile: undefined, command: 'pwd', env: { DFS_CA: caFile, DFS_HOME: dir } }), 0);
  t.equal(shell.connects[0]?.caPem, caPem);
});

t.test('user and password: --user, DFS_USER, DFS_PASSWORD; none for shared', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({ user: 'alice', command: 'pwd', env: { DFS_PASSWORD: 'pw', DFS_HOME: '/nonexistent' } }), 0);
  t.match(shell.connects[0], { user: 'alice', password: 'pw' });
  t.equal(await shell.run({ command: 'pwd', env: { DFS_USER: 'bob', DFS_PASSWORD: 'bpw', DFS_HOME: '/nonexistent' } }), 0);
  t.match(shell.connects[1], { user: 'bob', password: 'bpw' });
  t.equal(await shell.run({ user: 'carol', command: 'pwd', env: { DFS_USER: 'bob', DFS_PASSWORD: 'x', DFS_HOME: '/nonexistent' } }), 0);
  t.match(shell.connects[2], { user: 'carol' }, '--user wins over DFS_USER');
  t.equal(await shell.run({ command: 'pwd', env: { DFS_PASSWORD: 'ignored', DFS_HOME: '/nonexistent' } }), 0);
  t.match(shell.connects[3], { user: 'shared', password: undefined }, 'shared has no password');
});

t.test('a user other than shared without DFS_PASSWORD and no terminal is refused before connecting', async (t) => {
  const shell = await harness(t);
  t.equal(await shell.run({ user: 'alice', command: 'pwd' }), 1);
  t.equal(shell.stderr.text, 'dfs: no password for alice: set DFS_PASSWORD to log in without a terminal\n');
  t.same(shell.connects, []);
});

t.test('a failed login is status 1 with the master\'s reason', async (t) => {
  const shell = await harness(t);
  const status = await shell.run({
    command: 'pwd',
    connect: async () => {
      throw new DfsError('UNAUTHENTICATED', 'wrong user or password');
    },
  });
  t.equal(status, 1);
  t.equal(shell.stderr.text, 'dfs: wrong user or password\n');
});

t.test('the identity comes from whoami after login', async (t) => {
  const shell = await harness(t, new MemoryCluster({ user: 'admin', admin: true }));
  t.equal(await shell.run({ user: 'admin', env: { DFS_PASSWORD: 'admin-secret', DFS_HOME: '/nonexistent' }, command: 'whoami' }), 0);
  t.equal(shell.stdout.text, 'admin\n');
});

t.test('a closed stdout (EPIPE) ends the shell quietly, even when the error comes late', async (t) => {
  const shell = await harness(t);
  const closed = new Writable({
    write(_chunk, _encoding, callback) {
      callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  t.equal(await shell.run({ stdout: closed }, 'mkdir /a\nls /\nls /\nmkdir /b\n'), 0);
  // The failed write's 'error' is emitted on a later tick, then 'close': once closed, an error the shell did not
  // listen for would have been thrown; and the shell has returned, so no later line can run.
  if (!closed.closed) await once(closed, 'close');
  t.ok(shell.cluster.entries.has('/a'));
  t.notOk(shell.cluster.entries.has('/b'), 'no command runs once stdout is gone');
});
