// Tab completion: command names for the first word of each command, remote paths for the others
// (relative, ~/ and absolute; directories get '/', files a space), escaped or quoted the way the
// word is being typed, and no candidates rather than errors when the directory does not exist.

import t from 'tap';
import { completeLine, quoteContinuation } from '../../src/shell/complete';
import { parseLine } from '../../src/shell/parse';
import { MemoryCluster } from '../helpers/memory-cluster';
import { sampleCluster, testContext } from '../helpers/shell-harness';

t.test('complete: command names for the first word, after ; too', async (t) => {
  const ctx = testContext(sampleCluster());
  t.same(await completeLine('m', ctx), [['mkdir ', 'mv '], 'm']);
  t.same(await completeLine('pw', ctx), [['pwd '], 'pw']);
  t.same(await completeLine('ls; tr', ctx), [['tree '], 'tr']);
  t.same(await completeLine('frob', ctx), [[], 'frob']);
  const all = await completeLine('', ctx);
  t.ok(all[0].includes('ls ') && all[0].includes('useradd '), 'an empty line offers every command');
  t.same(await completeLine('help p', ctx), [['passwd ', 'put ', 'pwd '], 'p'], 'help completes command names');
});

t.test('complete: paths relative to the working directory; dirs get /', async (t) => {
  const ctx = testContext(sampleCluster());
  t.same(await completeLine('ls d', ctx), [['docs/'], 'd']);
  t.same(await completeLine('ls ', ctx), [['docs/', 'empty/', 'photos/', 'readme.txt '], '']);
  t.same(await completeLine('frob docs/g', ctx), [[], 'docs/g'], 'unknown commands complete nothing');
  t.same(await completeLine('cat docs/g', ctx), [['docs/guide.md '], 'docs/g'], 'cat completes remote paths');
  t.same(await completeLine('stat docs/g', ctx), [['docs/guide.md '], 'docs/g']);
  t.same(await completeLine('stat docs/no', ctx), [['docs/notes/'], 'docs/no']);
  t.same(await completeLine('ls docs/notes/', ctx), [['docs/notes/today.txt '], 'docs/notes/']);
  ctx.cwd = '/docs/notes';
  t.same(await completeLine('ls ../g', ctx), [['../guide.md '], '../g']);
  t.same(await completeLine('ls ~/p', ctx), [['~/photos/'], '~/p']);
  t.same(await completeLine('ls /ph', ctx), [['/photos/'], '/ph']);
  t.same(await completeLine('ls ~', ctx), [['~/'], '~']);
  t.same(await completeLine('ls ', ctx), [['today.txt '], '']);
});

t.test('complete: the word being completed is the last one, other words are kept', async (t) => {
  const ctx = testContext(sampleCluster());
  t.same(await completeLine('mv readme.txt ph', ctx), [['photos/'], 'ph']);
  t.same(await completeLine('ls -l docs/m', ctx), [['docs/my\\ report.pdf '], 'docs/m']);
});

t.test('complete: quote-aware, so the completed word parses back to the name', async (t) => {
  const ctx = testContext(sampleCluster());
  const cases: Array<[string, string, string]> = [
    ['ls docs/my', 'ls docs/my\\ report.pdf ', 'docs/my report.pdf'],
    ['ls "docs/my', 'ls "docs/my report.pdf" ', 'docs/my report.pdf'],
    ["ls 'docs/my", "ls 'docs/my report.pdf' ", 'docs/my report.pdf'],
    ['ls docs/my\\ r', 'ls docs/my\\ report.pdf ', 'docs/my report.pdf'],
  ];
  for (const [line, completed, word] of cases) {
    const [hits, replaced] = await completeLine(line, ctx);
    t.equal(hits.length, 1, line);
    const result = line.slice(0, line.length - replaced.length) + (hits[0] ?? '');
    t.equal(result, completed, line);
    t.same(parseLine(result), [['ls', word]], `${line} parses back`);
  }
  t.equal(quoteContinuation("it's a \"x\" \\ ;#", null), "it\\'s\\ a\\ \\\"x\\\"\\ \\\\\\ \\;\\#");
  t.equal(quoteContinuation("it's", "'"), "it'\\''s");
  t.equal(quoteContinuation('say "hi" \\', '"'), 'say \\"hi\\" \\\\');
});

t.test('complete: hidden names only when asked for; nothing for missing dirs, files, comments', async (t) => {
  const ctx = testContext(new MemoryCluster().addFile('/.secret', 1).addFile('/seen', 1));
  t.same(await completeLine('ls ', ctx), [['seen '], '']);
  t.same(await completeLine('ls .s', ctx), [['.secret '], '.s']);
  t.same(await completeLine('ls nope/x', ctx), [[], 'nope/x']);
  t.same(await completeLine('ls seen/x', ctx), [[], 'seen/x']);
  t.same(await completeLine('ls # s', ctx), [[], '']);
  t.same(await completeLine('pwd s', ctx), [[], 's'], 'commands without paths complete nothing');
});

t.test('complete: a failing master gives no candidates, not an error', async (t) => {
  const cluster = sampleCluster();
  cluster.list = async () => {
    throw new Error('connection lost');
  };
  t.same(await completeLine('ls d', testContext(cluster)), [[], 'd']);
});
