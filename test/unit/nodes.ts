// The master's node registry: a blob reported stored counts against the node's free space at once, unless a
// heartbeat arrived after the report (the node sent it after storing the blob: its figures count it already).

import t from 'tap';
import { NodeRegistry } from '../../src/master/core/nodes';
import type { Link } from '../../src/wire/channel';

const MIB = 1024 * 1024;
const link: Link = { peer: { kind: 'node', nodeId: 'n1' }, remoteHost: '10.0.0.1', closed: false, trusted: undefined, trust: () => undefined, request: () => Promise.reject(new Error('unused')), close: () => undefined };
const space = (usedBytes: number) => ({ capacityBytes: 10 * MIB, usedBytes, freeBytes: 10 * MIB - usedBytes, blobs: usedBytes / MIB, activeTransfers: 0 });

t.test('a stored blob counts at once; a heartbeat between the report and the commit is not counted twice', async (t) => {
  const nodes = new NodeRegistry(30_000);
  nodes.register('n1', '10.0.0.1:7001', space(0), link, 0);
  const first = nodes.beatOf('n1');
  nodes.stored('n1', 'blob-1', MIB, first);
  t.equal(nodes.get('n1')?.freeBytes, 9 * MIB, 'no heartbeat since the report: counted now');

  nodes.heartbeat('n1', space(MIB), link, 1_000);
  const arrived = nodes.beatOf('n1');
  nodes.heartbeat('n1', space(2 * MIB), link, 2_000); // sent after the node stored the second blob
  nodes.stored('n1', 'blob-2', MIB, arrived); // the commit of that blob ends now
  t.equal(nodes.get('n1')?.freeBytes, 8 * MIB, 'the heartbeat counted it already: not counted twice');
  t.equal(nodes.get('n1')?.usedBytes, 2 * MIB);

  nodes.register('n1', '10.0.0.1:7001', space(2 * MIB), link, 3_000);
  nodes.stored('n1', 'blob-2', MIB, arrived);
  t.equal(nodes.get('n1')?.freeBytes, 8 * MIB, 'nor after a registration, whose figures are fresh');
  nodes.stored('n9', 'blob-9', MIB, undefined);
  t.equal(nodes.get('n9'), undefined, 'an unknown node is ignored');
});

t.test('the blobs a heartbeat says the node is receiving are kept: its free space counts them, bookings for them do not count again', async (t) => {
  const nodes = new NodeRegistry(30_000);
  nodes.register('n1', '10.0.0.1:7001', space(0), link, 0);
  t.same([...(nodes.get('n1')?.receiving ?? [])], [], 'none at registration');
  nodes.heartbeat('n1', { ...space(MIB), receiving: ['a', 'b'] }, link, 1_000);
  t.same([...(nodes.get('n1')?.receiving ?? [])], ['a', 'b']);
  nodes.heartbeat('n1', space(MIB), link, 2_000);
  t.same([...(nodes.get('n1')?.receiving ?? [])], [], 'a heartbeat without the list: none');
});

t.test('a blob stored after a heartbeat that named it as being received is not subtracted again: that heartbeat counted its space', async (t) => {
  const nodes = new NodeRegistry(30_000);
  nodes.register('n1', '10.0.0.1:7001', space(0), link, 0);
  // Sent while the blob arrived: the node's free space already holds its space back.
  nodes.heartbeat('n1', { ...space(0), freeBytes: 9 * MIB, receiving: ['blob-a'] }, link, 1_000);
  const beat = nodes.beatOf('n1');
  nodes.stored('n1', 'blob-a', MIB, beat);
  t.equal(nodes.get('n1')?.freeBytes, 9 * MIB, 'not counted twice');
  t.equal(nodes.get('n1')?.usedBytes, MIB, 'but it is used');
  nodes.stored('n1', 'blob-b', MIB, beat);
  t.equal(nodes.get('n1')?.freeBytes, 8 * MIB, 'a blob the heartbeat did not name is counted at once');
});
