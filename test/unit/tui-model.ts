// The explorer's pure parts: the three sort orders, ncdu's share bars, the header naming the sort, rows that fit
// 80 columns with the mark column and the size view, and the text preview (binary refused, tabs expanded).

import t from 'tap';
import type { Entry } from '../../src/client/api';
import { previewLines } from '../../src/tui/actions';
import { entryColumns, entryHeader, nextSort, shareText, sortEntries } from '../../src/tui/model';

const entry = (name: string, kind: 'file' | 'dir', size: number, mtimeMs: number): Entry => ({
  path: `/${name}`, name, kind, size, mtimeMs, sha256: null, replicas: kind === 'file' ? { have: 3, want: 3, nodes: [] } : null,
});

t.test('sort: name puts directories first; size and time go biggest and newest first, ties by name', async (t) => {
  const entries = [entry('b.txt', 'file', 10, 3), entry('z', 'dir', 500, 1), entry('a.txt', 'file', 900, 2), entry('c.txt', 'file', 10, 9)];
  const names = (order: 'name' | 'size' | 'time'): string[] => sortEntries(entries, order).map((item) => item.name);
  t.same(names('name'), ['z', 'a.txt', 'b.txt', 'c.txt']);
  t.same(names('size'), ['a.txt', 'z', 'b.txt', 'c.txt']);
  t.same(names('time'), ['c.txt', 'b.txt', 'a.txt', 'z']);
  t.same([nextSort('name'), nextSort('size'), nextSort('time')], ['size', 'time', 'name'], 's cycles');
});

t.test('size view: a bar of ten and the share with one decimal; an empty directory shares nothing', async (t) => {
  t.equal(shareText(50, 100), '[#####     ]  50.0%');
  t.equal(shareText(1, 3), '[###       ]  33.3%');
  t.equal(shareText(100, 100), '[##########] 100.0%');
  t.equal(shareText(0, 0), '[          ]   0.0%');
});

t.test('header and columns: the sorted column is marked; every row fits the width, the time dropped first', async (t) => {
  t.match(entryHeader(60, 'size'), /^ {2}Name +Size▼ +Repl Modified/);
  t.match(entryHeader(60, 'name'), /^ {2}Name▲/);
  t.match(entryHeader(80, 'size', true), /^ {2}Share +Name/);
  // The files pane of an 80-column screen is 54 wide.
  for (const width of [40, 54, 80]) t.ok(entryHeader(width, 'name').length <= width, `header fits ${width}`);
  for (const width of [54, 80]) t.ok(entryHeader(width, 'name', true).length <= width, `size view header fits ${width}`);
  t.equal(entryColumns(40, true).time, false, 'narrow: no time column');
});

t.test('preview: text lines fitted to the width, tabs as spaces; a NUL byte means not text', async (t) => {
  t.same(previewLines(Buffer.from('a\tb\r\nsecond line that is long\n'), 10, 5), ['a    b', 'second li…']);
  t.same(previewLines(Buffer.from('1\n2\n3\n'), 10, 2), ['1', '2'], 'at most the rows that fit');
  t.equal(previewLines(Buffer.from([0x41, 0, 0x42]), 10, 5), undefined);
});
