// The data plane against hostile peers, through real processes: `shared` cannot book
// the cluster full; a node that joined with the token cannot mint tickets for another node; a client cannot make
// a node forward a blob anywhere but to the chain the master signed; a reader cannot have good copies marked bad
// or make the nodes re-hash them more than once in a while.

import { createServer } from 'node:net';
import * as path from 'node:path';
import t from 'tap';
import { connectNode, nodeLinks } from '../../src/client/transfer';
import { TICKET_TTL_MS_DEFAULT, UPLOADS_PENDING_PER_SESSION_MAX } from '../../src/limits';
import { silentLog } from '../../src/log';
import { parseHostPort } from '../../src/wire/address';
import { NO_CHAIN, signTicket } from '../../src/trust/ticket';
import { connectTls, MASTER_CN } from '../../src/trust/tls';
import { joinCluster } from '../../src/node/identity';
import { ADMIN_PASSWORD, startCluster, tempDir, waitFor } from '../helpers/binary';
import { beginPut, codeOf, sendFile } from '../helpers/client';
import { connectFrom } from '../helpers/hostile';
import { randomFile, sha256Of } from '../helpers/files';
import { promises as fs } from 'node:fs';

const MIB = 1024 * 1024;

t.test('shared books at most half the free space; another user can still put; a session has at most its share of uploads in progress', async (t) => {
  const cluster = await startCluster(t, 0);
  for (const name of ['node1', 'node2', 'node3']) cluster.nodes.push(await cluster.startNode(name, ['--capacity', '100M']));
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  await waitFor('three linked nodes', async () => ((await admin.request('cluster.nodes', {})).data.nodes.filter((node) => node.connected).length === 3 ? true : undefined));
  await admin.request('auth.useradd', { user: 'alice', password: 'alice-password' });
  const shared = await connectFrom(t, cluster.master.address, cluster.caPem);
  await shared.request('auth.login', { user: 'shared' });
  // 11 bookings of 20 MiB with no byte sent would hold 220 MiB of every node: all of it.
  const bookings = [];
  for (let index = 0; index < 11; index++) bookings.push(await codeOf(beginPut(shared, `/hog${index}`, 20 * MIB)));
  t.comment(`11 bookings of 20 MiB as shared: ${bookings.join(' ')}`);
  t.ok(bookings.filter((code) => code === 'OK').length <= 3, 'shared got at most half of the free space');
  t.ok(bookings.slice(3).every((code) => code === 'NO_SPACE'), 'the rest were refused as NO_SPACE');
  const alice = await connectFrom(t, cluster.master.address, cluster.caPem);
  await alice.request('auth.login', { user: 'alice', password: 'alice-password' });
  const work = await tempDir(t);
  const local = path.join(work, 'f');
  await randomFile(local, 20 * MIB);
  const begin = await beginPut(alice, '/f', 20 * MIB);
  t.same(await sendFile(nodeLinks(cluster.caPem), local, 20 * MIB, begin, undefined), { size: 20 * MIB, sha256: await sha256Of(local) }, 'alice puts 20 MiB meanwhile');

  const tiny = Array.from({ length: UPLOADS_PENDING_PER_SESSION_MAX + 1 }, (_, index) => codeOf(beginPut(alice, `/tiny${index}`, 1)));
  const codes = await Promise.all(tiny);
  t.equal(codes.filter((code) => code === 'OK').length, UPLOADS_PENDING_PER_SESSION_MAX, `${UPLOADS_PENDING_PER_SESSION_MAX} uploads in progress in one session`);
  t.equal(codes[codes.length - 1], 'RATE_LIMITED', 'one more is refused');
});

t.test('a node that joined with the token cannot mint a ticket another node accepts', async (t) => {
  const cluster = await startCluster(t, 1);
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  const work = await tempDir(t);
  const local = path.join(work, 'secret');
  await randomFile(local, MIB);
  const begin = await beginPut(admin, '/secret', MIB);
  await sendFile(nodeLinks(cluster.caPem), local, MIB, begin, undefined);

  // A rogue machine joins like any node and registers: the master hands it a ticket key.
  const rogueDir = await tempDir(t);
  const identity = await joinCluster({ master: cluster.master.address, tokenText: await fs.readFile(cluster.tokenFile, 'utf8'), caPem: undefined, advertiseHost: '127.0.0.1', dataDir: rogueDir, log: silentLog });
  const link = await connectTls({ address: cluster.master.address, caPem: identity.caPem, identity, expectCommonName: MASTER_CN });
  t.teardown(() => link.close());
  const registered = await link.request('node.register', { advertise: '127.0.0.1:1', version: 'rogue', capacityBytes: 0, usedBytes: 0, freeBytes: 0, blobs: 0 });
  const rogueKey = Buffer.from(registered.data.ticketKey, 'base64url');
  const minted = signTicket(rogueKey, { blobId: begin.blobId, op: 'get', bytesMax: MIB, nodeId: begin.nodeId, chain: NO_CHAIN, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs: Date.now() });
  const victim = await connectNode(cluster.caPem, begin.address, begin.nodeId);
  t.teardown(() => victim.close());
  t.equal(await codeOf(victim.request('blob.get', { blobId: begin.blobId, ticket: minted })), 'UNAUTHENTICATED', 'the node holding the blob refuses the rogue\'s ticket');
});

t.test('a client cannot make a node forward a blob anywhere but down the chain the master signed', async (t) => {
  const cluster = await startCluster(t, 3);
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  let knocked = 0;
  const elsewhere = createServer((socket) => {
    knocked++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  t.teardown(() => elsewhere.close());
  const port = (elsewhere.address() as { port: number }).port;
  const work = await tempDir(t);
  const local = path.join(work, 'f');
  await randomFile(local, MIB);
  const begin = await beginPut(admin, '/f', MIB);
  const [second, third] = begin.chain;
  if (!second || !third) throw new Error('a chain of two more nodes was expected');
  const redirected = [{ ...second, address: `127.0.0.1:${port}` }, third];
  t.equal(await codeOf(sendFile(nodeLinks(cluster.caPem), local, MIB, { ...begin, chain: redirected }, undefined)), 'FORBIDDEN', 'a chain member moved elsewhere: refused');
  t.equal(await codeOf(sendFile(nodeLinks(cluster.caPem), local, MIB, { ...begin, chain: [third] }, undefined)), 'FORBIDDEN', 'a member left out: refused');
  t.equal(knocked, 0, 'the node never connected to the address the client named');
  t.ok(parseHostPort(second.address), 'the real chain is well formed');
});

t.test('a reader blaming good copies (file.get.bad) gets each re-hashed once, none marked bad; it cannot blame what it cannot read', async (t) => {
  const cluster = await startCluster(t, 3);
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  await waitFor('three linked nodes', async () => ((await admin.request('cluster.nodes', {})).data.nodes.filter((node) => node.connected).length === 3 ? true : undefined));
  const work = await tempDir(t);
  const local = path.join(work, 'f');
  await randomFile(local, MIB);
  const begin = await beginPut(admin, '/f', MIB);
  await sendFile(nodeLinks(cluster.caPem), local, MIB, begin, undefined);
  await waitFor('three copies', async () => ((await admin.request('file.put.wait', { files: [{ path: '/f', blobId: begin.blobId }] })).data.have[0] === 3 ? true : undefined));
  const nodeIds = (await admin.request('cluster.nodes', {})).data.nodes.map((node) => node.nodeId);

  const blames = Array.from({ length: 200 }, () => codeOf(admin.request('file.get.bad', { path: '/f', blobId: begin.blobId, nodeIds })));
  t.same(new Set(await Promise.all(blames)), new Set(['OK']), '200 blames of the 3 copies are answered');
  t.equal(await codeOf(admin.request('file.get.bad', { path: '/f', blobId: 'f'.repeat(32), nodeIds })), 'OK', 'a blob the file does not have: answered, nothing asked');
  await admin.request('auth.useradd', { user: 'mallory', password: 'mallory-password' });
  const mallory = await connectFrom(t, cluster.master.address, cluster.caPem);
  await mallory.request('auth.login', { user: 'mallory', password: 'mallory-password' });
  t.equal(await codeOf(mallory.request('file.get.bad', { path: '/f', blobId: begin.blobId, nodeIds })), 'NOT_FOUND', 'another user cannot blame the copies of a file not theirs');

  const whole = /scrub: blob (\S+), which a reader found wrong, is whole here/;
  await waitFor('each node to re-hash its copy', async () => (cluster.nodes.every((node) => whole.test(node.output().stderr)) ? true : undefined));
  for (const [index, node] of cluster.nodes.entries()) {
    t.equal(node.output().stderr.match(/a reader found its bytes wrong; re-hashing it/g)?.length, 1, `node${index + 1} was asked once`);
  }
  t.equal(cluster.master.output().stderr.match(/asking it to re-hash its copy/g)?.length, 3, 'the master asked each copy once');
  t.notMatch(cluster.master.output().stderr, /is bad/, 'no copy marked bad on a reader\'s word');
  t.equal((await admin.request('fs.stat', { path: '/f' })).data.replicas?.have, 3, 'three good copies still');
});
