// A failed upload leaves no doubt and nothing behind (issue 18), through real `build/dfs` processes. The client
// whose transfer failed asks the master (file.put.cancel): a pending upload is dropped with what its chain stored,
// a committed one is reported committed (the put succeeded after all), and nobody else's upload can be touched.
// A first node whose link to the master drops takes its pending uploads with it at once: the copies its chain made
// are deleted then, not when the tickets lapse minutes later.

import * as path from 'node:path';
import t, { type Test } from 'tap';
import { nodeLinks } from '../../src/client/transfer';
import type { Channel } from '../../src/wire/channel';
import { connectTls, MASTER_CN } from '../../src/trust/tls';
import { ADMIN_PASSWORD, startCluster, tempDir, waitFor, type TestCluster } from '../helpers/binary';
import { beginPut, codeOf, loginAt, sendFile } from '../helpers/client';
import { blobFiles, processOf } from '../helpers/cluster';
import { randomFile, sha256Of } from '../helpers/files';

const MIB = 1024 * 1024;

async function loggedIn(t: Test, cluster: TestCluster, user: string, password: string | undefined): Promise<Channel> {
  const channel = await connectTls({ address: cluster.master.address, caPem: cluster.caPem, expectCommonName: MASTER_CN });
  t.teardown(() => channel.close());
  await channel.request('auth.login', { user, ...(password !== undefined ? { password } : {}) });
  return channel;
}

t.test('file.put.cancel: a pending upload is dropped (the node then keeps nothing), a committed one is reported committed, and another user\'s upload is untouched', async (t) => {
  const cluster = await startCluster(t, 3);
  const work = await tempDir(t);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await admin.useradd('alice', 'alice-secret');
  const alice = await loggedIn(t, cluster, 'alice', 'alice-secret');
  const shared = await loggedIn(t, cluster, 'shared', undefined);
  const local = path.join(work, 'f');
  await randomFile(local, 3 * MIB);
  const sha256 = await sha256Of(local);
  const links = nodeLinks(cluster.caPem);

  // Cancelled before a byte moved: the ticket is worthless, the node stores nothing.
  const dropped = await beginPut(alice, '/dropped', 3 * MIB);
  t.same((await alice.request('file.put.cancel', { files: [{ path: '/dropped', blobId: dropped.blobId }] })).data, { committed: [false] }, 'a pending upload: not committed');
  t.equal(await codeOf(sendFile(links, local, 3 * MIB, dropped, undefined)), 'NOT_FOUND', 'the node\'s report of a cancelled upload is refused, so the put fails');
  t.equal(await codeOf(alice.request('fs.stat', { path: '/dropped' })), 'NOT_FOUND', 'no file');
  await waitFor('no copy of the cancelled upload on any disk', async () => ((await blobFiles(cluster)).length === 0 ? true : undefined));
  t.pass('no copy of the cancelled upload on any disk, no temporary file');

  // Another user names alice's upload: nothing happens to it.
  const kept = await beginPut(alice, '/kept', 3 * MIB);
  t.same((await shared.request('file.put.cancel', { files: [{ path: '/kept', blobId: kept.blobId }] })).data, { committed: [false] }, 'shared\'s cancel of alice\'s upload answers for shared\'s namespace only');
  t.same(await sendFile(links, local, 3 * MIB, kept, undefined), { size: 3 * MIB, sha256 }, 'alice\'s upload still goes through');
  t.equal((await alice.request('fs.stat', { path: '/kept' })).data.sha256, sha256, 'and is committed');
  t.equal(await codeOf(shared.request('fs.stat', { path: '/kept' })), 'NOT_FOUND', 'in alice\'s namespace only');

  // The answer was lost, not the upload: cancel says it is committed, and the file stays.
  t.same((await alice.request('file.put.cancel', { files: [{ path: '/kept', blobId: kept.blobId }] })).data, { committed: [true] }, 'a committed upload: committed');
  t.equal((await alice.request('fs.stat', { path: '/kept' })).data.sha256, sha256, 'the committed file stays');

  t.equal(await codeOf(alice.request('file.put.cancel', { files: Array.from({ length: 129 }, () => ({ path: '/x', blobId: kept.blobId })) })), 'BAD_REQUEST', 'at most a batch of uploads per cancel');
  const anonymous = await connectTls({ address: cluster.master.address, caPem: cluster.caPem, expectCommonName: MASTER_CN });
  t.teardown(() => anonymous.close());
  t.equal(await codeOf(anonymous.request('file.put.cancel', { files: [{ path: '/kept', blobId: kept.blobId }] })), 'UNAUTHENTICATED', 'a connection that did not log in is refused');
});

t.test('a first node whose link drops takes its pending uploads with it: their bookings are free at once, not when the tickets lapse', async (t) => {
  // 40M nodes: a pending 32 MiB upload books 32M on its first node and on each chain member, so a second one has
  // no room anywhere until the first's bookings go.
  const cluster = await startCluster(t, 0);
  for (const name of ['node1', 'node2', 'node3']) cluster.nodes.push(await cluster.startNode(name, ['--capacity', '40M']));
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const channel = await cluster.client();
  await waitFor('three linked nodes', async () => ((await channel.request('cluster.nodes', {})).data.nodes.filter((node) => node.connected).length === 3 ? true : undefined));
  const size = 32 * MIB;
  const pending = await beginPut(channel, '/pending', size);
  t.equal(await codeOf(beginPut(channel, '/second', size)), 'NO_SPACE', 'while the first upload is booked, a second has no room');
  const first = await processOf(cluster, admin, pending.nodeId);
  first.child.kill('SIGKILL');
  await first.exited;
  const second = await waitFor('room for the second upload', async () => {
    const begun = await beginPut(channel, '/second', size).catch(() => undefined);
    return begun;
  }, 5_000);
  t.ok(second, 'within seconds of the first node\'s link dropping, its upload\'s bookings are gone and the second upload is booked');
  t.match(cluster.master.output().stderr, /link lost with 1 upload\(s\) in progress; abandoned/, 'the master says why');
  const work = await tempDir(t);
  const local = path.join(work, 'second');
  await randomFile(local, size);
  t.same(await sendFile(nodeLinks(cluster.caPem), local, size, second, undefined), { size, sha256: await sha256Of(local) }, 'and it goes through');
});
