// Placement decisions as pure functions: which node takes a new blob, which serve a read, in what order.

import t from 'tap';
import { availableBytes, chooseWriteNode, rankReadNodes, type Candidate } from '../../src/roles/master/placement';

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
