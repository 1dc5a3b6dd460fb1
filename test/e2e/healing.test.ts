// Self-healing through real `build/dfs` processes: a node killed past the node timeout, a damaged copy, a
// node restarted with copies gone or orphans on its disk — every file ends at its replication factor, with no
// copy lost or left over, on disk and in the catalog. A node frozen past the timeout and thawed (its surplus
// trimmed) and a master restart with a late node (safe mode) are test/sim/scenarios.ts's, in virtual time.

import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { RemoteClient } from '../../src/client/client';
import { ADMIN_PASSWORD, runDfs, startCluster, tempDir, waitFor, type RunResult, type TestCluster } from '../helpers/binary';
import { loginAt, putFile } from '../helpers/client';
import { blobFiles, masterAddress, processOf, shellEnv } from '../helpers/cluster';
import { randomFile, sha256Of } from '../helpers/files';

const KIB = 1024;
/** Heartbeats come every 2 s: a node silent for 5 s is dead. */
const NODE_TIMEOUT = ['--node-timeout', '5'];

interface Put {
  path: string;
  sha256: string;
  size: number;
}

async function putFiles(t: Test, admin: RemoteClient, count: number): Promise<Put[]> {
  const work = await tempDir(t);
  const puts: Put[] = [];
  for (let index = 0; index < count; index++) {
    const local = path.join(work, `f${index}`);
    const size = 64 * KIB + index;
    await randomFile(local, size);
    await putFile(admin, local, `/f${index}`);
    puts.push({ path: `/f${index}`, sha256: await sha256Of(local), size });
  }
  return puts;
}

/** Blob files on disk (temporary ones apart) per file, counted by node. */
async function copiesOnDisk(cluster: TestCluster, put: Put): Promise<string[]> {
  const files = await blobFiles(cluster);
  return files.filter((file) => !file.temporary && file.name.endsWith(`.${put.size}.${put.sha256}`)).map((file) => file.node);
}

/** Every file has exactly `want` live copies in the catalog, and exactly those on disk. */
async function settled(cluster: TestCluster, admin: RemoteClient, puts: Put[], want: number): Promise<true | undefined> {
  for (const put of puts) {
    const entry = await admin.stat(put.path);
    if (entry.replicas?.have !== want || entry.replicas.nodes.length !== want) return undefined;
    if ((await copiesOnDisk(cluster, put)).length !== want) return undefined;
  }
  return true;
}

async function fourNodes(t: Test): Promise<{ cluster: TestCluster; admin: RemoteClient }> {
  const cluster = await startCluster(t, 4, NODE_TIMEOUT);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  return { cluster, admin };
}

t.test('a node holding copies is killed (SIGKILL): every file is back to 3 live copies on the other nodes', async (t) => {
  const { cluster, admin } = await fourNodes(t);
  const puts = await putFiles(t, admin, 12);
  const first = await admin.stat(puts[0]?.path ?? '');
  const victimId = first.replicas?.nodes[0]?.split(' ')[0] ?? '';
  const victim = await processOf(cluster, admin, victimId);
  victim.child.kill('SIGKILL');
  await victim.exited;
  await waitFor('the killed node to be dead', async () => ((await admin.nodes()).find((node) => node.nodeId === victimId)?.state === 'dead' ? true : undefined), 30_000);
  await waitFor('3 live copies of every file', async () => {
    for (const put of puts) if ((await admin.stat(put.path)).replicas?.have !== 3) return undefined;
    return true;
  }, 60_000);
  for (const put of puts) {
    const entry = await admin.stat(put.path);
    const live = entry.replicas?.nodes.filter((node) => !node.endsWith(' dead')) ?? [];
    t.equal(live.length, 3, `${put.path}: 3 copies on live nodes`);
    t.notOk(live.some((node) => node.startsWith(victimId)), `${put.path}: none of them on the dead node`);
  }
  const back = path.join(await tempDir(t), 'back');
  await admin.get(puts[0]?.path ?? '', back);
  t.equal(await sha256Of(back), puts[0]?.sha256, 'a file reads back whole');
  t.pass('every file has 3 live copies again');
  // The log tells it in a few lines, not one per blob (those are --log-level debug).
  await waitFor('the repair to be logged done', async () => (/repair: done in \d+ s: \d+ copies made/.test(cluster.master.output().stderr) ? true : undefined));
  const log = cluster.master.output().stderr;
  t.match(log, new RegExp(`master warn node ${victimId} is dead: not heard from in \\d+ s`), 'the death of the node');
  t.match(log, /master info repair: \d+ blob\(s\) lack copies/, 'how many blobs to copy');
  t.notMatch(log, /copying from/, 'and no line per blob');
});

t.test('a damaged copy found by a read is replaced: get returns the right bytes and the file is back to 3 good copies', async (t) => {
  const cluster = await startCluster(t, 3, NODE_TIMEOUT);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const [put] = await putFiles(t, admin, 1);
  if (!put) throw new Error('no file');
  // The copy the master would have read next is the one damaged.
  const channel = await cluster.client();
  const reader = (await channel.request('file.get.begin', { path: put.path })).data.nodeId;
  const readerDir = `node${1 + cluster.nodes.indexOf(await processOf(cluster, admin, reader))}`;
  const [copy] = (await blobFiles(cluster)).filter((blob) => !blob.temporary && blob.node === readerDir);
  if (!copy) throw new Error(`${readerDir} holds no copy`);
  const handle = await fs.open(copy.file, 'r+');
  await handle.write(randomBytes(16), 0, 16, 1000);
  await handle.close();
  // Read until the damaged copy is the one read (the master's choice may have moved meanwhile).
  await waitFor('the damaged copy to be found', async () => {
    const back = path.join(await tempDir(t), 'back');
    await admin.get(put.path, back);
    t.equal(await sha256Of(back), put.sha256, 'get returns the right bytes');
    return (await admin.stat(put.path)).replicas?.have === 2 ? true : undefined;
  }, 30_000);
  await waitFor('3 good copies again, the damaged one replaced', () => settled(cluster, admin, [put], 3), 60_000);
  for (const file of (await blobFiles(cluster)).filter((blob) => !blob.temporary)) t.equal(await sha256Of(file.file), put.sha256, `${file.node}'s copy is whole`);
});

t.test('a node restarted with a copy gone and an orphan on its disk: the master forgets the one, deletes the other, copies again', async (t) => {
  const cluster = await startCluster(t, 3, NODE_TIMEOUT);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const [put] = await putFiles(t, admin, 1);
  if (!put) throw new Error('no file');
  const node = cluster.nodes[0];
  if (!node) throw new Error('no node');
  node.child.kill('SIGTERM');
  await node.exited;
  const [copy] = (await blobFiles(cluster)).filter((file) => file.node === 'node1' && !file.temporary);
  if (!copy) throw new Error('node1 holds no copy');
  // The copy goes; an orphan (a blob no file has) appears, named like a blob of the same bytes.
  const orphanId = randomBytes(16).toString('hex');
  const orphan = path.join(path.dirname(path.dirname(copy.file)), orphanId.slice(0, 2), `${orphanId}.${put.size}.${put.sha256}`);
  await fs.mkdir(path.dirname(orphan), { recursive: true });
  await fs.rename(copy.file, orphan);
  cluster.nodes[0] = await cluster.startNode('node1');
  await waitFor('the orphan to be deleted', async () => ((await fs.stat(orphan).then(() => true, () => false)) ? undefined : true), 30_000);
  t.pass('the orphan was deleted');
  await waitFor('3 copies again', () => settled(cluster, admin, [put], 3), 60_000);
  t.same((await copiesOnDisk(cluster, put)).sort(), ['node1', 'node2', 'node3'], 'one on each node, node1\'s made again');
});

t.test('fsck: healthy, then under-replicated as nodes die (nowhere to copy to), then missing (exit 1); a user sees only their files', async (t) => {
  const cluster = await startCluster(t, 3, NODE_TIMEOUT);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await putFiles(t, admin, 2);
  await admin.useradd('bob', 'bob-password');
  const bob = await loginAt(t, cluster.master.address, cluster.caPem, 'bob', 'bob-password');
  const work = await tempDir(t);
  await randomFile(path.join(work, 'b'), 1000);
  await putFile(bob, path.join(work, 'b'), '/bobs');
  const fsck = (user: string, password: string): Promise<RunResult> =>
    runDfs(['shell', masterAddress(cluster), '-c', 'fsck /'], { env: shellEnv(cluster, user, password) });

  const healthy = await fsck('admin', ADMIN_PASSWORD);
  t.equal(healthy.code, 0, 'healthy: exit 0');
  t.match(healthy.stdout, /Files:\s+3 \(/, 'the admin counts every user\'s files');
  t.match(healthy.stdout, /Status:\s+HEALTHY/);

  const [first, second, third] = cluster.nodes;
  if (!first || !second || !third) throw new Error('three nodes');
  first.child.kill('SIGKILL');
  // Polled in this process (a shell per poll costs a process start); the shell then shows what was reached.
  await waitFor('2/3 in fsck', async () => ((await admin.fsck('/')).under === 3 ? true : undefined), 30_000);
  const under = await fsck('admin', ADMIN_PASSWORD);
  t.equal(under.code, 0, 'under-replicated: still exit 0 (readable)');
  t.match(under.stdout, 'admin:/f0: under-replicated: 2/3 live copies');
  t.match(under.stdout, 'bob:/bobs: under-replicated: 2/3 live copies');
  t.match(under.stdout, /Status:\s+DEGRADED/);
  const bobs = await fsck('bob', 'bob-password');
  t.match(bobs.stdout, '/bobs: under-replicated', 'bob sees his file');
  t.notMatch(bobs.stdout, '/f0', 'and nothing of admin\'s');
  t.match(bobs.stdout, /Files:\s+1 \(/);

  second.child.kill('SIGKILL');
  third.child.kill('SIGKILL');
  await waitFor('missing in fsck', async () => ((await admin.fsck('/')).missing === 3 ? true : undefined), 30_000);
  const missing = await fsck('admin', ADMIN_PASSWORD);
  t.equal(missing.code, 1, 'missing files: exit 1');
  t.match(missing.stdout, 'admin:/f1: MISSING: 0/3 live copies');
  t.match(missing.stdout, /Status:\s+MISSING FILES/);
});

t.test('a node stopped with SIGTERM says so: nodes shows it stopping (not yet dead), and alive again once it is back', async (t) => {
  const cluster = await startCluster(t, 2);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const node = cluster.nodes[0];
  if (!node) throw new Error('no node');
  const nodeId = (await admin.nodes()).find((info) => info.advertise.endsWith(`:${node.address.port}`))?.nodeId;
  node.child.kill('SIGTERM');
  t.equal((await node.exited).code, 0, 'the node stops cleanly');
  t.equal((await admin.nodes()).find((info) => info.nodeId === nodeId)?.state, 'stopping', 'stopping, within the node timeout');
  cluster.nodes[0] = await cluster.startNode('node1');
  await waitFor('the node to be alive again', async () => ((await admin.nodes()).find((info) => info.nodeId === nodeId)?.state === 'alive' ? true : undefined));
  t.pass('alive again after registering');
});

t.test('a node restarted holding other bytes under a file\'s blob id (its own hash agrees): the report marks the copy bad, and it is replaced', async (t) => {
  const cluster = await startCluster(t, 3, NODE_TIMEOUT);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const [put] = await putFiles(t, admin, 1);
  if (!put) throw new Error('no file');
  const node = cluster.nodes[1];
  if (!node) throw new Error('no node2');
  node.child.kill('SIGTERM');
  await node.exited;
  const [copy] = (await blobFiles(cluster)).filter((file) => file.node === 'node2' && !file.temporary);
  if (!copy) throw new Error('node2 holds no copy');
  const other = randomBytes(put.size);
  const otherSha = createHash('sha256').update(other).digest('hex');
  const [blobId] = copy.name.split('.');
  await fs.rm(copy.file);
  await fs.writeFile(path.join(path.dirname(copy.file), `${blobId ?? ''}.${put.size}.${otherSha}`), other);
  cluster.nodes[1] = await cluster.startNode('node2');
  await waitFor('the master to hear of the other bytes', async () => (/with other bytes than their file's/.test(cluster.master.output().stderr) ? true : undefined), 30_000);
  await waitFor('node2 to hold the file\'s bytes again', async () => {
    const [again] = (await blobFiles(cluster)).filter((file) => file.node === 'node2' && !file.temporary);
    return again && (await sha256Of(again.file)) === put.sha256 ? true : undefined;
  }, 60_000);
  t.equal(await settled(cluster, admin, [put], 3), true, '3 good copies, each whole');
});
