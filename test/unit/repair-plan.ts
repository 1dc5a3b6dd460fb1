// The repairer's decision about one file, called directly: copies when too few live good copies exist and a
// node can take one; never onto a node with any record of the blob; damaged copies deleted once a trusted good
// one exists; surplus trimmed only when every live holder is trusted, fullest first.

import t from 'tap';
import type { Replica } from '../../src/master/catalog/catalog';
import type { Candidate } from '../../src/master/core/placement';
import { planFile, type RepairView } from '../../src/master/core/repair-plan';

const MIB = 1024 * 1024;
const FILE = { blobId: 'ab'.repeat(16), size: MIB };

function node(nodeId: string, freeBytes = 100 * MIB, alive = true): Candidate {
  return { nodeId, alive, connected: alive, freeBytes, reservedBytes: 0, activeTransfers: 0 };
}

function copies(states: Record<string, Replica['state']>): Replica[] {
  return Object.entries(states).map(([nodeId, state]) => ({ blobId: FILE.blobId, nodeId, state }));
}

function view(nodes: Candidate[], trusted = nodes.filter((candidate) => candidate.alive).map((candidate) => candidate.nodeId), want = 3): RepairView {
  return { want, nodes, live: new Set(nodes.filter((candidate) => candidate.alive).map((candidate) => candidate.nodeId)), trusted: new Set(trusted) };
}

t.test('a file with its copies is left alone', async (t) => {
  const plan = planFile(FILE, copies({ n1: 'good', n2: 'good', n3: 'good' }), view([node('n1'), node('n2'), node('n3'), node('n4')]));
  t.same(plan, { verdict: { kind: 'ok' }, delete: [] });
});

t.test('too few live copies: copied from the live ones, never onto a node with a record of the blob', async (t) => {
  const nodes = [node('n1'), node('n2'), node('n3', 100 * MIB, false), node('n4'), node('n5')];
  const plan = planFile(FILE, copies({ n1: 'good', n3: 'good', n4: 'deleting' }), view(nodes));
  t.equal(plan.verdict.kind, 'copy');
  if (plan.verdict.kind !== 'copy') return;
  t.same(plan.verdict.liveGood, ['n1'], 'the dead node\'s copy does not count');
  t.same([...plan.verdict.recorded].sort(), ['n1', 'n3', 'n4'], 'n3 and n4 (being deleted) are not targets');
});

t.test('no live copy, or nowhere to put one: stuck until the nodes change', async (t) => {
  t.same(planFile(FILE, copies({ n1: 'good' }), view([node('n1', 0, false), node('n2'), node('n3')])).verdict, { kind: 'stuck', liveGood: 0 }, 'no live copy to copy from');
  t.same(planFile(FILE, copies({ n1: 'good', n2: 'good' }), view([node('n1'), node('n2'), node('n3', MIB / 2)])).verdict, { kind: 'stuck', liveGood: 2 }, 'the only other node has no room');
});

t.test('a damaged copy is deleted once a trusted good copy exists, and the file is copied again', async (t) => {
  const nodes = [node('n1'), node('n2'), node('n3'), node('n4')];
  const plan = planFile(FILE, copies({ n1: 'good', n2: 'good', n3: 'bad' }), view(nodes));
  t.same(plan.delete, ['n3']);
  t.equal(plan.verdict.kind, 'copy', 'still one copy short');
  const untrusted = planFile(FILE, copies({ n1: 'good', n2: 'bad' }), view(nodes, []));
  t.same(untrusted.delete, [], 'no trusted good copy: the damaged one stays for now');
});

t.test('surplus copies go from the nodes with the least room, only when every live holder has reported', async (t) => {
  const nodes = [node('n1', 50 * MIB), node('n2', 10 * MIB), node('n3', 90 * MIB), node('n4', 20 * MIB)];
  const four = copies({ n1: 'good', n2: 'good', n3: 'good', n4: 'good' });
  t.same(planFile(FILE, four, view(nodes)).delete, ['n2'], 'the fullest node\'s copy goes');
  t.same(planFile(FILE, four, view(nodes, ['n1', 'n2', 'n3'])).delete, [], 'n4 has not reported: nothing is trimmed');
  t.same(planFile(FILE, four, view(nodes, undefined, 2)).delete, ['n2', 'n4'], 'with a factor of 2, two go');
});

t.test('draining: a copy there is copied from but does not count, is never surplus, and justifies no deletion', async (t) => {
  const nodes = [{ ...node('n1'), closedToWrites: true }, node('n2'), node('n3'), node('n4')];
  const draining = { ...view(nodes), draining: new Set(['n1']) };
  const plan = planFile(FILE, copies({ n1: 'good', n2: 'good', n3: 'good' }), draining);
  t.same(plan.verdict, { kind: 'copy', liveGood: ['n1', 'n2', 'n3'], recorded: new Set(['n1', 'n2', 'n3']), missing: 1 }, 'one more copy, which n1 may be read for');
  t.same(planFile(FILE, copies({ n1: 'good', n2: 'good', n3: 'good', n4: 'good' }), draining), { verdict: { kind: 'ok' }, delete: [] }, 'with 3 elsewhere, the draining copy stays: it is not surplus');
  t.same(planFile(FILE, copies({ n1: 'good' }), { ...draining, nodes: [nodes[0] ?? node('n1')] }).verdict, { kind: 'stuck', liveGood: 1 }, 'only on the draining node and nowhere to go: readable, not missing');
  const damaged = planFile(FILE, copies({ n1: 'good', n2: 'bad' }), { ...draining, want: 1 });
  t.same(damaged.delete, [], 'a draining copy alone does not make a damaged one deletable');
});
