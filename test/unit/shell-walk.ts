// find, du and tree: the filter the shell sends (GNU find -size semantics), paths printed relative
// to what was typed, du's SIZE<tab>PATH lines, and tree(1)'s drawing whatever order entries come in.

import t from 'tap';
import type { ClusterApi, Entry } from '../../src/client/api';
import { UsageError } from '../../src/shell/errors';
import { parseFindArgs, parseSizeFilter } from '../../src/shell/commands/walk';
import { MemoryCluster } from '../helpers/memory-cluster';
import { run, sampleCluster, testContext } from '../helpers/shell-harness';

const K = 1024;
const M = 1024 * 1024;

t.test('find -size parses like GNU find: sign, count, unit', async (t) => {
  t.same(parseSizeFilter('10'), { cmp: 'eq', count: 10, unitBytes: 1 });
  t.same(parseSizeFilter('+10c'), { cmp: 'gt', count: 10, unitBytes: 1 });
  t.same(parseSizeFilter('-5k'), { cmp: 'lt', count: 5, unitBytes: K });
  t.same(parseSizeFilter('+1M'), { cmp: 'gt', count: 1, unitBytes: M });
  t.same(parseSizeFilter('2G'), { cmp: 'eq', count: 2, unitBytes: 1024 * M });
  for (const bad of ['', '+', '1.5M', '10b', '10X', '--1', '1MB', 'M', '99999999999999999999']) t.throws(() => parseSizeFilter(bad), UsageError, JSON.stringify(bad));
});

t.test('find arguments: starts then predicates, each once, clear errors', async (t) => {
  t.same(parseFindArgs([]), { starts: ['.'], filter: {} });
  t.same(parseFindArgs(['a', 'b', '-name', '*.txt', '-type', 'f', '-size', '+1k']), {
    starts: ['a', 'b'],
    filter: { name: '*.txt', type: 'file', size: { cmp: 'gt', count: 1, unitBytes: K } },
  });
  t.same(parseFindArgs(['-type', 'd']).filter, { type: 'dir' });
  t.throws(() => parseFindArgs(['-type', 'x']), new UsageError("invalid -type 'x': expected f (file) or d (directory)"));
  t.throws(() => parseFindArgs(['-name']), new UsageError("missing argument to '-name'"));
  t.throws(() => parseFindArgs(['-name', 'a', '-name', 'b']), new UsageError("'-name' given twice"));
  t.throws(() => parseFindArgs(['-mtime', '1']), new UsageError("unknown predicate '-mtime'"));
  t.throws(() => parseFindArgs(['-type', 'f', 'docs']), UsageError);
});

t.test('find prints paths relative to the typed start, like GNU find', async (t) => {
  const ctx = testContext(sampleCluster());
  t.equal(
    (await run(ctx, 'find docs')).stdout,
    'docs\ndocs/guide.md\ndocs/my report.pdf\ndocs/notes\ndocs/notes/today.txt\n',
  );
  t.equal((await run(ctx, 'find /photos')).stdout, '/photos\n/photos/cat.jpg\n/photos/dog.jpg\n');
  t.equal((await run(ctx, 'find ~/photos -name dog*')).stdout, '/photos/dog.jpg\n', '~ starts print absolute paths');
  ctx.cwd = '/photos';
  t.equal((await run(ctx, 'find')).stdout, '.\n./cat.jpg\n./dog.jpg\n');
  t.equal((await run(ctx, 'find ../docs/notes/')).stdout, '../docs/notes/\n../docs/notes/today.txt\n');
});

t.test('find filters: -name glob, -type, -size, combined', async (t) => {
  const ctx = testContext(sampleCluster());
  t.equal((await run(ctx, "find / -name '*.jpg'")).stdout, '/photos/cat.jpg\n/photos/dog.jpg\n');
  t.equal((await run(ctx, 'find / -type d')).stdout, '/\n/docs\n/docs/notes\n/empty\n/photos\n');
  t.equal((await run(ctx, 'find / -type f -size +1M')).stdout, '/docs/my report.pdf\n/photos/dog.jpg\n');
  t.equal(
    (await run(ctx, 'find / -size -2k')).stdout,
    '/docs/notes\n/docs/notes/today.txt\n/empty\n',
    '1234 bytes round up to 2K, not less than 2K; directories count their total',
  );
  t.equal((await run(ctx, 'find / -size 2048c -name "g?ide.*"')).stdout, '/docs/guide.md\n');
  t.equal((await run(ctx, 'find / -name "[cd]*.jpg" -type f')).stdout, '/photos/cat.jpg\n/photos/dog.jpg\n');
});

t.test('find errors: missing start reported, other starts still searched; usage errors', async (t) => {
  const ctx = testContext(sampleCluster());
  const result = await run(ctx, 'find nope photos');
  t.equal(result.stderr, 'dfs: find: nope: No such file or directory\n');
  t.equal(result.stdout, 'photos\nphotos/cat.jpg\nphotos/dog.jpg\n');
  t.equal(result.status, 'failed');
  const usage = await run(ctx, 'find / -size 1.5M');
  t.match(usage.stderr, /^dfs: find: invalid -size '1\.5M'.*\nusage: find \[PATH…\]/);
});

t.test('du: SIZE<tab>PATH per directory, deepest first; -s totals; -h human', async (t) => {
  const ctx = testContext(sampleCluster());
  const total = 1234 + 2048 + 10 + 5 * M + 300_000 + 1_500_000;
  t.equal(
    (await run(ctx, 'du')).stdout,
    [`10\t./docs/notes`, `${2048 + 10 + 5 * M}\t./docs`, `0\t./empty`, `1800000\t./photos`, `${total}\t.`, ''].join('\n'),
  );
  t.equal((await run(ctx, 'du -s /')).stdout, `${total}\t/\n`);
  t.equal((await run(ctx, 'du -sh docs photos')).stdout, '5.0M\tdocs\n1.7M\tphotos\n');
  t.equal((await run(ctx, 'du -s -h readme.txt')).stdout, '1.2K\treadme.txt\n', 'a file gives its own size');
  const missing = await run(ctx, 'du -s nope');
  t.equal(missing.stderr, 'dfs: du: nope: No such file or directory\n');
  t.equal(missing.status, 'failed');
});

t.test('tree: tree(1) drawing and counts', async (t) => {
  const ctx = testContext(sampleCluster());
  t.equal(
    (await run(ctx, 'tree')).stdout,
    [
      '.',
      '├── docs',
      '│   ├── guide.md',
      '│   ├── my report.pdf',
      '│   └── notes',
      '│       └── today.txt',
      '├── empty',
      '├── photos',
      '│   ├── cat.jpg',
      '│   └── dog.jpg',
      '└── readme.txt',
      '',
      '4 directories, 6 files',
      '',
    ].join('\n'),
  );
  t.equal((await run(ctx, 'tree /docs/notes')).stdout, '/docs/notes\n└── today.txt\n\n0 directories, 1 file\n');
  t.equal((await run(ctx, 'tree empty')).stdout, 'empty\n\n0 directories, 0 files\n');
  t.equal((await run(ctx, 'tree readme.txt')).stderr, 'dfs: tree: readme.txt: Not a directory\n');
});

t.test('tree: entries in any order (paths sort "a-b" before "a/x") still draw right', async (t) => {
  const cluster = new MemoryCluster().addFile('/a/x', 1).addFile('/a-b', 1).addFile('/a/y/z', 1);
  const scrambled: ClusterApi = Object.assign(Object.create(cluster) as MemoryCluster, {
    async *tree(path: string): AsyncIterable<Entry> {
      const entries: Entry[] = [];
      for await (const entry of cluster.tree(path)) entries.push(entry);
      entries.sort((left, right) => (left.path < right.path ? 1 : -1));
      yield* entries;
    },
  });
  const ctx = testContext(cluster, { api: scrambled });
  t.equal((await run(ctx, 'tree /')).stdout, '/\n├── a\n│   ├── x\n│   └── y\n│       └── z\n└── a-b\n\n2 directories, 3 files\n');
});
