// The full-screen explorer through the built executable, in a real terminal (tmux): `dfs tui` shows
// the user's own tree and none of another user's names, the cluster dashboard, navigation by keys
// into a nested directory, get (bytes compared), put (listed, and in the cluster), delete with its
// y/n question, mkdir, rename, find and a jump to a match, q restoring the terminal; `tui` inside the shell comes back to a working prompt; a
// master that goes away is shown on the status line and the explorer reconnects when it is back.
// Nothing waits for a fixed time: the screen is polled until what is expected appears.

import t, { type Test } from 'tap';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { formatHostPort } from '../../src/wire/address';
import { ADMIN_PASSWORD, startCluster, startDfs, tempDir, waitFor, type TestCluster } from '../helpers/binary';
import { loginAt, putFile } from '../helpers/client';
import { randomFile, sha256Of } from '../helpers/files';
import { openTerminal } from '../helpers/terminal';

// ---- the cluster: alice's files, and bob's that alice must never see ------------------------

interface Setup {
  cluster: TestCluster;
  address: string;
  /** A local directory the TUI runs in (get writes here by default). */
  local: string;
  /** The local original of alice's /projects/alpha/deep/data.bin. */
  original: string;
  env: Record<string, string>;
}

async function setUp(t: Test): Promise<Setup> {
  const cluster = await startCluster(t, 3);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await admin.useradd('alice', 'alice-pw');
  await admin.useradd('bob', 'bob-password');
  const source = await tempDir(t, 'dfs-tui-source-');
  const original = path.join(source, 'data.bin');
  await randomFile(original, 300_000);
  await fs.writeFile(path.join(source, 'secret.txt'), 'bob only\n');
  const alice = await loginAt(t, cluster.master.address, cluster.caPem, 'alice', 'alice-pw');
  await alice.mkdir('/projects/alpha/deep', true);
  await putFile(alice, original, '/projects/alpha/deep/data.bin');
  await putFile(alice, path.join(source, 'secret.txt'), '/notes.txt');
  // Another shared user could name a directory so: it must show escaped, never reach the terminal raw.
  await alice.mkdir('/red\x1b[31mdir', false);
  const bob = await loginAt(t, cluster.master.address, cluster.caPem, 'bob', 'bob-password');
  await bob.mkdir('/bob-private-plans', false);
  await putFile(bob, path.join(source, 'secret.txt'), '/bob-secret-ledger.txt');
  const local = await tempDir(t, 'dfs-tui-local-');
  const home = await tempDir(t, 'dfs-tui-home-');
  const env = { HOME: home, DFS_HOME: home, DFS_CA: path.join(cluster.masterDir, 'ca.pem'), DFS_USER: 'alice', DFS_PASSWORD: 'alice-pw' };
  return { cluster, address: formatHostPort(cluster.master.address), local, original, env };
}

/** The path bar (first line) shows `cwd` as the directory on view. */
const atPath = (cwd: string) => (screen: string): boolean => (screen.split('\n')[0] ?? '').startsWith(` dfs  ${cwd} `);
/** A row of the files pane naming `name` (dirs with their slash), inside the pane's frame. */
const listed = (screen: string, name: string): boolean => new RegExp(`│[* ] ${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} `).test(screen);
/** The details pane's first line: the selected path. */
const detailsOf = (path: string) => (screen: string): boolean => screen.includes(`│${path} `) || screen.includes(`│${path}│`);

t.test('dfs tui: own tree only, dashboard, keys into a nested directory, get, put, delete with y/n, mkdir, rename, find, q restores the terminal', async (t) => {
  const setup = await setUp(t);
  const term = await openTerminal(t, { cwd: setup.local, env: setup.env, args: ['tui', setup.address], columns: 100, timeoutMs: 15_000 });

  const first = await term.waitFor('the root listing', (screen) => listed(screen, 'projects/') && listed(screen, 'notes.txt'));
  t.ok(atPath('/')(first), 'the path bar shows /');
  t.match(first, /~ \(your root\)/, 'the tree starts at the user\'s root');
  t.match(first, `alice@${setup.address}`, 'the status line names the user and the master');
  t.ok(first.indexOf('projects/') < first.indexOf('notes.txt'), 'directories come before files');
  t.notMatch(first, /bob/, 'nothing of bob\'s is shown');
  t.match(first, "$'red\\033[31mdir/'", 'a name with an escape sequence is shown escaped');

  await term.press('D');
  const dashboard = await term.waitFor('the cluster dashboard', (screen) => /3 nodes: 3 alive, 0 full, 0 dead; capacity/.test(screen) && /Your files: 2 /.test(screen));
  t.match(dashboard, /Transfer rates/, 'with the transfer rates chart');
  t.equal((dashboard.match(/ alive +\[/g) ?? []).length, 0, 'no usage bar per node: that is for the admin');
  t.notMatch(dashboard, /bob/, 'the dashboard shows no names of bob\'s either');
  await term.press('D');
  await term.waitFor('the explorer again', (screen) => listed(screen, 'projects/'));

  await term.press('Enter');
  await term.waitFor('/projects', (screen) => atPath('/projects')(screen) && listed(screen, 'alpha/'));
  await term.press('Enter');
  await term.waitFor('/projects/alpha', (screen) => atPath('/projects/alpha')(screen) && listed(screen, 'deep/'));
  await term.press('Enter');
  const deep = await term.waitFor('/projects/alpha/deep with data.bin', (screen) => atPath('/projects/alpha/deep')(screen) && listed(screen, 'data.bin'));
  t.match(deep, /│  data\.bin +293K +3\/3 /, 'data.bin: human size and replicas 3/3');
  const hash = await sha256Of(setup.original);
  await term.waitFor('the details of data.bin with its SHA-256', (screen) => screen.includes(`SHA-256   ${hash}`));
  t.pass('the details pane shows the SHA-256 from stat');

  await term.press('g');
  await term.waitFor('the get question', (screen) => screen.includes('Download /projects/alpha/deep/data.bin to'));
  await term.press('Enter');
  await term.waitFor('the get to finish', (screen) => screen.includes('got data.bin'));
  t.equal(await sha256Of(path.join(setup.local, 'data.bin')), hash, 'get wrote the same bytes under the default name in the local directory');

  await fs.writeFile(path.join(setup.local, 'upload.txt'), 'uploaded from the TUI\n');
  await term.press('p');
  await term.waitFor('the put question', (screen) => screen.includes('Upload into /projects/alpha/deep'));
  await term.type('upload.txt');
  await term.press('Enter');
  await term.waitFor('upload.txt listed', (screen) => listed(screen, 'upload.txt') && screen.includes('put upload.txt'));
  const alice = await loginAt(t, setup.cluster.master.address, setup.cluster.caPem, 'alice', 'alice-pw');
  t.equal((await alice.stat('/projects/alpha/deep/upload.txt')).size, 22, 'the cluster has the uploaded file');

  await term.waitFor('upload.txt selected', detailsOf('/projects/alpha/deep/upload.txt'));
  await term.press('d');
  await term.waitFor('the delete question', (screen) => screen.includes('Delete /projects/alpha/deep/upload.txt'));
  await term.press('n');
  await term.waitFor('the delete cancelled', (screen) => screen.includes('delete cancelled') && listed(screen, 'upload.txt'));
  await term.press('d');
  await term.waitFor('the delete question again', (screen) => screen.includes('Delete /projects/alpha/deep/upload.txt'));
  await term.press('y');
  const deleted = await term.waitFor('upload.txt gone', (screen) => screen.includes('deleted upload.txt') && !listed(screen, 'upload.txt'));
  t.ok(listed(deleted, 'data.bin'), 'data.bin stays');
  t.equal((await alice.list('/projects/alpha/deep')).map((entry) => entry.name).join(','), 'data.bin', 'the cluster no longer has upload.txt');

  await term.press('BSpace');
  await term.waitFor('back up in /projects/alpha', (screen) => atPath('/projects/alpha')(screen) && listed(screen, 'deep/'));

  await term.press('m');
  await term.waitFor('the mkdir question', (screen) => screen.includes('Name of the new directory in /projects/alpha'));
  await term.type('fresh');
  await term.press('Enter');
  await term.waitFor('fresh/ listed and selected', (screen) => listed(screen, 'fresh/') && detailsOf('/projects/alpha/fresh')(screen));
  await term.press('r');
  await term.waitFor('the rename question', (screen) => screen.includes('New name (or path) for /projects/alpha/fresh'));
  await term.press('C-u');
  await term.type('renamed');
  await term.press('Enter');
  await term.waitFor('renamed/ instead of fresh/', (screen) => listed(screen, 'renamed/') && !listed(screen, 'fresh/'));
  t.same((await alice.list('/projects/alpha')).map((entry) => entry.name), ['deep', 'renamed'], 'mkdir and rename reached the cluster');

  await term.press('/');
  await term.waitFor('the find question', (screen) => screen.includes('Names matching'));
  await term.press('C-u');
  await term.type('data.*');
  await term.press('Enter');
  await term.waitFor('the matches', (screen) => screen.includes('1 match') && screen.includes('/projects/alpha/deep/data.bin'));
  await term.press('Enter');
  await term.waitFor('the match\'s directory, the match selected', (screen) => atPath('/projects/alpha/deep')(screen) && detailsOf('/projects/alpha/deep/data.bin')(screen));

  await term.press('q');
  t.equal(await term.exited(), 0, 'q exits with status 0');
  const after = await term.screen();
  t.notMatch(after, /Tree|Details|alice@/, 'the alternate screen is gone: the terminal shows what it showed before');
});

t.test('tui inside the shell: the same session, and q brings the prompt back with keys typed once', async (t) => {
  const setup = await setUp(t);
  const term = await openTerminal(t, { cwd: setup.local, env: setup.env, args: ['shell', setup.address], columns: 80, rows: 24, timeoutMs: 15_000 });
  const prompt = (cwd: string): string => `alice@${setup.address}:${cwd}$`;
  const lastLine = (screen: string): string => screen.trimEnd().split('\n').at(-1) ?? '';
  await term.waitFor('the prompt', (screen) => lastLine(screen) === prompt('/'));
  await term.type('cd /projects/alpha');
  await term.press('Enter');
  await term.waitFor('cd', (screen) => lastLine(screen) === prompt('/projects/alpha'));
  await term.type('tui');
  await term.press('Enter');
  const opened = await term.waitFor('the explorer at the shell\'s directory', (screen) => atPath('/projects/alpha')(screen) && listed(screen, 'deep/'));
  t.notMatch(opened, /bob/, 'nothing of bob\'s');
  await term.press('BSpace');
  await term.waitFor('one Backspace: one level up', (screen) => atPath('/projects')(screen) && listed(screen, 'alpha/'));
  await term.press('q');
  await term.waitFor('the prompt again', (screen) => lastLine(screen) === prompt('/projects/alpha'));
  await term.type('pwd');
  await term.press('Enter');
  const shell = await term.waitFor('pwd to run', (screen) => lastLine(screen) === prompt('/projects/alpha') && screen.includes(`${prompt('/projects/alpha')} pwd\n/projects/alpha\n`));
  t.notMatch(shell, /pwdpwd|ppwd/, 'each key reached the shell once');
  await term.type('exit');
  await term.press('Enter');
  t.equal(await term.exited(), 0, 'the shell exits 0');
});

t.test('a master that goes away: the status line says so; the explorer reconnects once it is back', async (t) => {
  const setup = await setUp(t);
  const term = await openTerminal(t, { cwd: setup.local, env: setup.env, args: ['tui', setup.address], columns: 80, rows: 24, timeoutMs: 15_000 });
  await term.waitFor('the root listing', (screen) => listed(screen, 'projects/'));
  setup.cluster.master.child.kill('SIGTERM');
  await setup.cluster.master.exited;
  await term.waitFor('the master reported unreachable', (screen) => screen.includes('MASTER UNREACHABLE'));
  t.pass('the status line says the master is unreachable');
  const port = String(setup.cluster.master.address.port);
  await startDfs(t, ['master', '--data', setup.cluster.masterDir, '--listen', `127.0.0.1:${port}`], { env: { DFS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  await term.waitFor('the explorer to reconnect', (screen) => screen.includes(`reconnected to ${setup.address}`) && listed(screen, 'projects/'), 30_000);
  await term.press('Enter');
  await term.waitFor('keys work again', (screen) => atPath('/projects')(screen) && listed(screen, 'alpha/'));
  await term.press('q');
  t.equal(await term.exited(), 0, 'q exits with status 0');
});

t.test('the admin\'s dashboard: a usage bar per node, and the balancer\'s last run', async (t) => {
  const setup = await setUp(t);
  const admin = await loginAt(t, setup.cluster.master.address, setup.cluster.caPem, 'admin', ADMIN_PASSWORD);
  await admin.rebalance(10, false);
  await waitFor('the rebalance to end', async () => ((await admin.cluster()).rebalance?.running === false ? true : undefined));
  const env = { ...setup.env, DFS_USER: 'admin', DFS_PASSWORD: ADMIN_PASSWORD };
  const term = await openTerminal(t, { cwd: setup.local, env, args: ['tui', setup.address], columns: 100, timeoutMs: 15_000 });
  await term.waitFor('the root listing', (screen) => atPath('/')(screen));
  await term.press('D');
  const dashboard = await term.waitFor('the dashboard with the rebalance line', (screen) => /rebalance: done in \d+ s: 0 blobs moved \(0\); every node is within 10% of the mean/.test(screen));
  t.equal((dashboard.match(/ alive +\[/g) ?? []).length, 3, 'a usage bar per node');
  await term.press('q');
  t.equal(await term.exited(), 0);
});

t.test('the explorer as a daily tool, at 80 columns: sort, size view, view a text file, marks, copy, move, delete, and the local pane putting and getting whole directories', async (t) => {
  const setup = await setUp(t);
  await fs.mkdir(path.join(setup.local, 'upload-dir', 'sub'), { recursive: true });
  await fs.writeFile(path.join(setup.local, 'upload-dir', 'a.txt'), 'first\n');
  await fs.writeFile(path.join(setup.local, 'upload-dir', 'sub', 'b.txt'), 'second, deeper\n');
  await fs.mkdir(path.join(setup.local, 'dl'));
  const term = await openTerminal(t, { cwd: setup.local, env: setup.env, args: ['tui', setup.address], columns: 80, rows: 30, timeoutMs: 15_000 });
  const lines = (screen: string): string[] => screen.split('\n');
  const row = (screen: string, name: string): number => lines(screen).findIndex((line) => listed(`${line} `, name));
  const status = (screen: string): string => lines(screen).filter((line) => line.trim() !== '').at(-1) ?? '';
  await term.waitFor('the root listing', (screen) => listed(screen, 'projects/') && listed(screen, 'notes.txt'));

  await term.press('s');
  const bySize = await term.waitFor('sorted by size', (screen) => screen.includes('(by size)') && screen.includes('Size▼'));
  t.ok(row(bySize, 'projects/') < row(bySize, 'notes.txt') && row(bySize, 'notes.txt') < row(bySize, "$'red\\033[31mdir/'"), 'biggest first: projects/ (293K) before notes.txt (9) before the empty directory');
  t.match(status(bySize), / sorted by size \(biggest first\) +│/, `the status line holds the whole message at 80 columns: ${JSON.stringify(status(bySize))}`);
  t.ok(status(bySize).length <= 80, 'and fits in them');
  await term.press('s');
  await term.waitFor('sorted by time', (screen) => screen.includes('(by time)') && screen.includes('Modified▼'));
  await term.press('s');
  await term.waitFor('sorted by name again', (screen) => screen.includes('(by name)') && screen.includes('Name▲'));

  await term.press('z');
  const sizes = await term.waitFor('the size view', (screen) => screen.includes('(by size, size view)'));
  t.match(sizes, /\[##########\] 100\.0% +projects\//, 'a bar and the share of the directory: projects/ holds nearly all of it');
  t.match(sizes, /\[ {10}\] +0\.0% +notes\.txt/, 'notes.txt almost nothing');
  await term.press('z');
  await term.waitFor('the size view off', (screen) => screen.includes('(by size)') && !screen.includes('size view)'));
  await term.press('s');
  await term.press('s');
  await term.waitFor('by name', (screen) => screen.includes('(by name)'));

  await term.press('End');
  await term.press('v');
  const view = await term.waitFor('the text of notes.txt', (screen) => screen.includes('notes.txt (9)') && screen.includes('bob only'));
  t.match(view, 'Any key closes this view.');
  await term.press('Escape');
  await term.waitFor('the view closed', (screen) => !screen.includes('Any key closes this view.'));

  await term.press('c');
  await term.waitFor('the copy question', (screen) => screen.includes('Copy /notes.txt to'));
  await term.press('Enter');
  await term.waitFor('the copy listed', (screen) => listed(screen, 'notes.txt.copy') && screen.includes('copied /notes.txt → /notes.txt.copy'));
  const alice = await loginAt(t, setup.cluster.master.address, setup.cluster.caPem, 'alice', 'alice-pw');
  t.equal((await alice.stat('/notes.txt.copy')).sha256, (await alice.stat('/notes.txt')).sha256, 'copied on the cluster, the same bytes');

  await term.press('Tab');
  await term.waitFor('the local pane', (screen) => screen.includes('Local /') && listed(screen, 'upload-dir/'));
  await term.press('Down'); // dl/, then upload-dir/ (directories first, by name)
  await term.press('p');
  await term.waitFor('upload-dir put whole', (screen) => listed(screen, 'upload-dir/') && screen.includes('/upload-dir: 2 files'));
  t.equal((await alice.stat('/upload-dir/sub/b.txt')).size, 15, 'the directory went up whole, subdirectory and all');

  await term.press('Tab');
  await term.press('Home');
  await term.press('Space'); // projects/
  const marked = await term.waitFor('projects/ marked', (screen) => screen.includes('1 marked'));
  t.match(marked, /│\* projects\//, 'a marked entry is starred');
  await term.press('Down'); // Space moved on to red…dir/; upload-dir/ is next
  await term.press('Space');
  await term.waitFor('two marked', (screen) => screen.includes('2 marked'));
  await term.press('g');
  await term.waitFor('the get question', (screen) => screen.includes('Download 2 entries into the local directory:'));
  await term.type('/dl');
  await term.press('Enter');
  await term.waitFor('both got', (screen) => screen.includes('got 2 entries →'));
  t.equal(await sha256Of(path.join(setup.local, 'dl', 'projects', 'alpha', 'deep', 'data.bin')), await sha256Of(setup.original), 'get brought the directory tree down, byte for byte');
  t.equal(await fs.readFile(path.join(setup.local, 'dl', 'upload-dir', 'sub', 'b.txt'), 'utf8'), 'second, deeper\n');

  await term.press('End'); // notes.txt.copy
  await term.press('Space');
  await term.press('Up'); // notes.txt
  await term.press('Space');
  await term.waitFor('two files marked', (screen) => screen.includes('2 marked'));
  await term.press('r');
  await term.waitFor('the move question', (screen) => screen.includes('Move 2 entries into the directory:'));
  await term.press('C-u');
  await term.type('/upload-dir');
  await term.press('Enter');
  await term.waitFor('both moved', (screen) => screen.includes('moved 2 entries → /upload-dir') && !listed(screen, 'notes.txt'));
  t.same((await alice.list('/upload-dir')).map((entry) => entry.name).sort(), ['a.txt', 'notes.txt', 'notes.txt.copy', 'sub']);

  await term.press('Home');
  await term.press('Down');
  await term.press('Space'); // red…dir/
  await term.press('Space'); // upload-dir/
  await term.press('d');
  await term.waitFor('the delete question', (screen) => screen.includes('Delete the 2 marked entries'));
  await term.press('y');
  await term.waitFor('both deleted', (screen) => screen.includes('deleted 2 entries from /') && screen.includes('│ 1 dir │'));
  t.same((await alice.list('/')).map((entry) => entry.name), ['projects'], 'only projects/ is left');
  await term.press('q');
  t.equal(await term.exited(), 0);
});
