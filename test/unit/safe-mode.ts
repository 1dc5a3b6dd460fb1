// Safe mode after a master's start, called directly with a virtual time: it lasts while a node holding copies has not
// reported and the limit has not passed, ends once, says who was late, and never begins without awaited nodes.

import t from 'tap';
import { SafeMode } from '../../src/master/core/safe-mode';

t.test('active until every awaited node has reported; then it ends once, with nobody late', async (t) => {
  const safe = new SafeMode(['n1', 'n2'], 1_000, 60_000);
  t.ok(safe.active(1_000));
  t.equal(safe.end(2_000), undefined, 'no end while it lasts');
  safe.reported('n1');
  t.ok(safe.active(3_000), 'n2 still awaited');
  t.equal(safe.waitingFor, 1);
  safe.reported('n2');
  t.notOk(safe.active(4_000));
  t.same(safe.end(4_000), { afterMs: 3_000, late: [] });
  t.equal(safe.end(5_000), undefined, 'said once');
  safe.reported('n9');
  t.notOk(safe.active(5_000), 'a report from a node it never awaited changes nothing');
});

t.test('the limit ends it with the silent nodes named, and a late report does not bring it back', async (t) => {
  const safe = new SafeMode(['b', 'a', 'c'], 0, 30_000);
  safe.reported('c');
  t.ok(safe.active(29_999));
  t.notOk(safe.active(30_000), 'the limit is exclusive');
  t.same(safe.end(30_500), { afterMs: 30_500, late: ['a', 'b'] }, 'sorted');
  safe.reported('a');
  t.notOk(safe.active(31_000));
  t.equal(safe.end(31_000), undefined);
});

t.test('with no node holding copies (a new cluster) or no time allowed, it never begins and never ends', async (t) => {
  for (const safe of [new SafeMode([], 0, 60_000), new SafeMode(['n1'], 0, 0)]) {
    t.notOk(safe.active(0));
    t.equal(safe.end(1), undefined, 'nothing to say: it never began');
  }
});
