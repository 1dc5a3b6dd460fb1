// The catalog's namespace rules: every operation and its errors, paging under
// change, mv(1) edge cases, find/du/tree over path ranges, recursive directory sizes, users, and
// isolation between users. A seeded random run checks every operation against a small model:
// a failing run prints its seed, and DFS_TEST_SEED=<seed> replays it.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { PAGE_ENTRIES_MAX, PATH_BYTES_MAX } from '../../src/limits';
import { isDfsError } from '../../src/wire/errors';
import { Catalog, type CatalogOptions, type Entry } from '../../src/master/catalog/catalog';
import { toSqliteGlob } from '../../src/master/catalog/glob';
import { MIGRATE_2_TO_3, SQL } from '../../src/master/catalog/schema';
import { loadSqlJs, SqlDatabase } from '../../src/master/catalog/sqljs';
import { prng, seed } from '../helpers/random';

t.comment(`seed ${seed} (replay with DFS_TEST_SEED=${seed})`);

interface Fixture {
  catalog: Catalog;
  directory: string;
  owner: number;
}

async function fresh(t: Test, options: CatalogOptions = {}): Promise<Fixture> {
  const directory = await mkdtemp(path.join(tmpdir(), 'dfs-catalog-'));
  const catalog = await Catalog.open(directory, options);
  t.teardown(async () => {
    await catalog.close().catch(() => undefined);
    await rm(directory, { recursive: true, force: true });
  });
  const alice = await catalog.createUser('alice', null, false);
  return { catalog, directory, owner: alice.id };
}

function sha(seedText: string): string {
  return Buffer.from(seedText.padEnd(32, '.').slice(0, 32)).toString('hex');
}

function file(size: number, blobId: string, overwrite = false): { size: number; blobId: string; sha256: string; overwrite: boolean } {
  return { size, blobId, sha256: sha(blobId), overwrite };
}

/** 'OK' or the DfsError code, for a call that may throw or reject. */
async function codeOf(action: () => unknown): Promise<string> {
  try {
    await action();
    return 'OK';
  } catch (error) {
    return isDfsError(error) ? error.code : `not a DfsError: ${String(error)}`;
  }
}

/** Every entry of the owner's namespace, across all pages. */
function everything(catalog: Catalog, owner: number, top = '/'): Entry[] {
  const entries: Entry[] = [];
  let after: string | undefined;
  do {
    const page = catalog.tree(owner, top, { after });
    entries.push(...page.items);
    after = page.next;
  } while (after !== undefined);
  return entries;
}

function summary(entries: Entry[]): string[] {
  return entries.map((entry) => `${entry.kind === 'dir' ? 'd' : 'f'} ${entry.path} ${entry.size}${entry.blobId ? ` ${entry.blobId}` : ''}`);
}

/** Every directory's size is the total of the files beneath it. */
function checkSizes(t: Test, catalog: Catalog, owner: number): void {
  const entries = everything(catalog, owner);
  const totals = new Map<string, number>(entries.filter((entry) => entry.kind === 'dir').map((entry) => [entry.path, 0]));
  for (const entry of entries) {
    if (entry.kind !== 'file') continue;
    for (const directory of totals.keys()) {
      if (directory === '/' || entry.path.startsWith(`${directory}/`)) totals.set(directory, (totals.get(directory) ?? 0) + entry.size);
    }
  }
  const wrong = entries.filter((entry) => entry.kind === 'dir' && totals.get(entry.path) !== entry.size);
  t.same(
    wrong.map((entry) => `${entry.path} says ${entry.size}, holds ${totals.get(entry.path)}`),
    [],
    'every directory size is the total of the files beneath it',
  );
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

t.test('path rules: malformed paths are refused with BAD_REQUEST and change nothing', async (t) => {
  const { catalog, owner } = await fresh(t);
  await catalog.mkdir(owner, '/d');
  await catalog.createFile(owner, '/d/f', file(5, 'b1'));
  const before = summary(everything(catalog, owner));
  const records = catalog.stats().records;
  const bad = ['', 'relative', '/trailing/', '//', '/a//b', '/./a', '/a/.', '/a/..', '/nul\0x', `/${'n'.repeat(256)}`, `/${'a/'.repeat(2100)}a`, '/lone\uD800'];
  for (const input of bad) {
    const label = JSON.stringify(input.length > 40 ? `${input.slice(0, 20)}...(${input.length})` : input);
    const calls: Record<string, () => unknown> = {
      stat: () => catalog.stat(owner, input),
      list: () => catalog.list(owner, input),
      find: () => catalog.find(owner, input, {}),
      du: () => catalog.du(owner, input, { summary: false }),
      tree: () => catalog.tree(owner, input),
      mkdir: () => catalog.mkdir(owner, input),
      'mkdir -p': () => catalog.mkdir(owner, input, { parents: true }),
      createFile: () => catalog.createFile(owner, input, file(1, 'x', true)),
      remove: () => catalog.remove(owner, input, { recursive: true }),
      'move source': () => catalog.move(owner, input, '/elsewhere'),
      'move target': () => catalog.move(owner, '/d', input),
    };
    for (const [name, call] of Object.entries(calls)) t.equal(await codeOf(call), 'BAD_REQUEST', `${name} ${label}`);
  }
  t.equal(await codeOf(() => catalog.tree(owner, '/', { after: '/elsewhere/x' })), 'OK', 'a cursor needs not exist');
  t.equal(await codeOf(() => catalog.tree(owner, '/d', { after: '/e' })), 'BAD_REQUEST', 'a cursor outside the subtree is refused');
  t.equal(await codeOf(() => catalog.list(owner, '/', { limit: 0 })), 'BAD_REQUEST', 'limit 0');
  t.equal(await codeOf(() => catalog.list(owner, '/', { limit: PAGE_ENTRIES_MAX + 1 })), 'BAD_REQUEST', 'limit above the maximum');
  t.equal(await codeOf(() => catalog.list(owner, '/', { limit: 1.5 })), 'BAD_REQUEST', 'fractional limit');
  t.same(summary(everything(catalog, owner)), before, 'the namespace is unchanged');
  t.equal(catalog.stats().records, records, 'nothing was journaled');
});

t.test('stat and list: the root, children in byte order, NOT_FOUND and NOT_A_DIRECTORY', async (t) => {
  const { catalog, owner } = await fresh(t);
  const root = catalog.stat(owner, '/');
  t.match(root, { path: '/', name: '', kind: 'dir', size: 0, blobId: null, sha256: null });
  const names = ['b', 'B', 'a-b', 'a', 'a.b', 'a b', 'é', 'z', '日本', '😀', '\uFF5E', '~', '%', '_'];
  for (const name of names) await catalog.mkdir(owner, `/${name}`);
  await catalog.createFile(owner, '/a/inner', file(3, 'i'));
  t.same(
    catalog.list(owner, '/').items.map((entry) => entry.name),
    [...names].sort(byteOrder),
    'children are sorted by the bytes of their UTF-8 names',
  );
  const inner = catalog.stat(owner, '/a/inner');
  t.match(inner, { path: '/a/inner', name: 'inner', kind: 'file', size: 3, blobId: 'i', sha256: sha('i') });
  t.equal(catalog.list(owner, '/a').items.length, 1);
  t.throws(() => catalog.stat(owner, '/missing'), { code: 'NOT_FOUND' });
  t.throws(() => catalog.stat(owner, '/a/inner/deeper'), { code: 'NOT_A_DIRECTORY' }, 'a component that is a file');
  t.throws(() => catalog.list(owner, '/a/inner'), { code: 'NOT_A_DIRECTORY' });
  t.throws(() => catalog.list(owner, '/missing'), { code: 'NOT_FOUND' });
  t.throws(() => catalog.stat(999, '/'), { code: 'NOT_FOUND' }, 'an unknown owner has nothing');
});

t.test('list pages with after: no repeats and no skips even when entries change between pages', async (t) => {
  const { catalog, owner } = await fresh(t);
  const names = Array.from({ length: 25 }, (_, index) => `n${String(index).padStart(2, '0')}`);
  for (const name of names) await catalog.mkdir(owner, `/${name}`);
  const first = catalog.list(owner, '/', { limit: 10 });
  t.same(
    first.items.map((entry) => entry.name),
    names.slice(0, 10),
  );
  t.equal(first.next, 'n09', 'the cursor is the last name returned');
  // Between pages: remove a listed entry and one not yet listed, add one before and one after the cursor.
  await catalog.remove(owner, '/n03');
  await catalog.remove(owner, '/n15');
  await catalog.mkdir(owner, '/n00a');
  await catalog.mkdir(owner, '/n99');
  const seen = [...first.items.map((entry) => entry.name)];
  let after = first.next;
  let pages = 1;
  while (after !== undefined) {
    const next = catalog.list(owner, '/', { after, limit: 10 });
    seen.push(...next.items.map((entry) => entry.name));
    after = next.next;
    pages++;
  }
  t.equal(pages, 3);
  t.equal(new Set(seen).size, seen.length, 'no name is listed twice');
  const throughout = names.filter((name) => name !== 'n03' && name !== 'n15');
  t.same(
    throughout.filter((name) => !seen.includes(name)),
    [],
    'every entry that existed throughout is listed',
  );
  t.ok(seen.includes('n99'), 'an entry added after the cursor is seen');
  const exact = catalog.list(owner, '/', { limit: 25 });
  t.equal(exact.items.length, 25);
  t.equal(exact.next, undefined, 'a page that ends exactly at the last entry has no cursor');
});

t.test('mkdir: EXISTS, NOT_FOUND parent, NOT_A_DIRECTORY, and -p', async (t) => {
  const { catalog, owner } = await fresh(t);
  const made = await catalog.mkdir(owner, '/a');
  t.match(made, { path: '/a', name: 'a', kind: 'dir', size: 0 });
  t.equal(await codeOf(() => catalog.mkdir(owner, '/a')), 'EXISTS');
  t.equal(await codeOf(() => catalog.mkdir(owner, '/')), 'EXISTS');
  t.equal(await codeOf(() => catalog.mkdir(owner, '/x/y')), 'NOT_FOUND', 'missing parent without -p');
  await catalog.createFile(owner, '/a/f', file(7, 'f'));
  t.equal(await codeOf(() => catalog.mkdir(owner, '/a/f/g')), 'NOT_A_DIRECTORY');
  t.equal(await codeOf(() => catalog.mkdir(owner, '/a/f/g/h', { parents: true })), 'NOT_A_DIRECTORY', '-p through a file');
  t.equal(await codeOf(() => catalog.mkdir(owner, '/a/f', { parents: true })), 'EXISTS', '-p onto a file');
  const deep = await catalog.mkdir(owner, '/p/q/r/s', { parents: true });
  t.match(deep, { path: '/p/q/r/s', kind: 'dir' });
  t.same(
    everything(catalog, owner, '/p').map((entry) => entry.path),
    ['/p', '/p/q', '/p/q/r', '/p/q/r/s'],
  );
  const records = catalog.stats().records;
  t.match(await catalog.mkdir(owner, '/p/q', { parents: true }), { path: '/p/q', kind: 'dir' }, '-p of an existing directory');
  t.match(await catalog.mkdir(owner, '/', { parents: true }), { path: '/' }, '-p of the root');
  t.equal(catalog.stats().records, records, 'a mkdir -p that changes nothing journals nothing');
  t.equal(catalog.entryCount(), 1 + 2 + 4, 'root, /a, /a/f, and the four made by -p');
});

t.test('createFile: parent rules, EXISTS unless overwrite, IS_A_DIRECTORY, ancestor sizes', async (t) => {
  const { catalog, owner } = await fresh(t);
  await catalog.mkdir(owner, '/a/b', { parents: true });
  const created = await catalog.createFile(owner, '/a/b/f', file(100, 'blob1'));
  t.match(created, { entry: { path: '/a/b/f', kind: 'file', size: 100, blobId: 'blob1', sha256: sha('blob1') }, replacedBlobId: null });
  t.same([catalog.stat(owner, '/').size, catalog.stat(owner, '/a').size, catalog.stat(owner, '/a/b').size], [100, 100, 100]);
  t.equal(await codeOf(() => catalog.createFile(owner, '/a/b/f', file(1, 'blob2'))), 'EXISTS');
  const replaced = await catalog.createFile(owner, '/a/b/f', file(40, 'blob2', true));
  t.equal(replaced.replacedBlobId, 'blob1', 'overwrite returns the replaced blob');
  t.equal(catalog.stat(owner, '/a').size, 40, 'sizes follow the new length');
  const same = await catalog.createFile(owner, '/a/b/f', file(40, 'blob2', true));
  t.equal(same.replacedBlobId, null, 'recommitting the same blob frees nothing');
  t.equal(await codeOf(() => catalog.createFile(owner, '/a/b', file(1, 'x', true))), 'IS_A_DIRECTORY');
  t.equal(await codeOf(() => catalog.createFile(owner, '/', file(1, 'x', true))), 'IS_A_DIRECTORY');
  t.equal(await codeOf(() => catalog.createFile(owner, '/nope/f', file(1, 'x'))), 'NOT_FOUND');
  t.equal(await codeOf(() => catalog.createFile(owner, '/a/b/f/g', file(1, 'x'))), 'NOT_A_DIRECTORY');
  for (const [what, bad] of [
    ['negative size', { ...file(1, 'x'), size: -1 }],
    ['fractional size', { ...file(1, 'x'), size: 1.5 }],
    ['empty blob id', file(1, '')],
    ['long blob id', file(1, 'x'.repeat(129))],
    ['short sha256', { ...file(1, 'x'), sha256: 'abc' }],
    ['non-hex sha256', { ...file(1, 'x'), sha256: 'z'.repeat(64) }],
  ] as const) {
    t.equal(await codeOf(() => catalog.createFile(owner, '/a/new', bad)), 'BAD_REQUEST', what);
  }
  const upper = await catalog.createFile(owner, '/a/upper', { size: 1, blobId: 'Not-Hex_ID', sha256: 'AB'.repeat(32), overwrite: false });
  t.equal(upper.entry.sha256, 'ab'.repeat(32), 'sha256 is normalized to lowercase');
  t.equal(upper.entry.blobId, 'Not-Hex_ID', 'a blob id that is not lowercase hex comes back unchanged');
  await catalog.createFile(owner, '/a/hex', file(1, '00ff10'));
  t.equal(catalog.stat(owner, '/a/hex').blobId, '00ff10', 'a hex blob id comes back unchanged');
  await catalog.createFile(owner, '/empty', file(0, 'e'));
  t.equal(catalog.stat(owner, '/empty').size, 0);
  checkSizes(t, catalog, owner);
});

t.test('commitFiles: an upload batch across directories in one transaction, all or nothing; sizes add up', async (t) => {
  const { catalog, owner } = await fresh(t);
  await catalog.mkdir(owner, '/x/y', { parents: true });
  await catalog.mkdir(owner, '/z', { parents: true });
  await catalog.createFile(owner, '/z/old', file(5, 'old'));
  const uploads = [
    { owner, path: '/x/a', ...file(10, 'ba'), nodeIds: ['node-1'] },
    { owner, path: '/x/y/b', ...file(20, 'bb'), nodeIds: ['node-1', 'node-2'] },
    { owner, path: '/x/y/c', ...file(30, 'bc'), nodeIds: ['node-2'] },
    { owner, path: '/z/old', ...file(7, 'new', true), nodeIds: ['node-1'] },
  ];
  const made = await catalog.commitFiles(uploads);
  t.same(made.map((result) => result.replacedBlobId), [null, null, null, 'old'], 'the overwritten file\'s blob is returned');
  t.same([catalog.stat(owner, '/').size, catalog.stat(owner, '/x').size, catalog.stat(owner, '/x/y').size, catalog.stat(owner, '/z').size], [67, 60, 50, 7], 'every ancestor\'s size counts the batch once');
  t.same(catalog.replicasOf('bb').map((replica) => replica.nodeId).sort(), ['node-1', 'node-2'], 'each file\'s copies recorded');
  t.equal(await codeOf(() => catalog.commitFiles([{ owner, path: '/x/d', ...file(1, 'bd') }, { owner, path: '/x/a', ...file(1, 'be') }])), 'EXISTS', 'one file in the way refuses the batch');
  t.equal(await codeOf(() => catalog.stat(owner, '/x/d')), 'NOT_FOUND', 'and nothing of it is committed');
  t.same(await catalog.addReplicas([{ blobId: 'ba', nodeId: 'node-3' }, { blobId: 'gone', nodeId: 'node-3' }]), ['good', 'deleting'], 'addReplicas: good while a file has the blob, else deleting');
  checkSizes(t, catalog, owner);
});

t.test('createFiles: many files in one transaction, all or nothing', async (t) => {
  const { catalog, owner } = await fresh(t);
  await catalog.mkdir(owner, '/bulk/in', { parents: true });
  await catalog.createFile(owner, '/bulk/in/taken', file(1, 'taken'));
  const batch = (names: string[]): { name: string; size: number; blobId: string; sha256: string }[] =>
    names.map((name, index) => ({ name, size: index + 1, blobId: `bulk-${name}`, sha256: sha(name) }));
  const records = catalog.stats().records;
  t.same(await catalog.createFiles(owner, '/bulk/in', batch(['a', 'b', 'c'])), { created: 3 });
  t.equal(catalog.stats().records, records + 1, 'one journal record for the batch');
  t.same([catalog.stat(owner, '/bulk').size, catalog.stat(owner, '/bulk/in').size], [7, 7], 'ancestors grow by the batch total');
  t.match(catalog.stat(owner, '/bulk/in/b'), { kind: 'file', size: 2, blobId: 'bulk-b', sha256: sha('b') });
  const count = catalog.entryCount();
  t.equal(await codeOf(() => catalog.createFiles(owner, '/bulk/in', batch(['d', 'taken']))), 'EXISTS', 'an existing name');
  t.equal(await codeOf(() => catalog.createFiles(owner, '/bulk/in', batch(['e', 'e']))), 'EXISTS', 'a repeated name');
  t.equal(await codeOf(() => catalog.createFiles(owner, '/bulk/in', batch(['f', 'bad/name']))), 'BAD_REQUEST');
  t.equal(await codeOf(() => catalog.createFiles(owner, '/bulk/in/taken', batch(['g']))), 'NOT_A_DIRECTORY');
  t.equal(await codeOf(() => catalog.createFiles(owner, '/nowhere', batch(['h']))), 'NOT_FOUND');
  t.equal(await codeOf(() => catalog.createFiles(owner, '/bulk/in', batch(Array.from({ length: 10_001 }, (_, index) => `n${index}`)))), 'BAD_REQUEST', 'too many');
  t.equal(catalog.entryCount(), count, 'a refused batch adds nothing');
  t.throws(() => catalog.stat(owner, '/bulk/in/d'), { code: 'NOT_FOUND' });
  t.same(await catalog.createFiles(owner, '/bulk/in', []), { created: 0 });
  checkSizes(t, catalog, owner);
});

t.test('sizes and mtimes along a chain deeper than the statement cache covers (40 levels)', async (t) => {
  let clock = 1_000;
  const { catalog, owner } = await fresh(t, { now: () => clock });
  const deep = `/${Array.from({ length: 40 }, (_, index) => `l${index}`).join('/')}`;
  await catalog.mkdir(owner, deep, { parents: true });
  clock = 2_000;
  await catalog.createFile(owner, `${deep}/f`, file(7, 'deep'));
  t.equal(catalog.stat(owner, '/').size, 7);
  t.equal(catalog.stat(owner, '/l0/l1').size, 7);
  t.equal(catalog.stat(owner, deep).mtimeMs, 2_000, 'the parent directory was modified');
  t.equal(catalog.stat(owner, '/l0').mtimeMs, 1_000, 'its ancestors were not');
  await catalog.move(owner, `${deep}/f`, '/l0/g');
  t.same([catalog.stat(owner, deep).size, catalog.stat(owner, '/l0/l1').size, catalog.stat(owner, '/l0').size], [0, 0, 7]);
  await catalog.remove(owner, '/l0/g');
  t.equal(catalog.stat(owner, '/').size, 0);
  checkSizes(t, catalog, owner);
});

t.test('remove: NOT_FOUND, refuses /, NOT_EMPTY, and -r returns every blob and fixes sizes', async (t) => {
  const { catalog, owner } = await fresh(t);
  await catalog.mkdir(owner, '/keep', { parents: true });
  await catalog.createFile(owner, '/keep/k', file(1000, 'k'));
  await catalog.mkdir(owner, '/a/b/c', { parents: true });
  for (const sibling of ['/a.b', '/a-b', '/ab', '/a b']) await catalog.createFile(owner, sibling, file(1, `s${sibling}`));
  await catalog.createFile(owner, '/a/f1', file(10, 'f1'));
  await catalog.createFile(owner, '/a/b/f2', file(20, 'f2'));
  await catalog.createFile(owner, '/a/b/c/f3', file(30, 'f3'));
  await catalog.createFile(owner, '/a/b/c/f3-copy', file(30, 'f3'));
  t.equal(await codeOf(() => catalog.remove(owner, '/')), 'BAD_REQUEST');
  t.equal(await codeOf(() => catalog.remove(owner, '/', { recursive: true })), 'BAD_REQUEST');
  t.equal(await codeOf(() => catalog.remove(owner, '/missing')), 'NOT_FOUND');
  t.equal(await codeOf(() => catalog.remove(owner, '/a')), 'NOT_EMPTY');
  const single = await catalog.remove(owner, '/a/f1');
  t.same(single, { removed: 1, blobIds: ['f1'] });
  t.equal(catalog.stat(owner, '/a').size, 80);
  await catalog.mkdir(owner, '/a/empty');
  t.same(await catalog.remove(owner, '/a/empty'), { removed: 1, blobIds: [] }, 'an empty directory needs no -r');
  const count = catalog.entryCount();
  const result = await catalog.remove(owner, '/a', { recursive: true });
  t.equal(result.removed, 6, '/a, /a/b, /a/b/c and three files');
  t.same(result.blobIds.sort(), ['f2', 'f3'], 'each blob once');
  t.equal(catalog.entryCount(), count - 6);
  t.throws(() => catalog.stat(owner, '/a/b/c/f3'), { code: 'NOT_FOUND' });
  t.same(
    catalog.list(owner, '/').items.map((entry) => entry.name),
    ['a b', 'a-b', 'a.b', 'ab', 'keep'],
    'siblings whose names share the prefix are untouched',
  );
  t.equal(catalog.stat(owner, '/').size, 1004);
  checkSizes(t, catalog, owner);
});

t.test('move: mv(1) semantics and its edge cases', async (t) => {
  t.test('a file onto an existing file replaces it and returns the replaced blob', async (t) => {
    const { catalog, owner } = await fresh(t);
    await catalog.mkdir(owner, '/x');
    await catalog.mkdir(owner, '/y');
    await catalog.createFile(owner, '/x/f', file(10, 'source'));
    await catalog.createFile(owner, '/y/f', file(3, 'victim'));
    const moved = await catalog.move(owner, '/x/f', '/y/f');
    t.equal(moved.replacedBlobId, 'victim');
    t.match(moved.entry, { path: '/y/f', blobId: 'source', size: 10 });
    t.same([catalog.stat(owner, '/x').size, catalog.stat(owner, '/y').size, catalog.stat(owner, '/').size], [0, 10, 10]);
    t.equal(catalog.entryCount(), 4, 'the replaced entry is gone');
    checkSizes(t, catalog, owner);
  });

  t.test('a directory cannot move into itself or its own subtree', async (t) => {
    const { catalog, owner } = await fresh(t);
    await catalog.mkdir(owner, '/d/e/f', { parents: true });
    const before = summary(everything(catalog, owner));
    t.equal(await codeOf(() => catalog.move(owner, '/d', '/d/e/f/g')), 'BAD_REQUEST');
    t.equal(await codeOf(() => catalog.move(owner, '/d', '/d/e')), 'BAD_REQUEST', 'into a subdirectory that exists');
    t.equal(await codeOf(() => catalog.move(owner, '/d', '/d')), 'BAD_REQUEST', 'a directory onto itself means into itself');
    t.equal(await codeOf(() => catalog.move(owner, '/', '/x')), 'BAD_REQUEST', 'the root never moves');
    t.same(summary(everything(catalog, owner)), before);
    t.rejects(catalog.move(owner, '/d', '/d/e'), { message: 'cannot move a directory into itself' });
  });

  t.test('onto an existing directory it moves inside; a directory never replaces anything', async (t) => {
    const { catalog, owner } = await fresh(t);
    await catalog.mkdir(owner, '/src/sub', { parents: true });
    await catalog.createFile(owner, '/src/sub/f', file(5, 'f'));
    await catalog.mkdir(owner, '/dst');
    await catalog.createFile(owner, '/plain', file(1, 'p'));
    const moved = await catalog.move(owner, '/src', '/dst');
    t.equal(moved.entry.path, '/dst/src');
    t.same(
      everything(catalog, owner, '/dst').map((entry) => entry.path),
      ['/dst', '/dst/src', '/dst/src/sub', '/dst/src/sub/f'],
      'descendants are rewritten',
    );
    t.same(catalog.list(owner, '/dst/src').items.map((entry) => entry.name), ['sub'], 'children are found through the moved parent');
    await catalog.mkdir(owner, '/other/src', { parents: true });
    t.equal(await codeOf(() => catalog.move(owner, '/other/src', '/dst')), 'EXISTS', '/dst/src exists');
    t.equal(await codeOf(() => catalog.move(owner, '/other', '/plain')), 'EXISTS', 'a directory onto a file');
    await catalog.createFile(owner, '/other/sub', file(1, 'o'));
    t.equal(await codeOf(() => catalog.move(owner, '/other/sub', '/dst/src')), 'IS_A_DIRECTORY', 'a file onto a directory of its name');
    const into = await catalog.move(owner, '/plain', '/dst/src');
    t.equal(into.entry.path, '/dst/src/plain', 'a file onto a directory goes inside it');
    checkSizes(t, catalog, owner);
  });

  t.test('renaming to the same path changes nothing; renaming in place keeps the subtree', async (t) => {
    const { catalog, owner } = await fresh(t);
    await catalog.mkdir(owner, '/d/e', { parents: true });
    await catalog.createFile(owner, '/d/e/f', file(4, 'f'));
    await catalog.createFile(owner, '/g', file(1, 'g'));
    const records = catalog.stats().records;
    t.match(await catalog.move(owner, '/g', '/g'), { entry: { path: '/g' }, replacedBlobId: null });
    t.match(await catalog.move(owner, '/d/e', '/d'), { entry: { path: '/d/e' } }, 'into its own parent is the same path');
    t.equal(catalog.stats().records, records, 'nothing journaled');
    await catalog.move(owner, '/d', '/d2');
    t.same(
      everything(catalog, owner).map((entry) => entry.path),
      ['/', '/d2', '/d2/e', '/d2/e/f', '/g'],
    );
    t.equal(catalog.stat(owner, '/d2').size, 4);
  });

  t.test('moving across parents updates both ancestor chains, and other users are not touched', async (t) => {
    const { catalog, owner } = await fresh(t);
    const bob = (await catalog.createUser('bob', null, false)).id;
    for (const user of [owner, bob]) {
      await catalog.mkdir(user, '/left/deep/er', { parents: true });
      await catalog.mkdir(user, '/right/side', { parents: true });
      await catalog.createFile(user, '/left/deep/er/f', file(64, `f${user}`));
      await catalog.createFile(user, '/right/side/g', file(8, `g${user}`));
    }
    const bobBefore = summary(everything(catalog, bob));
    await catalog.move(owner, '/left/deep', '/right/side/moved');
    t.same(
      summary(everything(catalog, owner)),
      [
        'd / 72',
        'd /left 0',
        'd /right 72',
        'd /right/side 72',
        `f /right/side/g 8 g${owner}`,
        'd /right/side/moved 64',
        'd /right/side/moved/er 64',
        `f /right/side/moved/er/f 64 f${owner}`,
      ],
    );
    t.same(summary(everything(catalog, bob)), bobBefore, "bob's identical paths are unchanged");
    t.equal(await codeOf(() => catalog.move(owner, '/missing', '/x')), 'NOT_FOUND');
    t.equal(await codeOf(() => catalog.move(owner, '/left', '/nowhere/x')), 'NOT_FOUND', 'the target parent must exist');
    t.equal(await codeOf(() => catalog.move(owner, '/left', '/right/side/g/x')), 'NOT_A_DIRECTORY');
    checkSizes(t, catalog, owner);
    checkSizes(t, catalog, bob);
  });

  t.test('a move that would make a path longer than the limit is refused', async (t) => {
    const { catalog, owner } = await fresh(t);
    const long = `/${Array.from({ length: 16 }, () => 'x'.repeat(250)).join('/')}`; // 4016 bytes
    await catalog.mkdir(owner, long, { parents: true });
    await catalog.mkdir(owner, '/short/a/b', { parents: true });
    await catalog.mkdir(owner, `/short/a/b/${'y'.repeat(250)}`);
    t.equal(await codeOf(() => catalog.move(owner, '/short', long)), 'BAD_REQUEST');
    t.ok(Buffer.byteLength(long) + '/short'.length < PATH_BYTES_MAX, 'the moved directory itself would fit');
    t.equal(catalog.stat(owner, '/short/a/b').kind, 'dir', 'nothing moved');
  });
});

t.test('find: -name globs are find -name globs, not SQL patterns', async (t) => {
  const { catalog, owner } = await fresh(t);
  const names = ['a*b', 'axb', 'a%b', 'a_b', 'ab', '[x]', 'x', 'a?b', 'A.TXT', 'a.txt', 'b.txt', 'q[', 'back\\slash', 'dot.', 'a]b'];
  await catalog.mkdir(owner, '/d');
  for (const name of names) await catalog.createFile(owner, `/d/${name}`, file(1, name));
  const found = (pattern: string): string[] =>
    catalog
      .find(owner, '/d', { name: pattern })
      .items.map((entry) => entry.name)
      .sort();
  t.same(found('a*b'), ['a%b', 'a*b', 'a?b', 'a]b', 'a_b', 'ab', 'axb'].sort(), '* matches any run, including a literal *');
  t.same(found('a\\*b'), ['a*b'], '\\* matches only a literal *');
  t.same(found('a%b'), ['a%b'], '% is an ordinary character');
  t.same(found('a_b'), ['a_b'], '_ is an ordinary character');
  t.same(found('a?b'), ['a%b', 'a*b', 'a?b', 'a]b', 'a_b', 'axb'].sort(), '? is one character');
  t.same(found('[[]x]'), ['[x]'], 'a bracketed [ is literal');
  t.same(found('q['), ['q['], 'an unclosed [ is literal');
  t.same(found('[ab].txt'), ['a.txt', 'b.txt'], 'sets');
  t.same(found('[!a].txt'), ['b.txt'], 'negated sets with !');
  t.same(found('[^a].txt'), ['b.txt'], 'negated sets with ^');
  t.same(found('*.TXT'), ['A.TXT'], 'case-sensitive');
  t.same(found('a]b'), ['a]b'], '] alone is literal');
  t.same(found('back\\\\slash'), ['back\\slash'], 'an escaped backslash');
  t.same(found('[[:upper:]].*'), ['A.TXT'], 'POSIX classes');
  t.same(found('*.'), ['dot.'], 'a dot is not special');
  t.same(found('d'), ['d'], 'the starting directory itself is matched too');
  t.equal(toSqliteGlob('[!]x]'), '[^]x]', 'a ] first in a set is a member');
  t.equal(await codeOf(() => catalog.find(owner, '/d', { name: 'x'.repeat(1025) })), 'BAD_REQUEST');
});

t.test('find: -type, -size, path order, the start path itself, paging', async (t) => {
  const { catalog, owner } = await fresh(t);
  await catalog.mkdir(owner, '/t/sub', { parents: true });
  await catalog.createFile(owner, '/t/zero', file(0, 'z'));
  await catalog.createFile(owner, '/t/one-k', file(1024, 'k1'));
  await catalog.createFile(owner, '/t/sub/k1-and-a-byte', file(1025, 'k2'));
  await catalog.createFile(owner, '/t/sub/mega', file(3 * 1024 * 1024, 'm'));
  const paths = (filter: Parameters<Catalog['find']>[2], top = '/t'): string[] => catalog.find(owner, top, filter).items.map((entry) => entry.path);
  t.same(paths({}), ['/t', '/t/one-k', '/t/sub', '/t/sub/k1-and-a-byte', '/t/sub/mega', '/t/zero'], 'path order, each directory before its contents');
  t.same(paths({ type: 'dir' }), ['/t', '/t/sub']);
  t.same(paths({ type: 'file', size: { cmp: 'gt', count: 1, unitBytes: 1024 } }), ['/t/sub/k1-and-a-byte', '/t/sub/mega'], '-size +1k rounds up');
  t.same(paths({ type: 'file', size: { cmp: 'eq', count: 1, unitBytes: 1024 } }), ['/t/one-k'], '-size 1k');
  t.same(paths({ type: 'file', size: { cmp: 'lt', count: 1, unitBytes: 1024 * 1024 } }), ['/t/zero'], '-size -1M is only empty files, as in GNU find');
  t.same(paths({ type: 'file', size: { cmp: 'eq', count: 3, unitBytes: 1024 * 1024 } }), ['/t/sub/mega']);
  t.same(paths({ type: 'file', name: 'mega' }, '/t/sub/mega'), ['/t/sub/mega'], 'a file as the start path');
  t.same(paths({ name: 'nothing' }), []);
  t.equal(await codeOf(() => catalog.find(owner, '/t', { size: { cmp: 'gt', count: -1, unitBytes: 1 } })), 'BAD_REQUEST');
  t.equal(await codeOf(() => catalog.find(owner, '/t', { size: { cmp: 'gt', count: 1, unitBytes: 0 } })), 'BAD_REQUEST');
  t.equal(await codeOf(() => catalog.find(owner, '/nope', {})), 'NOT_FOUND');
  const pages: string[][] = [];
  let after: string | undefined;
  do {
    const page = catalog.find(owner, '/t', {}, { after, limit: 4 });
    pages.push(page.items.map((entry) => entry.path));
    after = page.next;
  } while (after !== undefined);
  t.same(pages, [['/t', '/t/one-k', '/t/sub', '/t/sub/k1-and-a-byte'], ['/t/sub/mega', '/t/zero']]);
});

t.test('du: every directory with its recursive bytes, or the summary', async (t) => {
  const { catalog, owner } = await fresh(t);
  await catalog.mkdir(owner, '/u/v/w', { parents: true });
  await catalog.mkdir(owner, '/u.x');
  await catalog.createFile(owner, '/u/a', file(1, 'a'));
  await catalog.createFile(owner, '/u/v/b', file(10, 'b'));
  await catalog.createFile(owner, '/u/v/w/c', file(100, 'c'));
  await catalog.createFile(owner, '/u.x/d', file(1000, 'd'));
  t.same(catalog.du(owner, '/u', { summary: false }).items, [
    { path: '/u', bytes: 111 },
    { path: '/u/v', bytes: 110 },
    { path: '/u/v/w', bytes: 100 },
  ]);
  t.same(catalog.du(owner, '/u', { summary: true }).items, [{ path: '/u', bytes: 111 }]);
  t.same(catalog.du(owner, '/', { summary: true }).items, [{ path: '/', bytes: 1111 }]);
  t.same(catalog.du(owner, '/u/v/b', { summary: false }).items, [{ path: '/u/v/b', bytes: 10 }], 'a file is its own row');
  const first = catalog.du(owner, '/', { summary: false, limit: 2 });
  t.same(first.items.map((row) => row.path), ['/', '/u']);
  const second = catalog.du(owner, '/', { summary: false, after: first.next, limit: 2 });
  t.same(second.items.map((row) => row.path), ['/u/v', '/u/v/w']);
  const third = catalog.du(owner, '/', { summary: false, after: second.next, limit: 2 });
  t.same(third, { items: [{ path: '/u.x', bytes: 1000 }], next: undefined });
  t.equal(await codeOf(() => catalog.du(owner, '/none', { summary: true })), 'NOT_FOUND');
});

t.test('tree: a pre-order walk, even when names sort around "/"', async (t) => {
  const { catalog, owner } = await fresh(t);
  // Raw path order would put "/a-b", "/a.txt", "/a b" between "/a" and "/a/x".
  for (const directory of ['/a', '/a/x', '/a b', '/a-b', '/a/x/y', '/a0']) await catalog.mkdir(owner, directory);
  await catalog.createFile(owner, '/a.txt', file(1, 't'));
  await catalog.createFile(owner, '/a/x/y/z', file(2, 'z'));
  const walk = everything(catalog, owner).map((entry) => entry.path);
  t.same(walk, ['/', '/a', '/a/x', '/a/x/y', '/a/x/y/z', '/a b', '/a-b', '/a.txt', '/a0']);
  t.same(
    catalog.tree(owner, '/a').items.map((entry) => entry.path),
    ['/a', '/a/x', '/a/x/y', '/a/x/y/z'],
    'a subtree contains only its own entries',
  );
  const paged: string[] = [];
  let after: string | undefined;
  do {
    const page = catalog.tree(owner, '/', { after, limit: 3 });
    paged.push(...page.items.map((entry) => entry.path));
    after = page.next;
  } while (after !== undefined);
  t.same(paged, walk, 'pages join into the same walk');
});

t.test('isolation: two users with identical paths never see each other in any call', async (t) => {
  const { catalog, owner: alice } = await fresh(t);
  const bob = (await catalog.createUser('bob', null, false)).id;
  await catalog.mkdir(alice, '/shared/name', { parents: true });
  await catalog.createFile(alice, '/shared/name/secret', file(111, 'alice-blob'));
  await catalog.mkdir(bob, '/shared', { parents: true });
  await catalog.createFile(bob, '/shared/other', file(5, 'bob-blob'));
  const bobView = (): string[] => summary(everything(catalog, bob));
  const before = bobView();
  t.same(before, ['d / 5', 'd /shared 5', 'f /shared/other 5 bob-blob']);
  t.throws(() => catalog.stat(bob, '/shared/name/secret'), { code: 'NOT_FOUND' });
  t.same(catalog.list(bob, '/shared').items.map((entry) => entry.name), ['other']);
  t.same(catalog.find(bob, '/', { name: 'secret' }).items, []);
  t.same(catalog.du(bob, '/', { summary: true }).items, [{ path: '/', bytes: 5 }]);
  t.equal(await codeOf(() => catalog.remove(bob, '/shared/name', { recursive: true })), 'NOT_FOUND');
  t.equal(await codeOf(() => catalog.move(bob, '/shared/name', '/mine')), 'NOT_FOUND');
  t.equal(await codeOf(() => catalog.mkdir(bob, '/shared/name/x', { parents: true })), 'OK', "bob's own -p does not see alice's directory");
  await catalog.remove(bob, '/shared', { recursive: true });
  t.same(summary(everything(catalog, alice)), ['d / 111', 'd /shared 111', 'd /shared/name 111', 'f /shared/name/secret 111 alice-blob']);
  t.same(bobView(), ['d / 0']);
});

t.test('users: create, duplicate, bad names, passwords, and the shared user without one', async (t) => {
  const { catalog } = await fresh(t);
  const secret = { salt: Buffer.from('salt'), hash: Buffer.from('hash-bytes') };
  const admin = await catalog.createUser('admin', secret, true);
  t.match(admin, { name: 'admin', admin: true });
  t.same(catalog.getUser('admin')?.hash, secret.hash);
  t.same(catalog.getUserById(admin.id)?.salt, secret.salt);
  const shared = await catalog.createUser('shared', null, false);
  t.match(catalog.getUser('shared'), { id: shared.id, salt: null, hash: null, admin: false });
  t.match(catalog.stat(shared.id, '/'), { kind: 'dir', size: 0 }, 'every user gets a root directory');
  t.equal(await codeOf(() => catalog.createUser('admin', null, false)), 'EXISTS');
  for (const bad of ['', 'Upper', '9lives', '-dash', '.dot', 'a'.repeat(33), 'has space', 'sl/ash', 'ünï']) {
    t.equal(await codeOf(() => catalog.createUser(bad, null, false)), 'BAD_REQUEST', JSON.stringify(bad));
  }
  for (const good of ['_x', 'a.b-c_d9', 'z'.repeat(32)]) t.equal(await codeOf(() => catalog.createUser(good, null, false)), 'OK', good);
  t.equal(await codeOf(() => catalog.createUser('empty', { salt: Buffer.alloc(0), hash: Buffer.from('h') }, false)), 'BAD_REQUEST');
  const next = { salt: Buffer.from('salt2'), hash: Buffer.from('hash2') };
  await catalog.setPassword(shared.id, next);
  t.same(catalog.getUser('shared')?.hash, next.hash);
  await catalog.setPassword(shared.id, null);
  t.equal(catalog.getUser('shared')?.hash, null);
  t.equal(await codeOf(() => catalog.setPassword(12345, null)), 'NOT_FOUND');
  t.same(
    catalog.listUsers().map((user) => user.name),
    ['alice', 'admin', 'shared', '_x', 'a.b-c_d9', 'z'.repeat(32)],
  );
  t.equal(catalog.getUser('nobody'), undefined);
  t.equal(catalog.getUserById(999), undefined);
});

t.test('usage and quotas: file counts kept through every change, bytes as du counts them; both survive a restart', async (t) => {
  const { catalog, directory, owner } = await fresh(t);
  const bob = await catalog.createUser('bob', null, false);
  t.same(catalog.usage(owner), { files: 0, bytes: 0 }, 'a new user has nothing');
  await catalog.mkdir(owner, '/d/e', { parents: true });
  await catalog.createFile(owner, '/d/f1', file(100, 'u1'));
  await catalog.createFile(owner, '/d/e/f2', file(20, 'u2'));
  await catalog.createFile(owner, '/d/f1', file(7, 'u3', true));
  await catalog.createFile(bob.id, '/b', file(5, 'u4'));
  t.same(catalog.usage(owner), { files: 2, bytes: 27 }, 'an overwrite counts once, with its new size');
  await catalog.createFile(owner, '/g', file(1, 'u5'));
  await catalog.move(owner, '/g', '/d/f1');
  t.same(catalog.usage(owner), { files: 2, bytes: 21 }, 'a file moved onto another replaces it');
  await catalog.remove(owner, '/d/e', { recursive: true });
  t.same(catalog.usage(owner), { files: 1, bytes: 1 }, 'rm -r takes its files off');
  t.same(catalog.usage(bob.id), { files: 1, bytes: 5 }, 'another user\'s count is their own');
  await catalog.setQuota(owner, { bytes: 1000, files: 3 });
  t.match(catalog.getUserById(owner), { files: 1, quotaBytes: 1000, quotaFiles: 3 });
  t.equal(await codeOf(() => catalog.setQuota(owner, { bytes: -1, files: null })), 'BAD_REQUEST');
  t.equal(await codeOf(() => catalog.setQuota(9999, { bytes: 1, files: null })), 'NOT_FOUND');
  await catalog.close();
  const reopened = await Catalog.open(directory);
  t.teardown(() => reopened.close().catch(() => undefined));
  t.same(reopened.usage(owner), { files: 1, bytes: 1 }, 'replayed from the journal, the triggers agree');
  t.match(reopened.getUserById(owner), { quotaBytes: 1000, quotaFiles: 3 });
  await reopened.setQuota(owner, { bytes: null, files: null });
  t.match(reopened.getUserById(owner), { quotaBytes: null, quotaFiles: null }, 'quota none');
});

t.test('deleteUser: NOT_EMPTY while they own files; with them, every entry goes and their blobs are freed; ids are never given again', async (t) => {
  const { catalog, directory, owner } = await fresh(t);
  const carol = await catalog.createUser('carol', null, false);
  await catalog.mkdir(carol.id, '/x', { parents: true });
  t.equal(await codeOf(() => catalog.deleteUser(carol.id, false)), 'NOT_EMPTY', 'an empty directory counts as owning something');
  await catalog.createFile(carol.id, '/x/c1', file(10, 'c1'));
  await catalog.createFile(carol.id, '/c2', file(20, 'c2'));
  await catalog.addReplicas([{ blobId: 'c1', nodeId: 'n1' }]);
  await catalog.createFile(owner, '/mine', file(3, 'a1'));
  const entriesBefore = catalog.entryCount();
  const deleted = await catalog.deleteUser(carol.id, true);
  t.same([deleted.files, deleted.blobIds.sort()], [2, ['c1', 'c2']]);
  t.equal(catalog.entryCount(), entriesBefore - 4, 'her root, her directory and her two files are gone');
  t.equal(catalog.getUser('carol'), undefined);
  t.same(catalog.replicasOf('c1'), [{ nodeId: 'n1', state: 'deleting' }], 'her copies are to be deleted');
  t.same(catalog.usage(owner), { files: 1, bytes: 3 }, 'nobody else\'s files moved');
  const dave = await catalog.createUser('dave', null, false);
  t.ok(dave.id > carol.id, `a new user gets a new id (${dave.id}, not ${carol.id})`);
  const empty = await catalog.createUser('erin', null, false);
  t.same(await catalog.deleteUser(empty.id, false), { files: 0, blobIds: [] }, 'a user who owns nothing goes without -r');
  t.equal(await codeOf(() => catalog.deleteUser(empty.id, false)), 'NOT_FOUND');
  await catalog.close();
  const reopened = await Catalog.open(directory);
  t.teardown(() => reopened.close().catch(() => undefined));
  t.equal(reopened.getUser('carol'), undefined, 'still gone after a restart');
  t.ok((await reopened.createUser('frank', null, false)).id > empty.id, 'and no id is given again after one');
});

t.test('schema 2 → 3: a catalog from before quotas gets its users\' file counts from their entries', async (t) => {
  const sql = await loadSqlJs();
  const db = SqlDatabase.open(sql);
  t.teardown(() => db.close());
  // Version 2's tables, as a snapshot of that version holds them.
  db.script(`CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, salt BLOB, hash BLOB, admin INTEGER NOT NULL, created_ms INTEGER NOT NULL);
    CREATE TABLE entries (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, parent INTEGER NOT NULL, name TEXT NOT NULL, path_key TEXT NOT NULL,
      kind INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ms INTEGER NOT NULL, blob TEXT, sha256 BLOB);
    INSERT INTO meta VALUES ('schema', 2), ('generation', 1);
    INSERT INTO users VALUES (1, 'a', NULL, NULL, 0, 0), (2, 'b', NULL, NULL, 0, 0);
    INSERT INTO entries VALUES (1, 1, -1, '', '/', 0, 3, 0, NULL, NULL), (2, 1, 1, 'f', '/f', 1, 1, 0, 'x', NULL),
      (3, 1, 1, 'g', '/g', 1, 2, 0, 'y', NULL), (4, 2, -2, '', '/', 0, 0, 0, NULL, NULL), (5, 2, 4, 'd', '/d', 0, 0, 0, NULL, NULL);`);
  db.script(MIGRATE_2_TO_3);
  t.same(db.all('SELECT id, files, quota_bytes, quota_files FROM users ORDER BY id', []), [[1, 2, null, null], [2, 0, null, null]]);
  t.same(db.first(SQL.meta, ['schema']), [3]);
  db.script(`INSERT INTO entries VALUES (6, 2, 4, 'h', '/h', 1, 1, 0, 'z', NULL); DELETE FROM entries WHERE id = 2;`);
  t.same(db.all('SELECT files FROM users ORDER BY id', []), [[1], [1]], 'and the triggers keep them from then on');
});

// ---------------------------------------------------------------------------------------------
// A seeded random run against a model of the rules


interface ModelNode {
  kind: 'file' | 'dir';
  size: number;
  blobId: string | null;
}

/** The namespace rules written the plain way: a Map from path to node. */
class Model {
  readonly nodes = new Map<string, ModelNode>([['/', { kind: 'dir', size: 0, blobId: null }]]);

  private parent(path: string): string {
    const index = path.lastIndexOf('/');
    return index === 0 ? '/' : path.slice(0, index);
  }

  private within(path: string, top: string): boolean {
    return top === '/' || path === top || path.startsWith(`${top}/`);
  }

  /** The error for a missing `path`: a file component or plain absence. */
  private missing(path: string): string {
    for (let current = this.parent(path); ; current = this.parent(current)) {
      if (this.nodes.get(current)?.kind === 'file') return 'NOT_A_DIRECTORY';
      if (current === '/') return 'NOT_FOUND';
    }
  }

  private parentCode(path: string): string | undefined {
    const parent = this.nodes.get(this.parent(path));
    if (!parent) return this.missing(this.parent(path));
    return parent.kind === 'dir' ? undefined : 'NOT_A_DIRECTORY';
  }

  mkdir(path: string, parents: boolean): string {
    const existing = this.nodes.get(path);
    if (existing) return parents && existing.kind === 'dir' ? 'OK' : 'EXISTS';
    const chain: string[] = [];
    for (let current = path; !this.nodes.has(current); current = this.parent(current)) chain.unshift(current);
    const top = this.nodes.get(this.parent(chain[0] as string));
    if (top?.kind === 'file') return 'NOT_A_DIRECTORY';
    if (!parents && chain.length > 1) return this.missing(path);
    for (const directory of chain) this.nodes.set(directory, { kind: 'dir', size: 0, blobId: null });
    return 'OK';
  }

  createFile(path: string, size: number, blobId: string, overwrite: boolean): string {
    const existing = this.nodes.get(path);
    if (existing?.kind === 'dir') return 'IS_A_DIRECTORY';
    if (existing && !overwrite) return 'EXISTS';
    const code = this.parentCode(path);
    if (code) return code;
    this.nodes.set(path, { kind: 'file', size, blobId });
    return 'OK';
  }

  remove(path: string, recursive: boolean): string {
    if (path === '/') return 'BAD_REQUEST';
    const existing = this.nodes.get(path);
    if (!existing) return this.missing(path);
    const below = [...this.nodes.keys()].filter((other) => other !== path && this.within(other, path));
    if (below.length > 0 && !recursive) return 'NOT_EMPTY';
    for (const other of [path, ...below]) this.nodes.delete(other);
    return 'OK';
  }

  move(source: string, target: string): string {
    if (source === '/') return 'BAD_REQUEST';
    const moving = this.nodes.get(source);
    if (!moving) return this.missing(source);
    const destination = this.nodes.get(target)?.kind === 'dir' ? `${target === '/' ? '' : target}/${source.slice(source.lastIndexOf('/') + 1)}` : target;
    if (destination === source) return 'OK';
    if (moving.kind === 'dir' && this.within(destination, source)) return 'BAD_REQUEST';
    const code = this.parentCode(destination);
    if (code) return code;
    const replaced = this.nodes.get(destination);
    if (replaced && moving.kind === 'dir') return 'EXISTS';
    if (replaced?.kind === 'dir') return 'IS_A_DIRECTORY';
    const subtree = [...this.nodes.entries()].filter(([other]) => this.within(other, source));
    for (const [other] of subtree) this.nodes.delete(other);
    for (const [other, node] of subtree) this.nodes.set(destination + other.slice(source.length), node);
    return 'OK';
  }

  /** Like the catalog's tree: sizes of directories are the totals below them. */
  summary(): string[] {
    const paths = [...this.nodes.keys()].sort((a, b) => byteOrder(a.replaceAll('/', '\x01'), b.replaceAll('/', '\x01')));
    return paths.map((path) => {
      const node = this.nodes.get(path) as ModelNode;
      if (node.kind === 'file') return `f ${path} ${node.size} ${node.blobId}`;
      let total = 0;
      for (const [other, below] of this.nodes) if (below.kind === 'file' && this.within(other, path)) total += below.size;
      return `d ${path} ${total}`;
    });
  }
}

t.test(`random operations agree with a model of the rules (seed ${seed})`, async (t) => {
  const { catalog, owner } = await fresh(t);
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const names = ['a', 'b', 'a.b', 'a-b', 'c'];
  const randomPath = (): string => {
    const depth = 1 + Math.floor(random() * 3);
    return `/${Array.from({ length: depth }, () => pick(names)).join('/')}`;
  };
  const model = new Model();
  const disagreements: string[] = [];
  for (let step = 0; step < 600; step++) {
    const choice = random();
    const target = randomPath();
    let description: string;
    let expected: string;
    let actual: string;
    if (choice < 0.3) {
      const parents = random() < 0.5;
      description = `mkdir ${parents ? '-p ' : ''}${target}`;
      expected = model.mkdir(target, parents);
      actual = await codeOf(() => catalog.mkdir(owner, target, { parents }));
    } else if (choice < 0.6) {
      const size = Math.floor(random() * 1000);
      const overwrite = random() < 0.5;
      const blobId = `b${step}`;
      description = `createFile ${target} ${size}${overwrite ? ' overwrite' : ''}`;
      expected = model.createFile(target, size, blobId, overwrite);
      actual = await codeOf(() => catalog.createFile(owner, target, file(size, blobId, overwrite)));
    } else if (choice < 0.75) {
      const recursive = random() < 0.7;
      description = `remove ${recursive ? '-r ' : ''}${target}`;
      expected = model.remove(target, recursive);
      actual = await codeOf(() => catalog.remove(owner, target, { recursive }));
    } else {
      const source = random() < 0.05 ? '/' : randomPath();
      const destination = random() < 0.1 ? '/' : target;
      description = `move ${source} ${destination}`;
      expected = model.move(source, destination);
      actual = await codeOf(() => catalog.move(owner, source, destination));
    }
    if (expected !== actual) disagreements.push(`step ${step}: ${description}: model ${expected}, catalog ${actual}`);
    if (disagreements.length > 5) break;
  }
  t.same(disagreements, [], 'every operation had the outcome the model predicts');
  t.same(summary(everything(catalog, owner)), model.summary(), 'the final namespaces are equal');
  t.equal(catalog.entryCount(), model.nodes.size, 'entryCount counts every entry');
});

t.test('addReplica: a chain\'s copy of a live blob is good; of a removed or replaced one, deleting; both survive a restart', async (t) => {
  const { catalog, directory, owner } = await fresh(t);
  await catalog.createFile(owner, '/f', { ...file(10, 'b1'), nodeIds: ['n1'] });
  t.equal(await catalog.addReplica('b1', 'n2'), 'good', 'a file references the blob');
  t.equal(await catalog.addReplica('b1', 'n2'), 'good', 'recording it again changes nothing');
  await catalog.createFile(owner, '/f', { ...file(10, 'b2', true), nodeIds: ['n1'] });
  t.equal(await catalog.addReplica('b1', 'n3'), 'deleting', 'the file was replaced meanwhile');
  t.equal(await catalog.addReplica('nothing', 'n3'), 'deleting', 'no file ever had it');
  t.equal(await codeOf(() => catalog.addReplica('b2', 'Bad Node')), 'BAD_REQUEST', 'node ids are checked');
  await catalog.close();
  const reopened = await Catalog.open(directory);
  t.teardown(() => reopened.close().catch(() => undefined));
  t.same(reopened.replicasOf('b1'), [{ nodeId: 'n1', state: 'deleting' }, { nodeId: 'n2', state: 'deleting' }, { nodeId: 'n3', state: 'deleting' }], 'replayed from the journal');
  t.same(reopened.replicasOf('nothing'), [{ nodeId: 'n3', state: 'deleting' }]);
  const many = reopened.replicasOfBlobs(['b1', 'nothing', 'b2', 'unknown']);
  t.same([...many.keys()].sort(), ['b1', 'b2', 'nothing'], 'replicasOfBlobs: every blob with copies, in one query');
  t.same(many.get('b2'), [{ nodeId: 'n1', state: 'good' }]);
  t.same(many.get('b1'), reopened.replicasOf('b1'), 'the same as one at a time');
  t.same(reopened.replicasOfBlobs([]).size, 0);
});

t.test('addReplica decides by the file, not by other copies, and never changes a recorded copy (a late node report)', async (t) => {
  const { catalog, owner } = await fresh(t);
  // A single-copy file whose one row was forgotten (its node's listing missed it): the node reports it again.
  await catalog.createFile(owner, '/only', { ...file(10, 'solo'), nodeIds: ['n1'] });
  await catalog.forgetReplica('solo', 'n1');
  t.equal(await catalog.addReplica('solo', 'n1'), 'good', 'a copy of a blob a file has is good, with no other copy anywhere');
  await catalog.setReplica('solo', 'n2', 'bad');
  t.equal(await catalog.addReplica('solo', 'n2'), 'bad', 'a recorded copy keeps its state');
  await catalog.createFile(owner, '/gone', { ...file(10, 'gone'), nodeIds: ['n1'] });
  await catalog.remove(owner, '/gone', { recursive: false });
  t.equal(await catalog.addReplica('gone', 'n3'), 'deleting', 'a copy of a blob no file has is an orphan');
  t.equal(await catalog.addReplica('gone', 'n1'), 'deleting', 'and the removed file\'s own copy stays to be deleted');
  t.same(catalog.replicasOn('n1'), new Map([['solo', 'good'], ['gone', 'deleting']]), 'replicasOn: every copy on a node');
  t.same(catalog.replicaNodes().sort(), ['n1', 'n2', 'n3']);
  await catalog.changeReplicas([{ blobId: 'solo', nodeId: 'n2', state: null }, { blobId: 'gone', nodeId: 'n3', state: 'bad' }]);
  t.same(catalog.replicasOf('solo'), [{ nodeId: 'n1', state: 'good' }], 'changeReplicas: null forgets a copy');
  t.same(catalog.replicasOf('gone').find((replica) => replica.nodeId === 'n3'), { nodeId: 'n3', state: 'bad' }, 'and a state changes one');
  t.same(catalog.filesAfter(0, 10).map((row) => row.blobId), ['solo'], 'filesAfter: the files with a blob');
});
