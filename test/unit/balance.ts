// The balancer's choice of pairs, called directly: over-used nodes give to under-used ones, never past the mean;
// nodes near the mean are left alone; an empty node among full ones takes from each.

import t from 'tap';
import { balanced, balancePairs, meanUse, type BalanceNode } from '../../src/master/core/balance';

const node = (nodeId: string, usedBytes: number, capacityBytes = 100): BalanceNode => ({ nodeId, usedBytes, capacityBytes });

t.test('an empty node among three at 60%: each gives it 15 of its 60, to the mean of 45%', async (t) => {
  const nodes = [node('a', 60), node('b', 60), node('c', 60), node('d', 0)];
  t.equal(meanUse(nodes), 0.45);
  t.notOk(balanced(nodes, 0.1));
  t.same(balancePairs(nodes, 0.1), [
    { from: 'a', to: 'd', bytes: 15 },
    { from: 'b', to: 'd', bytes: 15 },
    { from: 'c', to: 'd', bytes: 15 },
  ]);
});

t.test('within the threshold nothing moves; one node beyond it is enough to move', async (t) => {
  t.same(balancePairs([node('a', 50), node('b', 45), node('c', 40)], 0.1), [], 'all within 10 points of 45%');
  t.ok(balanced([node('a', 50), node('b', 45), node('c', 40)], 0.1));
  const pairs = balancePairs([node('a', 52), node('b', 52), node('c', 26)], 0.1);
  t.same(pairs, [{ from: 'a', to: 'c', bytes: 8 }, { from: 'b', to: 'c', bytes: 8 }], 'c is 17 points under: a and b, 9 over, give to it');
});

t.test('capacities differ: fractions count, not bytes; an empty cluster or one node has nothing to do', async (t) => {
  const pairs = balancePairs([node('big', 500, 1000), node('small', 0, 100)], 0.1);
  t.same(pairs, [{ from: 'big', to: 'small', bytes: 45 }], 'the mean is 500/1100; small takes 45 of its 100');
  t.same(balancePairs([], 0.1), []);
  t.same(balancePairs([node('only', 90)], 0.1), []);
  t.ok(balanced([node('zero', 0, 0)], 0.1), 'no capacity: nothing to balance');
});
