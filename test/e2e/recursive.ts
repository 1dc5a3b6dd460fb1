// Recursive transfers through real `build/dfs` processes: `put -r` and `get -r` mirror a local tree
// (nested and empty directories, a 0-byte file, 1 MiB of random bytes, a name with a space) byte for
// byte, merge into existing directories like cp -r, report each refused file and go on, and without
// -r refuse a directory with a hint.

import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { connectCluster } from '../../src/client/client';
import { formatSize } from '../../src/units';
import { ADMIN_PASSWORD, runDfs, startCluster, tempDir, type RunResult, type TestCluster } from '../helpers/binary';
import { codeOf } from '../helpers/client';
import { randomFile, sha256Of } from '../helpers/files';
import { MemoryCluster } from '../helpers/memory-cluster';
import { run, testContext } from '../helpers/shell-harness';

const MIB = 1024 * 1024;

/** The regular files of the local tree the tests put, and its directories (two of them empty). */
const FILES: Record<string, number | string> = {
  'a.txt': 'alpha\n',
  zero: 0,
  'nested/with space.txt': 'a name with a space\n',
  'nested/deeper/big.bin': MIB,
  'nested/deeper/leaf.txt': 'leaf\n',
};
const DIRECTORIES = ['empty', 'nested', 'nested/deeper', 'nested/deeper/also-empty'];

async function makeTree(root: string): Promise<number> {
  let bytes = 0;
  for (const directory of DIRECTORIES) await fs.mkdir(path.join(root, directory), { recursive: true });
  for (const [name, content] of Object.entries(FILES)) {
    if (typeof content === 'number') await randomFile(path.join(root, name), content);
    else await fs.writeFile(path.join(root, name), content);
    bytes += typeof content === 'number' ? content : Buffer.byteLength(content);
  }
  await fs.symlink('a.txt', path.join(root, 'link'));
  return bytes;
}

/** Every entry below `root` as "d relative" or "f relative sha256", sorted: structure and bytes at once. */
async function describeTree(root: string): Promise<string[]> {
  const lines: string[] = [];
  const stack = [''];
  for (let relative = stack.pop(); relative !== undefined; relative = stack.pop()) {
    for (const entry of await fs.readdir(path.join(root, relative), { withFileTypes: true })) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        lines.push(`d ${child}`);
        stack.push(child);
      } else {
        lines.push(`${entry.isFile() ? 'f' : '?'} ${child} ${await sha256Of(path.join(root, child))}`);
      }
    }
  }
  return lines.sort();
}

function shell(cluster: TestCluster, commands: string[]): Promise<RunResult> {
  const env = { ...process.env, DFS_CA: path.join(cluster.masterDir, 'ca.pem'), DFS_USER: 'admin', DFS_PASSWORD: ADMIN_PASSWORD };
  return runDfs(['shell', `${cluster.master.address.host}:${cluster.master.address.port}`, '-c', commands.join('; ')], { env, timeoutMs: 60_000 });
}

const sortedLines = (text: string): string[] => text.trim().split('\n').sort();

t.test('put -r, get -r, their failures and their progress line, on one cluster', async (t) => {
  const cluster = await startCluster(t, 3, ['--replicas', '2']);
  const work = await tempDir(t);
  const source = path.join(work, 'src');
  const treeBytes = await makeTree(source);
  const expected = (await describeTree(source)).filter((line) => !line.startsWith('? link'));
  const skipped = `dfs: put: ${path.join(source, 'link')}: skipped: not a regular file`;

  t.test('put -r then get -r mirror the tree byte for byte; a symlink is skipped with a warning', async (t) => {
    await fs.mkdir(path.join(work, 'existing'));
    await fs.symlink(source, path.join(work, 'src-link'));
    const result = await shell(cluster, [
      `put -r ${source} /tree`,
      'mkdir /into',
      `put -r ${source} /into`,
      `get -r /tree ${work}/back`,
      `get -r /into/src ${work}/existing`,
      `put -r ${work}/src-link /via-link`,
    ]);
    t.equal(result.code, 0, `the shell succeeded\n${result.stderr}`);
    t.same(result.stderr.trim().split('\n'), [skipped, skipped, skipped.replace(source, path.join(work, 'src-link'))], 'one warning per skipped entry, nothing else');
    t.same(result.stdout.trim().split('\n'), [
      `/tree: 5 files, ${formatSize(treeBytes)} uploaded`,
      `/into/src: 5 files, ${formatSize(treeBytes)} uploaded`,
      `${work}/back: 5 files, ${formatSize(treeBytes)} downloaded`,
      `${work}/existing/src: 5 files, ${formatSize(treeBytes)} downloaded`,
      `/via-link: 5 files, ${formatSize(treeBytes)} uploaded`,
    ], 'one summary line per tree; an existing directory receives the tree under its name; a symlink named as LOCAL is followed');
    t.same(await describeTree(path.join(work, 'back')), expected, 'get -r brought back every directory and every byte');
    t.same(await describeTree(path.join(work, 'existing', 'src')), expected, 'the copy put into /into came back the same');
  });

  t.test('without -f each existing file is refused, the new ones still go, and the command fails; -f replaces', async (t) => {
    await fs.writeFile(path.join(source, 'a.txt'), 'changed\n');
    await fs.writeFile(path.join(source, 'nested', 'new.txt'), 'new\n');
    // /into/src exists: put -r with no REMOTE (the working directory's src, like `cp -r src .`) merges into it.
    const refused = await shell(cluster, ['cd /into', `put -r ${source}`]);
    t.equal(refused.code, 1, 'exit status 1');
    t.same(sortedLines(refused.stderr), [
      ...Object.keys(FILES).map((name) => `dfs: put: /into/src/${name}: File exists (put -f replaces it)`),
      skipped,
    ].sort(), 'one line per refused file');
    t.equal(refused.stdout, '/into/src: 1 file, 4 uploaded\n', 'the new file was uploaded');

    const replaced = await shell(cluster, [`put -r -f ${source} /into`, `get -r /into/src ${work}/again`]);
    t.equal(replaced.code, 0, `put -r -f succeeded\n${replaced.stderr}`);
    t.equal(replaced.stdout.split('\n')[0], `/into/src: 6 files, ${formatSize(treeBytes + 'changed\nnew\n'.length - 'alpha\n'.length)} uploaded`, 'every file was uploaded');
    t.same(await describeTree(path.join(work, 'again')), (await describeTree(source)).filter((line) => !line.startsWith('? link')), 'the tree holds the new bytes');
  });

  t.test('without -r a directory is refused with a hint and nothing is made', async (t) => {
    const result = await shell(cluster, [`put ${source} /plain`, `get /tree ${work}/plain`]);
    t.equal(result.code, 1, 'both failed');
    t.same(result.stderr.trim().split('\n'), [
      `dfs: put: ${source}: Is a directory (put -r uploads a directory)`,
      'dfs: get: /tree: Is a directory (get -r downloads a directory)',
    ], 'each names the directory and suggests -r');
    const admin = await connectCluster({ address: cluster.master.address, caPem: cluster.caPem, user: 'admin', password: ADMIN_PASSWORD });
    t.teardown(() => admin.close());
    t.equal(await codeOf(admin.stat('/plain')), 'NOT_FOUND', 'no remote directory was made');
    t.notOk(existsSync(path.join(work, 'plain')), 'no local one either');
  });

  t.test('globs on both sides: put *.csv, ls/get/rm by pattern, quoting, no match; -u sends only what changed', async (t) => {
    const data = path.join(work, 'data');
    await fs.mkdir(path.join(data, 'sub'), { recursive: true });
    for (const name of ['a.csv', 'b.csv', 'notes.txt', 'sub/c.csv', 'star*.csv']) await fs.writeFile(path.join(data, name), `${name}\n`);
    await fs.mkdir(path.join(work, 'dl'));
    const globs = await shell(cluster, [
      `lcd ${data}`,
      'mkdir /in',
      'put [ab].csv /in',
      'put **/c.csv "star*.csv" /in',
      'ls /in/*.csv',
      `get /in/?.csv ${work}/dl`,
      'rm /in/[!a]*.csv',
      'ls /in',
    ]);
    t.equal(globs.code, 0, `every command succeeded\n${globs.stderr}`);
    const lines = globs.stdout.trim().split('\n').filter((line) => !line.includes('replicated'));
    t.same(lines, ['/in/a.csv', '/in/b.csv', '/in/c.csv', '/in/star*.csv', 'a.csv'], 'put by local pattern, ls by remote one, rm the rest');
    t.same((await fs.readdir(path.join(work, 'dl'))).sort(), ['a.csv', 'b.csv', 'c.csv'], 'get by pattern into a local directory');
    const none = await shell(cluster, [`lcd ${data}`, 'put *.pdf /in', 'rm /in/*.pdf', 'ls /in']);
    t.equal(none.code, 1, 'no match fails');
    t.same(none.stderr.trim().split('\n'), ['dfs: put: no match: *.pdf', 'dfs: rm: no match: /in/*.pdf'], 'naming the pattern, as bash\'s failglob');
    t.equal(none.stdout, 'a.csv\n', 'and changes nothing');

    const first = await shell(cluster, [`put -r -u ${data} /mirror`]);
    t.equal(first.stdout, `/mirror: 5 files, ${formatSize(42)} uploaded, 0 skipped (unchanged)\n`, `-u into a new directory sends all\n${first.stderr}`);
    await fs.writeFile(path.join(data, 'a.csv'), 'changed\n');
    await fs.writeFile(path.join(data, 'sub', 'new.csv'), 'new\n');
    const again = await shell(cluster, [`put -r -u ${data} /mirror`, 'ls -R /mirror', 'cat /mirror/a.csv']);
    t.equal(again.code, 0, again.stderr);
    t.same(again.stdout.split('\n').slice(0, 1), [`/mirror: 2 files, ${formatSize(12)} uploaded, 4 skipped (unchanged)`], 'the run again sends the changed and the new file only');
    t.notMatch(again.stdout, /mirror\/data/, 'and never nests the tree into itself');
    t.match(again.stdout, /changed\n$/, 'the changed file was replaced');
    const down = await shell(cluster, [`get -r -u /mirror ${work}/down`, `get -r -u /mirror ${work}/down`]);
    t.same(down.stdout.trim().split('\n'), [
      `${work}/down: 6 files, ${formatSize(48)} downloaded, 0 skipped (unchanged)`,
      `${work}/down: 0 files, 0 downloaded, 6 skipped (unchanged)`,
    ], `get -r -u: the second run fetches nothing\n${down.stderr}`);
  });

  t.test('on a terminal the progress line counts the whole tree, not each file', async (t) => {
    const client = await connectCluster({ address: cluster.master.address, caPem: cluster.caPem, user: 'admin', password: ADMIN_PASSWORD });
    t.teardown(() => client.close());
    const ctx = testContext(new MemoryCluster(), { api: client });
    const put = await run(ctx, `put -r --no-wait ${source} /progress`, 80);
    t.equal(put.status, 'ok', `put -r succeeded\n${put.stderr}`);
    const totals = [...put.stderr.matchAll(/\r\S+ \/ (\S+) {2}\d+%/g)].map((match) => match[1]);
    t.ok(totals.length > 0, 'a progress line was drawn');
    const sizes = await Promise.all([...Object.keys(FILES), 'nested/new.txt'].map(async (name) => (await fs.stat(path.join(source, name))).size));
    t.same(new Set(totals), new Set([formatSize(sizes.reduce((sum, size) => sum + size, 0))]), 'every redraw shows the tree\'s total');
    t.match(put.stderr, /100%/, 'and reached 100%');
    t.ok(put.stderr.endsWith('\r\x1b[K'), 'the line is cleared at the end');
  });
});
