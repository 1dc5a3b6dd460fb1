// The master's book of replication chains: settling, breaking, waiting, bounded lifetimes.

import t from 'tap';
import { systemClock } from '../../src/clock';
import { COMMITTED_CHAIN_REPORTS_MS } from '../../src/limits';
import { Chains, isSettled, type Chain } from '../../src/master/core/replication';

const BLOB = 'ab'.repeat(16);

function begin(chains: Chains, members: string[], forgetMs = 1_000): Chain {
  return chains.begin({ blobId: BLOB, userId: 1, size: 10, first: 'n1', members, forgetMs }, 0);
}

t.test('a chain settles when every member reported or was lost; a break loses the members from there on', async (t) => {
  const chains = new Chains(() => t.fail('nothing is abandoned'));
  const chain = begin(chains, ['n2', 'n3', 'n4']);
  t.notOk(isSettled(chain));
  chain.stored.set('n3', 'sha');
  chains.breakAt(chain, 'n2');
  t.same([...chain.lost].sort(), ['n2', 'n4'], 'n3 already reported: it keeps its copy');
  t.ok(isSettled(chain));
  t.throws(() => chains.breakAt(chain, 'n9'), 'a node outside the chain is refused');
  t.ok(isSettled(chains.begin({ blobId: 'cd'.repeat(16), userId: 1, size: 0, first: 'n1', members: [], forgetMs: 1 }, 0)), 'an empty chain is settled');
  t.equal(chains.reservedOn('n4'), 0, 'a lost member holds no space');
});

t.test('waiters hear of the finish, or give up after their timeout; a finished chain is forgotten', async (t) => {
  const chains = new Chains(() => undefined);
  const chain = begin(chains, ['n2']);
  t.equal(chains.reservedOn('n2'), 10, 'a running member has the blob\'s size reserved');
  t.equal(chains.reservedOn('n2', new Set([BLOB])), 0, 'unless the node\'s own free space counts the blob already (it is receiving it)');
  const waited = chains.waitFor(chain, 60_000);
  chains.finish(chain);
  await waited;
  t.equal(chains.get(BLOB, 0), undefined, 'forgotten');
  const returned = await Promise.race([chains.waitFor(chain, 60_000).then(() => 'returned'), new Promise((resolve) => setImmediate(() => resolve('still waiting')))]);
  t.equal(returned, 'returned', 'waiting on a finished chain returns at once (before the next turn of the event loop)');
  const again = begin(chains, ['n2']);
  const started = Date.now();
  await chains.waitFor(again, 50);
  t.ok(Date.now() - started >= 40, 'a timed-out wait returns');
  t.equal(chains.get(BLOB, 0), again, 'and the chain runs on');
  t.throws(() => begin(chains, ['n3']), 'one chain per blob');
});

t.test('past its deadline a chain is forgotten; one whose file never committed hands its copies over as orphans', async (t) => {
  const abandoned: string[] = [];
  const chains = new Chains((chain) => abandoned.push(chain.blobId));
  const chain = begin(chains, ['n2'], 100);
  chain.stored.set('n2', 'sha');
  t.equal(chains.get(BLOB, 99), chain, 'alive before its deadline');
  t.equal(chains.get(BLOB, 100), undefined, 'forgotten at it');
  t.same(abandoned, [BLOB], 'its copy is an orphan');
  const committed = begin(chains, ['n2'], 100);
  committed.committedSha256 = 'sha';
  committed.stored.set('n2', 'sha');
  chains.get(BLOB, 200);
  t.same(abandoned, [BLOB], 'a committed chain\'s copies are the file\'s, not orphans');
});

t.test('once its file is committed, a chain waits COMMITTED_CHAIN_REPORTS_MS for its members, then hands the file\'s missing copies to the repairer', async (t) => {
  const lapsed: string[] = [];
  const chains = new Chains(() => t.fail('a committed chain is not abandoned'), systemClock, (chain) => lapsed.push(chain.blobId));
  const chain = begin(chains, ['n2', 'n3'], 5 * 60_000);
  chains.committed(chain, 'sha', 1_000);
  t.equal(chain.committedSha256, 'sha');
  t.equal(chains.get(BLOB, 1_000 + COMMITTED_CHAIN_REPORTS_MS - 1), chain, 'waiting for its members');
  chains.hold(BLOB, 'n3', 1_000 + COMMITTED_CHAIN_REPORTS_MS + 5_000);
  t.equal(chains.get(BLOB, 1_000 + COMMITTED_CHAIN_REPORTS_MS), chain, 'held while a member says bytes still flow');
  t.equal(chains.get(BLOB, 1_000 + COMMITTED_CHAIN_REPORTS_MS + 5_000), undefined, 'then forgotten, long before the ticket lifetime');
  t.same(lapsed, [BLOB], 'its members never reported: the repairer hears of it');
  const settled = begin(chains, ['n2'], 5 * 60_000);
  chains.committed(settled, 'sha', 0);
  chains.breakAt(settled, 'n2');
  chains.get(BLOB, COMMITTED_CHAIN_REPORTS_MS);
  t.same(lapsed, [BLOB], 'a chain whose every member reported or was lost is not a lapse');
});
