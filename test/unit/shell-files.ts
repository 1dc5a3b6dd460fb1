// mkdir, rm, mv, cp and stat through the registry: what changes in the namespace, what is printed,
// and that each failing operand is reported as `dfs: CMD: PATH: reason` while the rest proceed.

process.env.TZ = 'UTC';

import t from 'tap';
import { inParallel } from '../../src/shell/commands/transfer';
import { run, sampleCluster, testContext } from '../helpers/shell-harness';

t.test('mkdir: one or several, -p for parents and existing ones', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster, { cwd: '/docs' });
  t.equal((await run(ctx, 'mkdir a "b c"')).status, 'ok');
  t.ok(cluster.entries.has('/docs/a') && cluster.entries.has('/docs/b c'));
  t.equal((await run(ctx, 'mkdir -p x/y/z /docs/a')).status, 'ok');
  t.equal(cluster.entries.get('/docs/x/y/z')?.kind, 'dir');
});

t.test('mkdir: errors per operand, the others still made', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  const result = await run(ctx, 'mkdir docs new deep/er readme.txt/sub');
  t.equal(
    result.stderr,
    [
      'dfs: mkdir: docs: File exists',
      'dfs: mkdir: deep/er: No such file or directory',
      'dfs: mkdir: readme.txt/sub: Not a directory',
      '',
    ].join('\n'),
  );
  t.equal(result.status, 'failed');
  t.ok(cluster.entries.has('/new'), 'the good operand was made');
  t.equal((await run(ctx, 'mkdir')).stderr, 'dfs: mkdir: missing operand\nusage: mkdir [-p] PATH…\n');
  t.equal((await run(ctx, 'mkdir ../../above')).status, 'ok', '.. above the root stays at the root');
  t.ok(cluster.entries.has('/above'));
});

t.test('mkdir: invalid names get the reason from paths.ts', async (t) => {
  const ctx = testContext(sampleCluster());
  const long = 'n'.repeat(256);
  t.equal((await run(ctx, `mkdir ${long}`)).stderr, `dfs: mkdir: ${long}: name longer than 255 bytes\n`);
});

t.test('rm: files, directories need -r, missing ones reported, -f quiet', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  t.equal((await run(ctx, 'rm readme.txt')).status, 'ok');
  t.notOk(cluster.entries.has('/readme.txt'));
  const directory = await run(ctx, 'rm docs');
  t.equal(directory.stderr, 'dfs: rm: docs: Directory not empty\n');
  t.equal(directory.status, 'failed');
  t.ok(cluster.entries.has('/docs/guide.md'));
  t.equal((await run(ctx, 'rm empty')).status, 'ok', 'an empty directory goes without -r, as the master allows');
  t.notOk(cluster.entries.has('/empty'));
  t.equal((await run(ctx, 'rm -r docs')).status, 'ok');
  t.notOk(cluster.entries.has('/docs/guide.md'));
  const missing = await run(ctx, 'rm nope photos/cat.jpg');
  t.equal(missing.stderr, 'dfs: rm: nope: No such file or directory\n');
  t.notOk(cluster.entries.has('/photos/cat.jpg'), 'the existing operand was still removed');
  t.same(await run(ctx, 'rm -f nope'), { status: 'ok', stdout: '', stderr: '' });
  t.same(await run(ctx, 'rm -rf photos'), { status: 'ok', stdout: '', stderr: '' });
  t.notOk(cluster.entries.has('/photos'));
});

t.test('rm refuses the root, . and .. without asking the master', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster, { cwd: '/docs/notes' });
  const result = await run(ctx, 'rm -r / . .. ~ ../notes/..');
  t.equal(
    result.stderr,
    [
      'dfs: rm: /: refusing to remove the root directory; remove what is in it instead',
      "dfs: rm: .: refusing to remove '.' or '..' directory",
      "dfs: rm: ..: refusing to remove '.' or '..' directory",
      'dfs: rm: ~: refusing to remove the root directory; remove what is in it instead',
      "dfs: rm: ../notes/..: refusing to remove '.' or '..' directory",
      '',
    ].join('\n'),
  );
  t.notOk(cluster.calls.some((call) => call.startsWith('remove')));
});

t.test('mv: rename, into a directory, several into a directory', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  t.equal((await run(ctx, 'mv readme.txt README')).status, 'ok');
  t.ok(cluster.entries.has('/README'));
  t.equal((await run(ctx, 'mv README docs')).status, 'ok');
  t.ok(cluster.entries.has('/docs/README'));
  t.equal((await run(ctx, 'mv photos/cat.jpg photos/dog.jpg empty')).status, 'ok');
  t.same((await run(ctx, 'ls empty')).stdout, 'cat.jpg\ndog.jpg\n');
  t.equal((await run(ctx, 'mv "docs/my report.pdf" ~/report.pdf')).status, 'ok');
  t.equal(cluster.entries.get('/report.pdf')?.bytes, 5 * 1024 * 1024);
});

t.test('mv: errors come from the master; SRC… DIR needs a directory', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  t.equal((await run(ctx, 'mv docs docs/notes')).stderr, 'dfs: mv: docs: cannot move a directory into itself\n');
  t.equal((await run(ctx, 'mv nope x')).stderr, 'dfs: mv: nope: No such file or directory\n');
  t.equal((await run(ctx, 'mv docs photos/cat.jpg')).stderr, 'dfs: mv: docs: File exists\n');
  t.equal((await run(ctx, 'mv readme.txt docs/notes/today.txt/x')).stderr, 'dfs: mv: readme.txt: Not a directory\n');
  const notDirectory = await run(ctx, 'mv readme.txt empty photos/cat.jpg');
  t.equal(notDirectory.stderr, "dfs: mv: target 'photos/cat.jpg' is not a directory\n");
  t.equal(notDirectory.status, 'failed');
  t.equal((await run(ctx, 'mv readme.txt empty nowhere')).stderr, "dfs: mv: target 'nowhere' is not a directory\n");
  t.equal((await run(ctx, 'mv readme.txt')).stderr, 'dfs: mv: expected at least 2 operands\nusage: mv SRC DST | mv SRC… DIR\n');
  t.ok(cluster.entries.has('/readme.txt') && cluster.entries.has('/docs/notes') && cluster.entries.has('/empty'), 'nothing moved');
  t.notOk(cluster.calls.some((call) => call.startsWith('move /empty')), 'SRC… DIR failures never reach the master');
});

t.test('mv: a file replaces a file, as mv(1) does', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  t.equal((await run(ctx, 'mv photos/cat.jpg photos/dog.jpg')).status, 'ok');
  t.equal(cluster.entries.get('/photos/dog.jpg')?.bytes, 300_000);
  t.notOk(cluster.entries.has('/photos/cat.jpg'));
});

t.test('cp: a file to a new name or into a directory; several into a directory; the copy is the master\'s', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  t.equal((await run(ctx, 'cp readme.txt copy.txt')).status, 'ok');
  t.same(cluster.entries.get('/copy.txt')?.bytes, 1234);
  t.equal((await run(ctx, 'cp photos/cat.jpg photos/dog.jpg empty')).status, 'ok');
  t.same((await run(ctx, 'ls empty')).stdout, 'cat.jpg\ndog.jpg\n');
  t.ok(cluster.entries.has('/photos/cat.jpg'), 'the source stays');
  t.ok(cluster.calls.includes('copy /photos/cat.jpg /empty/cat.jpg'), 'asked the cluster to copy (no get/put)');
});

t.test('cp: refusals — an existing file without -f, a directory without -r, a directory into itself, SRC… DIR', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  t.equal((await run(ctx, 'cp readme.txt photos/cat.jpg')).stderr, 'dfs: cp: readme.txt: File exists (cp -f replaces it)\n');
  t.equal((await run(ctx, 'cp -f readme.txt photos/cat.jpg')).status, 'ok');
  t.equal(cluster.entries.get('/photos/cat.jpg')?.bytes, 1234, '-f replaced it');
  t.equal((await run(ctx, 'cp docs x')).stderr, "dfs: cp: docs: -r not specified; omitting directory 'docs'\n");
  t.equal((await run(ctx, 'cp -r docs docs/notes')).stderr, "dfs: cp: docs: cannot copy a directory, 'docs', into itself, 'docs/notes'\n");
  t.equal((await run(ctx, 'cp readme.txt docs/guide.md nowhere')).stderr, "dfs: cp: target 'nowhere' is not a directory\n");
  t.equal((await run(ctx, 'cp nope x')).stderr, 'dfs: cp: nope: No such file or directory\n');
  t.equal((await run(ctx, 'cp readme.txt readme.txt')).stderr, 'dfs: cp: readme.txt: source and target are the same file\n');
  t.notOk(cluster.entries.has('/x') || cluster.entries.has('/nowhere'), 'nothing made');
});

t.test('cp -r: a whole tree to a new name, then merged into an existing directory; failures per file', async (t) => {
  const cluster = sampleCluster();
  const ctx = testContext(cluster);
  const result = await run(ctx, 'cp -r docs backup');
  t.equal(result.status, 'ok', result.stderr);
  t.equal(result.stdout, '/backup: 3 files, 5.0M copied\n');
  for (const path of ['/backup/guide.md', '/backup/notes/today.txt', '/backup/my report.pdf']) t.ok(cluster.entries.has(path), path);
  t.equal((await run(ctx, 'cp -r docs empty')).status, 'ok');
  t.ok(cluster.entries.has('/empty/docs/notes/today.txt'), 'into an existing directory: DIR/name');
  cluster.entries.delete('/empty/docs/guide.md');
  const again = await run(ctx, 'cp -r docs empty');
  t.equal(again.status, 'failed', 'existing files without -f fail');
  t.match(again.stderr, 'dfs: cp: /empty/docs/notes/today.txt: File exists (cp -f replaces it)');
  t.equal(again.stdout, '/empty/docs: 1 file, 2.0K copied\n', 'the others are still copied');
  t.equal((await run(ctx, 'cp -rf docs /')).stderr, "dfs: cp: docs: cannot copy a directory, 'docs', into itself, '/'\n");
  t.equal((await run(ctx, 'cp -r -f docs empty')).stdout, '/empty/docs: 3 files, 5.0M copied\n');
});

t.test('stat: a file with SHA-256, replicas and nodes; a directory with its total', async (t) => {
  const ctx = testContext(sampleCluster());
  const file = await run(ctx, 'stat "docs/my report.pdf"');
  t.equal(
    file.stdout,
    [
      '    Path:  /docs/my report.pdf',
      '    Kind:  file',
      '    Size:  5242880 bytes (5.0M)',
      'Modified:  2024-05-01 12:34 (2024-05-01T12:34:00.000Z)',
      ` SHA-256:  ${'ab'.repeat(31)}80`,
      'Replicas:  2/3',
      '   Nodes:  node-1, node-2',
      '',
    ].join('\n'),
  );
  const directory = await run(ctx, 'stat docs nope');
  t.match(directory.stdout, /Path: {2}\/docs\n {4}Kind: {2}directory\n {4}Size: {2}5244938 bytes \(5\.0M\)\n/);
  t.notMatch(directory.stdout, /SHA-256|Replicas/);
  t.equal(directory.stderr, 'dfs: stat: nope: No such file or directory\n');
  t.equal(directory.status, 'failed');
});

t.test('inParallel: after a rejection (Ctrl-C) no new item is taken, the ones under way finish, then it rejects', async (t) => {
  const started: number[] = [];
  let finished = 0;
  const run = inParallel([1, 2, 3, 4, 5, 6, 7, 8], 2, async (item) => {
    started.push(item);
    await new Promise((resolve) => setTimeout(resolve, item === 2 ? 1 : 20));
    if (item === 2) throw new Error('interrupted');
    finished++;
  });
  await t.rejects(run, { message: 'interrupted' });
  t.same(started, [1, 2], 'nothing started after the failure');
  t.equal(finished, 1, 'and the item under way was waited for');
});
