// --json: each of ls, stat, find, du, df and nodes prints one JSON document with the field names README documents,
// and a name that could act on a terminal is escaped in it yet parses back whole.

import t from 'tap';
import { run, sampleCluster, testContext } from '../helpers/shell-harness';

t.test('--json: ls, stat, find, du, df and nodes print one JSON document each, control characters escaped', async (t) => {
  const cluster = sampleCluster().addFile('/odd/bad\u202ename', 3);
  const ctx = testContext(cluster);
  const parse = async (line: string): Promise<unknown> => {
    const result = await run(ctx, line);
    t.equal(result.status, 'ok', `${line}: ${result.stderr}`);
    t.notMatch(result.stdout, /[\u202e\x1b]/u, `${line}: nothing raw that acts on a terminal`);
    return JSON.parse(result.stdout);
  };
  const listed = (await parse('ls --json /docs /readme.txt')) as { path: string; entries: { name: string; type: string; size: number; mtime: string }[] }[];
  t.same(listed.map((listing) => listing.path), ['/readme.txt', '/docs'], 'one item per file operand and directory, as ls orders them');
  t.same(listed[1]?.entries.map((entry) => [entry.name, entry.type]), [['guide.md', 'file'], ['my report.pdf', 'file'], ['notes', 'dir']]);
  t.match(listed[0]?.entries[0], { path: '/readme.txt', size: 1234, mtime: /^\d{4}-\d\d-\d\dT/ });
  const stats = (await parse('stat --json "/docs/my report.pdf"')) as { replicas: { have: number; want: number; nodes: string[] } }[];
  t.same(stats[0]?.replicas, { have: 2, want: 3, nodes: ['node-1', 'node-2'] });
  const found = (await parse('find / -name "*.jpg" --json')) as { path: string }[];
  t.same(found.map((entry) => entry.path), ['/photos/cat.jpg', '/photos/dog.jpg']);
  t.same(await parse('find / -name "*.none" --json'), [], 'nothing found is an empty array');
  const usage = (await parse('du --json -s /photos')) as { path: string; bytes: number }[];
  t.same(usage, [{ path: '/photos', bytes: 1_800_000 }]);
  t.match(await parse('df --json'), { cluster: { capacityBytes: Number }, user: { name: 'shared', quotaBytes: null } });
  t.match(await parse('nodes --json'), { nodes: Array, total: { nodes: Number } });
  const odd = (await parse('ls --json /odd')) as { entries: { name: string }[] }[];
  t.equal(odd[0]?.entries[0]?.name, 'bad\u202ename', 'a bidi name is escaped on the terminal yet parses back whole');
});
