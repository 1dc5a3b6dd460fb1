// Placement decisions as pure functions: which node takes a new blob, which serve a read, in what order.

import t from 'tap';
import { availableBytes, chooseChain, chooseRepairTargets, chooseWriteNode, rankReadNodes, type Candidate } from '../../src/master/core/placement';

function node(nodeId: string, fields: Partial<Candidate> = {}): Candidate {
  return { nodeId, alive: true, connected: true, freeBytes: 1000, reservedBytes: 0, activeTransfers: 0, ...fields };
}

t.test('write: the node with the most available storage that fits', async (t) => {
  const nodes = [node('a', { freeBytes: 500 }), node('b', { freeBytes: 900 }), node('c', { freeBytes: 700 })];
  t.equal(chooseWriteNode(nodes, 100)?.nodeId, 'b');
  t.equal(chooseWriteNode(nodes, 900)?.nodeId, 'b', 'exactly full fits');
  t.equal(chooseWriteNode(nodes, 901), undefined, 'nothing fits');
  t.equal(chooseWriteNode([], 0), undefined, 'no nodes');
});

t.test('write: uploads in flight count against a node; dead or unlinked nodes are never chosen', async (t) => {
  const nodes = [node('a', { freeBytes: 900, reservedBytes: 600 }), node('b', { freeBytes: 500 }), node('c', { freeBytes: 5000, alive: false }), node('d', { freeBytes: 5000, connected: false })];
  t.equal(availableBytes(nodes[0] as Candidate), 300);
  t.equal(chooseWriteNode(nodes, 100)?.nodeId, 'b');
  t.equal(availableBytes(node('x', { freeBytes: 10, reservedBytes: 50 })), 0, 'never negative');
});

t.test('write: ties go to the fewest transfers, then the node id', async (t) => {
  t.equal(chooseWriteNode([node('b', { activeTransfers: 2 }), node('a', { activeTransfers: 3 }), node('c', { activeTransfers: 2 })], 1)?.nodeId, 'b');
  t.equal(chooseWriteNode([node('c'), node('a'), node('b')], 1)?.nodeId, 'a', 'same choice whatever the order');
});

t.test('read: holders only, usable only, least loaded first', async (t) => {
  const nodes = [
    node('a', { activeTransfers: 3 }),
    node('b', { activeTransfers: 1 }),
    node('c', { activeTransfers: 0, alive: false }),
    node('d', { activeTransfers: 0 }),
    node('e', { activeTransfers: 1, freeBytes: 5000 }),
  ];
  t.same(rankReadNodes(nodes, new Set(['a', 'b', 'c', 'e'])).map((n) => n.nodeId), ['e', 'b', 'a']);
  t.same(rankReadNodes(nodes, new Set()), [], 'nobody holds it');
});

t.test('chain: N−1 more nodes by available storage, never the first node, never a node twice', async (t) => {
  const nodes = [node('a', { freeBytes: 5000 }), node('b', { freeBytes: 900 }), node('c', { freeBytes: 3000 }), node('d', { freeBytes: 2000 }), node('b', { freeBytes: 900 })];
  t.same(chooseChain(nodes, 'a', 3, 100).map((n) => n.nodeId), ['c', 'd'], 'the two roomiest after the first');
  t.same(chooseChain(nodes, 'c', 3, 100).map((n) => n.nodeId), ['a', 'd']);
  t.same(chooseChain(nodes, 'a', 16, 100).map((n) => n.nodeId), ['c', 'd', 'b'], 'fewer nodes than N: as many as exist, each once');
  t.same(chooseChain(nodes, 'a', 1, 100), [], 'replication 1: no chain');
  t.same(chooseChain([node('a')], 'a', 3, 1), [], 'a lone node: no chain');
  t.throws(() => chooseChain(nodes, 'a', 0, 1), 'a factor below 1 is a bug');
});

t.test('chain: only alive, linked nodes with room (in-flight uploads counted); ties by transfers then id', async (t) => {
  const nodes = [
    node('first'),
    node('dead', { freeBytes: 9000, alive: false }),
    node('away', { freeBytes: 9000, connected: false }),
    node('small', { freeBytes: 99 }),
    node('busy', { freeBytes: 9000, reservedBytes: 8950 }),
    node('y', { activeTransfers: 2 }),
    node('x', { activeTransfers: 2 }),
    node('z', { activeTransfers: 1 }),
  ];
  t.same(chooseChain(nodes, 'first', 4, 100).map((n) => n.nodeId), ['z', 'x', 'y']);
  t.same(chooseChain(nodes.slice(0, 5), 'first', 3, 0).map((n) => n.nodeId), ['small', 'busy'], 'an empty blob fits on any live node; most room first');
  t.same(chooseChain(nodes, 'first', 3, 5000), [], 'nobody has room');
});

t.test('repair: the missing count from nodes that do not hold the blob, by available storage', async (t) => {
  const nodes = [node('a', { freeBytes: 5000 }), node('b', { freeBytes: 4000 }), node('c', { freeBytes: 3000 }), node('d', { freeBytes: 2000, alive: false }), node('e', { freeBytes: 100 })];
  t.same(chooseRepairTargets(nodes, new Set(['a']), 2, 500).map((n) => n.nodeId), ['b', 'c']);
  t.same(chooseRepairTargets(nodes, new Set(['a', 'b']), 2, 500).map((n) => n.nodeId), ['c'], 'only as many as can take it');
  t.same(chooseRepairTargets(nodes, new Set(['a']), 0, 1), [], 'nothing missing');
  t.same(chooseRepairTargets(nodes, new Set(['a', 'b', 'c']), 1, 500), [], 'the dead and the full are never targets');
});

t.test('a node closed to writes (stopping, read-only, drained) takes no new blob (first node, chain, repair) but still serves reads', async (t) => {
  const nodes = [node('a', { freeBytes: 900, closedToWrites: true }), node('b', { freeBytes: 500 }), node('c', { freeBytes: 400 })];
  t.equal(chooseWriteNode(nodes, 100)?.nodeId, 'b', 'the roomiest node that is not leaving');
  t.same(chooseChain(nodes, 'b', 3, 100).map((candidate) => candidate.nodeId), ['c'], 'not in a chain');
  t.same(chooseRepairTargets(nodes, new Set(['c']), 2, 100).map((candidate) => candidate.nodeId), ['b'], 'not a repair target');
  t.same(rankReadNodes(nodes, new Set(['a'])).map((candidate) => candidate.nodeId), ['a'], 'its copies are still read');
});
