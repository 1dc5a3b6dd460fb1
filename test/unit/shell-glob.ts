// Globs: the parser keeps unquoted wildcards, expandGlob matches as bash does with failglob and globstar, each
// command's words are expanded on their own side (remote or local), and quoting turns globbing off.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { expandWords, wordSides } from '../../src/shell/expand';
import { expandGlob, type Lister } from '../../src/shell/glob';
import { parseLineWords } from '../../src/shell/parse';
import { findCommand } from '../../src/shell/registry';
import { run, sampleCluster, testContext } from '../helpers/shell-harness';

t.test('parse: wildcards typed unquoted make a pattern; quoted or escaped ones are literal', async (t) => {
  const words = (line: string) => parseLineWords(line)[0]?.map((word) => [word.text, word.pattern]);
  t.same(words('ls *.txt plain'), [['ls', null], ['*.txt', '*.txt'], ['plain', null]]);
  t.same(words(`ls '*.txt' "a?" b\\*`), [['ls', null], ['*.txt', null], ['a?', null], ['b*', null]], 'quoting turns globbing off');
  t.same(words(`ls 'a*'*`), [['ls', null], ['a**', 'a\\**']], 'a quoted star beside an unquoted one is escaped in the pattern');
  t.same(words('ls x[ab]'), [['ls', null], ['x[ab]', 'x[ab]']]);
  t.same(words('ls "[x]"y?'), [['ls', null], ['[x]y?', '\\[x\\]y?']]);
});

/** A directory tree as a Lister: names ending in '/' are directories. */
function treeLister(paths: string[]): Lister {
  const tree = new Map<string, Map<string, boolean>>();
  for (const full of paths) {
    const isDirectory = full.endsWith('/');
    const parts = full.replace(/\/$/, '').split('/');
    for (let index = 0; index < parts.length; index++) {
      const parent = parts.slice(0, index).join('/');
      const children = tree.get(parent) ?? new Map<string, boolean>();
      tree.set(parent, children);
      children.set(parts[index] as string, index < parts.length - 1 || isDirectory);
    }
  }
  return async (directory) => {
    const children = tree.get(directory.replace(/\/$/, '').replace(/^\.\//, '').replace(/^\.$/, ''));
    return children === undefined ? undefined : [...children].map(([name, directory]) => ({ name, directory }));
  };
}

t.test('expandGlob: *, ?, [...], ** and dot names as bash (failglob, globstar)', async (t) => {
  const list = treeLister(['a.txt', 'b.txt', 'c.log', '.hidden.txt', 'docs/x.md', 'docs/y.md', 'docs/deep/z.md', 'docs/.dot/w.md', 'e/', 'f1', 'f2', 'fa', 'f[1]']);
  t.same(await expandGlob('*.txt', list), ['a.txt', 'b.txt'], 'a star skips names starting with a dot');
  t.same(await expandGlob('.*.txt', list), ['.hidden.txt'], 'a pattern starting with a dot matches them');
  t.same(await expandGlob('?.log', list), ['c.log']);
  t.same(await expandGlob('f[0-9]', list), ['f1', 'f2']);
  t.same(await expandGlob('f[!0-9]', list), ['fa']);
  t.same(await expandGlob('f[[:alpha:]]', list), ['fa']);
  t.same(await expandGlob('f\\[1]', list), ['f[1]'], 'an escaped bracket is literal');
  t.same(await expandGlob('docs/*.md', list), ['docs/x.md', 'docs/y.md'], 'results keep the pattern\'s own prefix');
  t.same(await expandGlob('*/*.md', list), ['docs/x.md', 'docs/y.md']);
  t.same(await expandGlob('docs/**/*.md', list), ['docs/deep/z.md', 'docs/x.md', 'docs/y.md'], '** is any depth, zero included, not into dot directories');
  t.same(await expandGlob('**/z.md', list), ['docs/deep/z.md']);
  t.same(await expandGlob('*/deep', list), ['docs/deep'], 'a literal last component must exist');
  t.same(await expandGlob('./*.log', list), ['./c.log']);
  await t.rejects(expandGlob('*.pdf', list), { message: 'no match: *.pdf' }, 'no match is an error naming the pattern');
  await t.rejects(expandGlob('nowhere/*', list), { message: 'no match: nowhere/*' });
  await t.rejects(expandGlob('*/missing', list), { message: 'no match: */missing' });
});

t.test('wordSides: put and get by position, find skips its -name pattern, flags are no side', async (t) => {
  t.same(wordSides('upload', ['-r', 'a', 'b', 'dst']), ['other', 'local', 'local', 'remote']);
  t.same(wordSides('upload', ['a']), ['local']);
  t.same(wordSides('download', ['x', 'y', 'dir']), ['remote', 'remote', 'local']);
  t.same(wordSides('find', ['/t', '-name', '*.txt', '-type', 'f']), ['remote', 'other', 'other', 'other', 'other']);
  t.same(wordSides('remote', ['-l', '--', '-odd']), ['other', 'other', 'remote']);
  t.same(wordSides('nothing', ['x*']), ['other']);
});

t.test('ls, rm, cat, mv and cp expand remote globs; no match fails and changes nothing', async (t) => {
  const cluster = sampleCluster().addFile('/t/a.txt', 1).addFile('/t/b.txt', 2).addFile('/t/c.log', 3).addFile('/t/d.log', 4).addDir('/t/logs');
  const ctx = testContext(cluster);
  t.same((await run(ctx, 'ls /t/*.txt')).stdout, '/t/a.txt\n/t/b.txt\n');
  t.same((await run(ctx, 'ls "/t/*.txt"')).stderr, 'dfs: ls: /t/*.txt: No such file or directory\n', 'quoted: looked up as named');
  ctx.cwd = '/t';
  const none = await run(ctx, 'rm *.pdf a.txt');
  t.equal(none.status, 'failed');
  t.equal(none.stderr, 'dfs: rm: no match: *.pdf\n');
  t.ok(cluster.entries.has('/t/a.txt'), 'a failed pattern runs nothing of the command');
  t.equal((await run(ctx, 'mv *.log logs')).status, 'ok');
  t.ok(cluster.entries.has('/t/logs/c.log') && cluster.entries.has('/t/logs/d.log') && !cluster.entries.has('/t/c.log'));
  t.equal((await run(ctx, 'cp logs/?.log .')).status, 'ok');
  t.ok(cluster.entries.has('/t/c.log') && cluster.entries.has('/t/d.log'));
  t.equal((await run(ctx, 'rm **/*.log')).status, 'ok');
  t.same([...cluster.entries.keys()].filter((key) => key.startsWith('/t/')).sort(), ['/t/a.txt', '/t/b.txt', '/t/logs']);
  t.equal((await run(ctx, 'find / -name *.md')).stdout, '/docs/guide.md\n', 'find\'s -name pattern is find\'s, even unquoted');
});

t.test('put expands local globs against the local working directory; get\'s target is local', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dfs-glob-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  for (const name of ['one.csv', 'two.csv', 'x.txt']) await fs.writeFile(path.join(dir, name), name);
  const ctx = testContext(sampleCluster());
  const put = findCommand('put');
  if (put === undefined) throw new Error('no put');
  const words = parseLineWords(`put ${dir}/*.csv /in`)[0]?.slice(1) ?? [];
  t.same(await expandWords(put, words, ctx), [`${dir}/one.csv`, `${dir}/two.csv`, '/in']);
  const single = parseLineWords(`put ${dir}/*.csv`)[0]?.slice(1) ?? [];
  t.same(await expandWords(put, single, ctx), [`${dir}/one.csv`, `${dir}/two.csv`, '.'], 'one pattern: the matches go to the working directory');
  const get = findCommand('get');
  if (get === undefined) throw new Error('no get');
  const getWords = parseLineWords(`get /photos/*.jpg ${dir}/*.txt`)[0]?.slice(1) ?? [];
  t.same(await expandWords(get, getWords, ctx), ['/photos/cat.jpg', '/photos/dog.jpg', `${dir}/x.txt`]);
  await t.rejects(expandWords(put, parseLineWords(`put ${dir}/*.pdf /in`)[0]?.slice(1) ?? [], ctx), { message: `no match: ${dir}/*.pdf` });
});

t.test('review fixes: a trailing slash matches directories only; ** does not follow links; [z-a] holds nothing; a match named like a flag stays a path; an unclosed [ is no pattern', async (t) => {
  const list = treeLister(['a.txt', 'docs/x.md', 'e/', '-r']);
  t.same(await expandGlob('*/', list), ['docs/', 'e/']);
  t.same(await expandGlob('*', list), ['./-r', 'a.txt', 'docs', 'e'], '-r comes out as ./-r, never as a flag');
  await t.rejects(expandGlob('[z-a]*', list), { message: 'no match: [z-a]*' });
  const linked: Lister = async (directory) => {
    if (directory === '') return [{ name: 'real', directory: true }, { name: 'loop', directory: true, link: true }];
    if (directory === 'real/') return [{ name: 'f.log', directory: false }];
    if (directory === 'loop/') return [{ name: 'real', directory: true }, { name: 'loop', directory: true, link: true }];
    return undefined;
  };
  t.same(await expandGlob('**/*.log', linked), ['real/f.log'], 'a symlinked directory is not gone down by **');
  t.same(parseLineWords('mkdir a[b')[0]?.[1]?.pattern, null, 'a[b is a name, not a pattern');
});
