// ls, cd and pwd: what they print, how paths resolve (relative, `..`, `~`), and how operands that
// fail are reported (`dfs: CMD: PATH: reason`) while the others still run.

process.env.TZ = 'UTC';

import t from 'tap';
import { run, sampleCluster, testContext } from '../helpers/shell-harness';
import { MemoryCluster } from '../helpers/memory-cluster';

t.test('ls: names one per line, sorted, in the working directory by default', async (t) => {
  const ctx = testContext(sampleCluster());
  const result = await run(ctx, 'ls');
  t.equal(result.stdout, 'docs\nempty\nphotos\nreadme.txt\n');
  t.equal(result.stderr, '');
  t.equal(result.status, 'ok');
  t.equal((await run(ctx, 'ls docs')).stdout, 'guide.md\nmy report.pdf\nnotes\n');
  t.equal((await run(ctx, 'ls empty')).stdout, '');
});

t.test('ls -l: kind, exact size, replicas, mtime, name with / on directories', async (t) => {
  const ctx = testContext(sampleCluster());
  const result = await run(ctx, 'ls -l /docs');
  t.equal(
    result.stdout,
    [
      '-     2048  3/3  2024-05-01 12:34  guide.md',
      '-  5242880  2/3  2024-05-01 12:34  my report.pdf',
      'd       10  -    2024-05-01 12:34  notes/',
      '',
    ].join('\n'),
  );
});

t.test('ls -lh and -l -h and -hl all give human sizes', async (t) => {
  const ctx = testContext(sampleCluster());
  const expected = ['-  2.0K  3/3  2024-05-01 12:34  guide.md', '-  5.0M  2/3  2024-05-01 12:34  my report.pdf', 'd    10  -    2024-05-01 12:34  notes/', ''].join('\n');
  for (const line of ['ls -lh docs', 'ls -l -h docs', 'ls -hl docs', 'ls docs -lh']) t.equal((await run(ctx, line)).stdout, expected, line);
  t.equal((await run(ctx, 'ls -h docs')).stdout, 'guide.md\nmy report.pdf\nnotes\n', '-h alone changes nothing');
});

t.test('ls of a file shows it under the name typed; several operands get headings', async (t) => {
  const ctx = testContext(sampleCluster());
  t.equal((await run(ctx, 'ls readme.txt')).stdout, 'readme.txt\n');
  t.equal((await run(ctx, 'ls -l ./readme.txt')).stdout, '-  1234  3/3  2024-05-01 12:34  ./readme.txt\n');
  const result = await run(ctx, 'ls photos readme.txt empty');
  t.equal(result.stdout, 'readme.txt\n\nphotos:\ncat.jpg\ndog.jpg\n\nempty:\n');
});

t.test('ls: a missing operand is reported, the rest are listed, the command fails', async (t) => {
  const ctx = testContext(sampleCluster());
  const result = await run(ctx, 'ls /nope photos');
  t.equal(result.stderr, 'dfs: ls: /nope: No such file or directory\n');
  t.equal(result.stdout, 'cat.jpg\ndog.jpg\n');
  t.equal(result.status, 'failed');
  t.equal((await run(ctx, 'ls readme.txt/x')).stderr, 'dfs: ls: readme.txt/x: Not a directory\n');
});

t.test('ls: bad options are usage errors with the usage line', async (t) => {
  const ctx = testContext(sampleCluster());
  const result = await run(ctx, 'ls -x');
  t.equal(result.stderr, "dfs: ls: invalid option -- 'x'\nusage: ls [-l] [-h] [-a] [-R] [--json] [PATH…]\n");
  t.equal(result.status, 'failed');
  t.equal(result.stdout, '');
});

t.test('ls on a terminal: columns filled top to bottom, directories marked', async (t) => {
  const ctx = testContext(sampleCluster());
  t.equal((await run(ctx, 'ls', 80)).stdout, 'docs/  empty/  photos/  readme.txt\n');
  t.equal((await run(ctx, 'ls', 20)).stdout, 'docs/   photos/\nempty/  readme.txt\n');
  t.equal((await run(ctx, 'ls', 5)).stdout, 'docs/\nempty/\nphotos/\nreadme.txt\n');
});

t.test('cd and pwd: absolute, relative, .., ~, and no argument', async (t) => {
  const ctx = testContext(sampleCluster());
  const steps: Array<[string, string]> = [
    ['cd docs', '/docs'],
    ['cd notes', '/docs/notes'],
    ['cd ..', '/docs'],
    ['cd ../photos', '/photos'],
    ['cd ~/docs/notes/../..', '/'],
    ['cd /docs/notes', '/docs/notes'],
    ['cd', '/'],
    ['cd "docs/notes"', '/docs/notes'],
    ['cd ~', '/'],
    ['cd ../../..', '/'],
  ];
  for (const [line, expected] of steps) {
    const result = await run(ctx, `${line}; pwd`);
    t.equal(result.stdout, `${expected}\n`, line);
    t.equal(result.status, 'ok', line);
  }
});

t.test('cd refuses files and missing paths and stays where it was', async (t) => {
  const ctx = testContext(sampleCluster(), { cwd: '/docs' });
  const file = await run(ctx, 'cd guide.md');
  t.equal(file.stderr, 'dfs: cd: guide.md: Not a directory\n');
  t.equal(file.status, 'failed');
  t.equal((await run(ctx, 'cd /nope')).stderr, 'dfs: cd: /nope: No such file or directory\n');
  t.equal(ctx.cwd, '/docs');
  t.equal((await run(ctx, 'cd a b')).stderr, "dfs: cd: extra operand 'b'\nusage: cd [PATH]\n");
});

t.test('relative paths in other commands follow the working directory', async (t) => {
  const ctx = testContext(sampleCluster(), { cwd: '/docs/notes' });
  t.equal((await run(ctx, 'ls ..')).stdout, 'guide.md\nmy report.pdf\nnotes\n');
  t.equal((await run(ctx, 'ls ~')).stdout, 'docs\nempty\nphotos\nreadme.txt\n');
  t.equal((await run(ctx, 'ls ~/photos')).stdout, 'cat.jpg\ndog.jpg\n');
});

t.test('ls -a shows names starting with "." (hidden otherwise); ls -R lists each directory below, depth first', async (t) => {
  const cluster = new MemoryCluster().addFile('/r/.hidden', 1).addFile('/r/a/x', 1).addFile('/r/a/b/y', 1).addFile('/r/c/z', 1).addDir('/r/.dot');
  const ctx = testContext(cluster);
  t.equal((await run(ctx, 'ls /r')).stdout, 'a\nc\n', 'dot names hidden');
  t.equal((await run(ctx, 'ls -a /r')).stdout, '.dot\n.hidden\na\nc\n', '-a shows them');
  t.equal((await run(ctx, 'ls -R /r')).stdout, '/r:\na\nc\n\n/r/a:\nb\nx\n\n/r/a/b:\ny\n\n/r/c:\nz\n');
  t.equal((await run(ctx, 'cd /r; ls -R a')).stdout, 'a:\nb\nx\n\na/b:\ny\n', 'headers as typed');
});
