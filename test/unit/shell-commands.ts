// The rest of the command table: whoami, passwd, useradd (env and prompt), nodes, fsck, help, exit,
// unknown commands, --help, and how `;` lines keep going after a failure but stop at exit.

import t from 'tap';
import { COMMANDS } from '../../src/shell/registry';
import { MemoryCluster } from '../helpers/memory-cluster';
import { run, sampleCluster, scriptedPrompter, testContext } from '../helpers/shell-harness';

const GIB = 1024 ** 3;

function adminContext(prompt = scriptedPrompter([])) {
  const cluster = new MemoryCluster({ user: 'admin', admin: true });
  return { cluster, prompt, ctx: testContext(cluster, { identity: { user: 'admin', admin: true }, passwordless: false, prompt }) };
}

t.test('whoami prints the user', async (t) => {
  t.equal((await run(testContext(sampleCluster()), 'whoami')).stdout, 'shared\n');
  t.equal((await run(adminContext().ctx, 'whoami')).stdout, 'admin\n');
});

t.test('passwd at a terminal: current password, new one twice', async (t) => {
  const { cluster, prompt, ctx } = adminContext(scriptedPrompter(['admin-secret', 'n3w', 'n3w']));
  const result = await run(ctx, 'passwd');
  t.equal(result.stdout, 'password changed for admin\n');
  t.equal(result.status, 'ok');
  t.same(prompt.asked, ['Current password for admin: (hidden)', 'New password for admin: (hidden)', 'Retype the new password: (hidden)']);
  t.equal(cluster.accounts.get('admin')?.password, 'n3w');
});

t.test('passwd: mismatch, empty and wrong current password change nothing', async (t) => {
  const mismatch = adminContext(scriptedPrompter(['admin-secret', 'one', 'two']));
  t.equal((await run(mismatch.ctx, 'passwd')).stderr, 'dfs: passwd: the passwords do not match; nothing changed\n');
  const empty = adminContext(scriptedPrompter(['admin-secret', '']));
  t.equal((await run(empty.ctx, 'passwd')).stderr, 'dfs: passwd: empty password; nothing changed\n');
  const wrong = adminContext(scriptedPrompter(['guess', 'n3w', 'n3w']));
  const result = await run(wrong.ctx, 'passwd');
  t.equal(result.stderr, 'dfs: passwd: wrong password\n');
  t.equal(result.status, 'failed');
  for (const { cluster } of [mismatch, empty, wrong]) t.equal(cluster.accounts.get('admin')?.password, 'admin-secret');
});

t.test('passwd in scripts: DFS_PASSWORD and DFS_NEW_PASSWORD, or a clear error', async (t) => {
  const { cluster, ctx } = adminContext();
  ctx.prompt = undefined;
  const noTerminal = await run(ctx, 'passwd');
  t.equal(noTerminal.stderr, 'dfs: passwd: no terminal to ask for the current password: set DFS_PASSWORD and DFS_NEW_PASSWORD to run this in a script\n');
  Object.assign(ctx, { env: { DFS_PASSWORD: 'admin-secret', DFS_NEW_PASSWORD: 'from-env' } });
  t.equal((await run(ctx, 'passwd')).status, 'ok');
  t.equal(cluster.accounts.get('admin')?.password, 'from-env');
});

t.test('passwd for a user without a password asks no current one', async (t) => {
  const prompt = scriptedPrompter(['x', 'x']);
  const ctx = testContext(sampleCluster(), { prompt, passwordless: true });
  const result = await run(ctx, 'passwd');
  t.same(prompt.asked, ['New password for shared: (hidden)', 'Retype the new password: (hidden)']);
  t.equal(result.stderr, 'dfs: passwd: Permission denied\n', 'the master refuses it for shared');
});

t.test('useradd: admin, password from the prompt or DFS_NEW_PASSWORD', async (t) => {
  const { cluster, prompt, ctx } = adminContext(scriptedPrompter(['pw', 'pw']));
  t.equal((await run(ctx, 'useradd alice')).stdout, 'added user alice\n');
  t.same(prompt.asked, ['New password for alice: (hidden)', 'Retype the new password: (hidden)']);
  t.equal(cluster.accounts.get('alice')?.password, 'pw');
  Object.assign(ctx, { env: { DFS_NEW_PASSWORD: 'envpw' }, prompt: undefined });
  t.equal((await run(ctx, 'useradd bob')).status, 'ok');
  t.equal(cluster.accounts.get('bob')?.password, 'envpw');
  t.equal((await run(ctx, 'useradd bob')).stderr, 'dfs: useradd: user bob already exists\n');
  Object.assign(ctx, { env: {} });
  t.equal((await run(ctx, 'useradd carol')).stderr, 'dfs: useradd: no terminal to ask for a new password for carol: set DFS_NEW_PASSWORD to run this in a script\n');
  t.equal((await run(ctx, 'useradd')).stderr, 'dfs: useradd: missing operand\nusage: useradd NAME\n');
});

t.test('useradd by a non-admin is refused before any password is asked', async (t) => {
  const prompt = scriptedPrompter([]);
  const cluster = sampleCluster();
  const result = await run(testContext(cluster, { prompt }), 'useradd eve');
  t.equal(result.stderr, 'dfs: useradd: only an admin can add users (you are shared); log in with --user admin\n');
  t.same(prompt.asked, []);
  t.notOk(cluster.accounts.has('eve'));
});

t.test('fsck: problem files, then totals and a status; exit 1 only for missing files', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  const degraded = await run(ctx, 'fsck');
  t.equal(degraded.status, 'ok', 'under-replicated is not a failure');
  t.match(degraded.stdout, '/docs/my report.pdf: under-replicated: 2/3 live copies\n');
  t.match(degraded.stdout, /Files:\s+6 \(/);
  t.match(degraded.stdout, /Under-replicated:\s+1\n/);
  t.match(degraded.stdout, /Status:\s+DEGRADED \(being repaired\)/);
  t.match((await run(ctx, 'fsck photos')).stdout, /Status:\s+HEALTHY/, 'a subtree, relative to the working directory');
  cluster.addFile('/lost.bin', 10, { replicas: { have: 0, want: 3, nodes: [] } });
  const missing = await run(ctx, 'fsck /');
  t.equal(missing.status, 'failed', 'a missing file fails');
  t.match(missing.stdout, '/lost.bin: MISSING: 0/3 live copies');
  t.match(missing.stdout, /Status:\s+MISSING FILES/);
});

t.test('nodes: the admin sees a table with human sizes and the totals; anyone else the totals; a hint when there are none', async (t) => {
  const admin = { user: 'admin', admin: true };
  const cluster = new MemoryCluster(admin);
  const ctx = testContext(cluster, { identity: admin });
  t.match((await run(ctx, 'nodes')).stdout, /^no storage nodes have registered; start one with: dfs node --master/);
  cluster.nodeList = [
    { nodeId: 'node-1', advertise: '127.0.0.1:7071', state: 'alive', capacityBytes: 100 * GIB, usedBytes: 1.5 * GIB, freeBytes: 98.5 * GIB, blobs: 12, lastSeenMs: 0 },
    { nodeId: 'node-22', advertise: '10.0.0.22:7071', state: 'dead', capacityBytes: 2048, usedBytes: 0, freeBytes: 2048, blobs: 0, lastSeenMs: 0 },
  ];
  const totals = '2 nodes: 1 alive, 0 full, 1 dead; capacity 100G, used 1.5G, free 99G\n';
  t.equal(
    (await run(ctx, 'nodes')).stdout,
    [
      'NODE     ADDRESS         STATE  CAPACITY  USED  FREE  BLOBS',
      'node-1   127.0.0.1:7071  alive      100G  1.5G   99G     12',
      'node-22  10.0.0.22:7071  dead       2.0K     0  2.0K      0',
      '',
    ].join('\n') + totals,
  );
  const shared = new MemoryCluster();
  shared.nodeList = cluster.nodeList;
  t.equal((await run(testContext(shared), 'nodes')).stdout, totals, 'anyone else: the totals, no addresses');
});

t.test('help lists every command; help CMD and CMD --help explain one', async (t) => {
  const ctx = testContext(sampleCluster());
  const list = (await run(ctx, 'help')).stdout;
  for (const command of COMMANDS) {
    t.ok(list.includes(`\n  ${command.usage}`) && list.includes(`${command.summary}\n`), command.name);
  }
  t.match(list, /\n  find \[PATH…\] .*\n {32}search for files and directories\n/, 'a long usage puts its summary below');
  const find = await run(ctx, 'help find');
  t.match(find.stdout, /^usage: find \[PATH…\] \[-name GLOB\] \[-type f\|d\] \[-size \[\+-\]N\[KMG\]\] \[--json\]\n/);
  t.match(find.stdout, /K, M, G = KiB, MiB, GiB/);
  t.equal((await run(ctx, 'find --help')).stdout, find.stdout);
  const unknown = await run(ctx, 'help frob');
  t.equal(unknown.stderr, 'dfs: help: no such command: frob (type help for the list)\n');
  t.equal(unknown.status, 'failed');
});

t.test('unknown commands fail; the rest of the line still runs', async (t) => {
  const ctx = testContext(sampleCluster());
  const result = await run(ctx, 'frob; pwd');
  t.equal(result.stderr, 'dfs: frob: command not found (type help for the list)\n');
  t.equal(result.stdout, '/\n');
  t.equal(result.status, 'failed');
});

t.test('exit and quit stop the line and ask the shell to stop', async (t) => {
  for (const name of ['exit', 'quit']) {
    const ctx = testContext(sampleCluster());
    const result = await run(ctx, `pwd; ${name}; pwd`);
    t.equal(result.stdout, '/\n', name);
    t.equal(ctx.exitRequested, true, name);
  }
  t.equal((await run(testContext(sampleCluster()), 'exit 3')).stderr, "dfs: exit: extra operand '3'\nusage: exit\n");
});

t.test('a line that does not parse runs nothing', async (t) => {
  const cluster = sampleCluster();
  const result = await run(testContext(cluster), "mkdir x; ls 'open");
  t.equal(result.status, 'syntax-error');
  t.equal(result.stderr, 'dfs: syntax error: unterminated single quote\n');
  t.notOk(cluster.entries.has('/x'));
});

t.test('every command has a usage starting with its name, a summary and a completion kind', async (t) => {
  const names = new Set<string>();
  for (const command of COMMANDS) {
    t.ok(command.usage.startsWith(command.name), command.name);
    t.ok(command.summary.length > 0, command.name);
    t.notOk(names.has(command.name), `${command.name} is listed once`);
    names.add(command.name);
  }
  for (const name of ['ls', 'cd', 'pwd', 'mkdir', 'rm', 'mv', 'stat', 'find', 'du', 'tree', 'whoami', 'passwd', 'useradd', 'nodes', 'help', 'exit', 'quit']) {
    t.ok(names.has(name), `${name} exists`);
  }
});
