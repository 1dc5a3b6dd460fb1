// Chain replication through real `build/dfs` processes (the first node passes the bytes on down the chain): every copy on
// every chain member's disk byte for byte, the shell waiting for it (or not, with --no-wait), the
// master's --replicas, and a chain member killed mid-put leaving the put whole, the copies recorded and
// completed by the master from the copy that exists.

import { spawn } from 'node:child_process';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { nodeLinks } from '../../src/client/transfer';
import { NODE_CN_PREFIX } from '../../src/trust/ca';
import { blobsSubject, NO_CHAIN, nodeTicketKey, signTicket } from '../../src/trust/ticket';
import { connectTls } from '../../src/trust/tls';
import { loadNodeIdentity } from '../../src/node/identity';
import { ADMIN_PASSWORD, DFS, runDfs, startCluster, tempDir, waitFor } from '../helpers/binary';
import { beginPut, codeOf, loginAt, putFile, sendFile } from '../helpers/client';
import { blobFiles, masterAddress, processOf, shellEnv } from '../helpers/cluster';
import { randomFile, sha256Of } from '../helpers/files';

const MIB = 1024 * 1024;

t.test('replication 3: every size lands on all three nodes byte for byte; the shell waits and says so', async (t) => {
  const cluster = await startCluster(t, 3);
  const work = await tempDir(t);
  const sizes = [0, 1, 65535, 65536, 65537, 16 * MIB];
  for (const size of sizes) await randomFile(path.join(work, `f${size}`), size);
  const commands = sizes.map((size) => `put ${work}/f${size} /f${size}`).join('; ');
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `${commands}; stat /f${16 * MIB}; ls -l /`], { env: shellEnv(cluster), timeoutMs: 120_000 });
  t.equal(run.code, 0, `the shell succeeded\n${run.stderr}`);
  for (const size of sizes) t.match(run.stdout, `/f${size}: replicated 3/3`, `put of ${size} bytes waited for 3/3`);
  t.match(run.stdout, /Replicas:\s+3\/3/, 'stat shows 3/3');
  const rows = run.stdout.split('\n').filter((line) => /^-\s/.test(line));
  t.equal(rows.filter((line) => /\s3\/3\s/.test(line)).length, sizes.length, `ls -l shows 3/3 for every file\n${rows.join('\n')}`);
  t.match(run.stdout, /Nodes:\s+\S+ \(127\.0\.0\.1:\d+\), \S+ \(127\.0\.0\.1:\d+\), \S+ \(127\.0\.0\.1:\d+\)/, 'and the three nodes');

  const files = await blobFiles(cluster);
  t.same(files.filter((file) => file.temporary), [], 'no temp files left');
  for (const size of sizes) {
    const sha256 = await sha256Of(path.join(work, `f${size}`));
    const copies = files.filter((file) => file.name.endsWith(`.${size}.${sha256}`));
    t.same(copies.map((copy) => copy.node).sort(), ['node1', 'node2', 'node3'], `${size} bytes: one copy on each node`);
    for (const copy of copies) {
      t.equal((await fs.stat(copy.file)).size, size, `${size} bytes: ${copy.node}'s copy has the size`);
      t.equal(await sha256Of(copy.file), sha256, `${size} bytes: ${copy.node}'s copy has the bytes`);
    }
  }
  t.equal(files.length, sizes.length * 3, 'nothing else on the disks');
});

t.test('put --no-wait returns after the first copy; the replicas still reach 3', async (t) => {
  const cluster = await startCluster(t, 3);
  const work = await tempDir(t);
  await randomFile(path.join(work, 'a'), 8 * MIB);
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `put --no-wait ${work}/a /a`], { env: shellEnv(cluster) });
  t.equal(run.code, 0, `put --no-wait succeeded\n${run.stderr}`);
  t.match(run.stdout, '/a: stored; replication continues', 'and says replication continues');
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('three replicas', async () => ((await admin.stat('/a')).replicas?.have === 3 ? true : undefined));
  t.equal((await blobFiles(cluster)).filter((file) => !file.temporary).length, 3, 'three copies on disk');
});

t.test('master --replicas 2: two copies, stat 2/2', async (t) => {
  const cluster = await startCluster(t, 3, ['--replicas', '2']);
  const work = await tempDir(t);
  await randomFile(path.join(work, 'a'), 3 * MIB + 7);
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `put ${work}/a /a; stat /a`], { env: shellEnv(cluster) });
  t.equal(run.code, 0, `put succeeded\n${run.stderr}`);
  t.match(run.stdout, '/a: replicated 2/2');
  t.match(run.stdout, /Replicas:\s+2\/2/);
  const files = await blobFiles(cluster);
  t.equal(files.length, 2, 'exactly two copies on disk, no temp files');
  t.equal(new Set(files.map((file) => file.node)).size, 2, 'on two different nodes');
});

t.test('chain: middle node killed (SIGKILL) mid-put → the put succeeds, the master completes the replicas from the first copy; all whole and recorded', async (t) => {
  const cluster = await startCluster(t, 3);
  const work = await tempDir(t);
  const size = 48 * MIB;
  const local = path.join(work, 'big');
  await randomFile(local, size);
  const sha256 = await sha256Of(local);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const channel = await cluster.client();
  const begin = await beginPut(channel, '/big', size);
  t.equal(begin.chain.length, 2, 'the master handed out a chain of two more nodes');
  const middle = await processOf(cluster, admin, begin.chain[0]?.nodeId ?? '');
  let killed = false;
  const stored = await sendFile(nodeLinks(cluster.caPem), local, size, begin, (bytes) => {
    if (killed || bytes < 8 * MIB) return;
    killed = true;
    middle.child.kill('SIGKILL');
  });
  t.ok(killed, 'the middle node was killed while the bytes streamed');
  t.same(stored, { size, sha256 }, 'the client\'s put succeeded');
  const waited = await waitFor('the chain to settle', async () => {
    const { data } = await channel.request('file.put.wait', { files: [{ path: '/big', blobId: begin.blobId }] });
    return data.complete ? data : undefined;
  }, 60_000);
  if (waited.have[0] !== 2) t.comment([cluster.master, ...cluster.nodes].map((p) => p.output().stderr).join('\n----\n'));
  t.equal(waited.have[0], 2, 'the master completed the copies the chain lost from the one that exists: 2 of 3, one node being dead');
  const entry = await admin.stat('/big');
  t.equal(entry.sha256, sha256, 'the file is committed with its hash');
  await middle.exited;
  const survivors = (await blobFiles(cluster)).filter((file) => file.name.endsWith(`.${size}.${sha256}`));
  t.equal(survivors.length, 2, 'two copies on disk');
  for (const copy of survivors) t.equal(await sha256Of(copy.file), sha256, `${copy.node}'s surviving copy is whole`);
  t.equal(entry.replicas?.nodes.length, survivors.length, 'every surviving copy is recorded, and only those');
  const back = path.join(work, 'back');
  await admin.get('/big', back);
  t.equal(await sha256Of(back), sha256, 'the file reads back whole');
});

t.test('the client killed (SIGKILL) in the middle of a put: no file in the namespace, no blob or temp file left on any node', async (t) => {
  const cluster = await startCluster(t, 3);
  const work = await tempDir(t);
  const size = 128 * MIB;
  const local = path.join(work, 'big');
  await randomFile(local, size);
  const shell = spawn(DFS, ['shell', masterAddress(cluster), '-c', `put ${local} /big`], { env: shellEnv(cluster), stdio: 'ignore' });
  const exited = new Promise((resolve) => shell.once('exit', resolve));
  // Killed once every chain member is writing its copy.
  await waitFor('three copies being written', async () => {
    const writing = (await blobFiles(cluster)).filter((file) => file.temporary);
    const sizes = await Promise.all(writing.map((file) => fs.stat(file.file).then((stats) => stats.size, () => 0)));
    return writing.length === 3 && sizes.every((bytes) => bytes > 0) ? true : undefined;
  });
  shell.kill('SIGKILL');
  await exited;
  await waitFor('the nodes to drop what they were writing', async () => ((await blobFiles(cluster)).length === 0 ? true : undefined));
  t.pass('no blob and no temp file on any node');
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  t.same((await admin.list('/')).map((entry) => entry.name), [], 'nothing in the namespace');
  // A small file will do: what is checked is that the path takes a put, not the bytes again.
  const small = path.join(work, 'small');
  await randomFile(small, 64 * 1024);
  const again = await putFile(admin, small, '/big');
  t.equal(again.replicas?.have, 3, 'a put to the same path then succeeds (the master holds no stale booking against it)');
});

t.test('a member sent a copy of a blob it holds already: the same bytes are reported as its copy instead of refused, other bytes are refused, and the held copy stays whole', async (t) => {
  const cluster = await startCluster(t, 3);
  const work = await tempDir(t);
  const size = 3 * MIB;
  const local = path.join(work, 'f');
  const other = path.join(work, 'other');
  await randomFile(local, size);
  await randomFile(other, size);
  const sha256 = await sha256Of(local);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await putFile(admin, local, '/f');
  const held = (await blobFiles(cluster)).find((file) => file.node === 'node2' && file.name.endsWith(`.${size}.${sha256}`));
  if (!held) throw new Error('node2 holds a copy');
  const blobId = held.name.slice(0, 32);
  // node1 sends it to node2 as a chain member would, with a ticket signed the way the master signs one.
  const sender = await loadNodeIdentity(path.join(cluster.dataDir, 'node1'));
  const target = await loadNodeIdentity(path.join(cluster.dataDir, 'node2'));
  if (!sender || !target) throw new Error('the nodes have identities');
  const clusterKey = Buffer.from((await fs.readFile(path.join(cluster.masterDir, 'ticket-key'), 'utf8')).trim(), 'base64url');
  const channel = await connectTls({ address: cluster.nodes[1]?.address ?? cluster.master.address, caPem: cluster.caPem, identity: sender, expectCommonName: `${NODE_CN_PREFIX}${target.nodeId}` });
  t.teardown(() => channel.close());
  const send = (file: string): Promise<string> => {
    const ticket = signTicket(nodeTicketKey(clusterKey, target.nodeId), { blobId: blobsSubject([blobId]), op: 'replicate', bytesMax: size, nodeId: target.nodeId, chain: NO_CHAIN, ttlMs: 60_000, nowMs: Date.now() });
    return codeOf(channel.request('blob.replicate', { blobs: [{ blobId, size }], ticket, chain: [] }, { body: { stream: createReadStream(file), bytes: size } }));
  };
  // No chain of that blob runs now, so the master turns the report down (NOT_FOUND): what matters is that the node
  // compared the bytes and reported its copy, where it used to refuse any copy of a blob it holds (EXISTS).
  t.equal(await send(local), 'NOT_FOUND', 'the same bytes: the held copy is reported to the master');
  t.equal(await send(other), 'EXISTS', 'other bytes: refused as a blob that exists');
  t.equal(await sha256Of(held.file), sha256, 'the held copy is whole and in place');
  const fsck = await runDfs(['shell', masterAddress(cluster), '-c', 'fsck /'], { env: shellEnv(cluster) });
  t.match(fsck.stdout, /HEALTHY/, `fsck: the file keeps its three copies\n${fsck.stdout}`);
});
