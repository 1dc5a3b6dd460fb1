// The master's book of copies a reader blamed (file.get.bad), called directly with a virtual time: a copy is asked
// about once per period however often it is blamed, each copy on its own, and the book never grows past its bound.

import t from 'tap';
import { SuspectCopies } from '../../src/master/core/suspects';

const BLOB = 'a'.repeat(32);
const OTHER = 'b'.repeat(32);

t.test('a copy is admitted once per period; other copies and other nodes each on their own', async (t) => {
  const book = new SuspectCopies(60_000, 100);
  t.ok(book.admit(BLOB, 'n1', 0), 'the first blame asks the node');
  t.notOk(book.admit(BLOB, 'n1', 1), 'blamed again at once: not asked again');
  t.notOk(book.admit(BLOB, 'n1', 59_999), 'nor before the period is over');
  t.ok(book.admit(BLOB, 'n2', 1), 'the same blob on another node is another copy');
  t.ok(book.admit(OTHER, 'n1', 2), 'another blob on the same node too');
  t.ok(book.admit(BLOB, 'n1', 60_000), 'once the period is over it is asked again');
  t.notOk(book.admit(BLOB, 'n1', 60_001), 'and then booked for another period');
});

t.test('full, the book drops new blame until old entries expire, and forgets the expired ones', async (t) => {
  const book = new SuspectCopies(1_000, 3);
  for (const node of ['n1', 'n2', 'n3']) t.ok(book.admit(BLOB, node, 0));
  t.notOk(book.admit(BLOB, 'n4', 500), 'full: a fourth copy is not asked about');
  t.equal(book.size, 3, 'and not booked');
  t.ok(book.admit(BLOB, 'n4', 1_000), 'once the first ones expired there is room');
  t.equal(book.size, 1, 'the expired ones are gone');
  t.notOk(book.admit(BLOB, 'n4', 1_500), 'the new one is booked');
});

t.test('a blaming reader cannot grow the book: a million blames of a few copies keep it at their number', async (t) => {
  const book = new SuspectCopies(10 * 60_000, 10_000);
  let asked = 0;
  for (let i = 0; i < 1_000_000; i++) if (book.admit(BLOB, `n${i % 3}`, i)) asked++;
  t.equal(asked, 6, 'each of 3 copies asked about twice in 1,000 s of 10-minute periods');
  t.equal(book.size, 3);
});
