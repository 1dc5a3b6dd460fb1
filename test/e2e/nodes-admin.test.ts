// The admin's node tools through `dfs shell` against real processes: drain (every file gets its copies on other
// nodes while the drained node still serves; nodes then shows it drained and fsck is healthy with it up), undrain,
// forget (a dead or drained node; its certificate is refused afterwards), the node list kept across a master
// restart, and token rotate (the old token joins nothing, joined nodes carry on).

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import type { RemoteClient } from '../../src/client/client';
import { ADMIN_PASSWORD, runDfs, startCluster, startDfs, tempDir, waitFor, type RunResult, type TestCluster } from '../helpers/binary';
import { loginAt, putFile } from '../helpers/client';
import { blobFiles, masterAddress, processOf, shellEnv } from '../helpers/cluster';
import { randomFile, sha256Of } from '../helpers/files';

const admin = (cluster: TestCluster, command: string): Promise<RunResult> => runDfs(['shell', masterAddress(cluster), '-c', command], { env: shellEnv(cluster) });

async function stateOf(client: RemoteClient, nodeId: string): Promise<string | undefined> {
  return (await client.nodes()).find((node) => node.nodeId === nodeId)?.state;
}

t.test('drain: every file gets 3 copies on the other nodes while the node serves; nodes shows it drained, fsck healthy with it up; forget after it stops', async (t) => {
  const cluster = await startCluster(t, 4);
  const client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const work = await tempDir(t);
  const files: { path: string; sha256: string }[] = [];
  for (let index = 0; index < 8; index++) {
    const local = path.join(work, `f${index}`);
    await randomFile(local, 200_000 + index);
    await putFile(client, local, `/f${index}`);
    files.push({ path: `/f${index}`, sha256: await sha256Of(local) });
  }
  const holders = new Map<string, number>();
  for (const file of files) for (const node of (await client.stat(file.path)).replicas?.nodes ?? []) holders.set(node.split(' ')[0] ?? '', (holders.get(node.split(' ')[0] ?? '') ?? 0) + 1);
  const [victim] = [...holders].sort((a, b) => b[1] - a[1])[0] ?? [];
  if (!victim) throw new Error('no holder');
  const victimProcess = await processOf(cluster, client, victim);

  const drained = await admin(cluster, `drain ${victim}`);
  t.same([drained.code, drained.stdout], [0, `draining ${victim}: nodes shows it drained once every file it holds has its copies elsewhere\n`]);
  await waitFor(`${victim} to be drained`, async () => ((await stateOf(client, victim)) === 'drained' ? true : undefined), 60_000);
  t.pass(`${victim} held ${holders.get(victim)} copies and is drained`);
  t.equal(victimProcess.child.exitCode, null, 'the drained node is still running');
  for (const file of files) {
    const copies = (await client.stat(file.path)).replicas?.nodes.map((node) => node.split(' ')[0]) ?? [];
    t.equal(copies.filter((node) => node !== victim).length, 3, `${file.path}: 3 copies on the other nodes`);
  }
  const fsck = await admin(cluster, 'fsck /');
  t.same([fsck.code, /Status:\s+HEALTHY/.test(fsck.stdout)], [0, true], 'fsck is healthy with the drained node still up');
  t.match((await admin(cluster, 'nodes')).stdout, new RegExp(`^${victim} +\\S+ +drained `, 'm'), 'nodes shows it drained');
  await randomFile(path.join(work, 'new'), 5000);
  await putFile(client, path.join(work, 'new'), '/new');
  t.notOk((await client.stat('/new')).replicas?.nodes.some((node) => node.startsWith(victim)), 'a new file goes elsewhere');

  const refused = await admin(cluster, `forget ${[...holders.keys()].find((node) => node !== victim) ?? ''}`);
  t.equal(refused.code, 1, 'a live node that is not drained cannot be forgotten');
  t.match(refused.stderr, /is alive and not drained: drain it first/);
  victimProcess.child.kill('SIGTERM');
  await victimProcess.exited;
  const forgot = await admin(cluster, `forget ${victim}`);
  t.same([forgot.code, forgot.stdout], [0, `forgot ${victim}\n`]);
  t.equal(await stateOf(client, victim), undefined, 'nodes no longer lists it');
  const after = await admin(cluster, 'fsck /');
  t.same([after.code, /Status:\s+HEALTHY/.test(after.stdout)], [0, true], 'and fsck is still healthy: nothing needed it');
  for (const file of files) {
    const back = path.join(work, `back${file.path.slice(1)}`);
    await client.get(file.path, back);
    t.equal(await sha256Of(back), file.sha256, `${file.path} reads back whole`);
  }
  // The forgotten node starts again with its old certificate: refused.
  const restarted = await startDfs(t, ['node', '--master', masterAddress(cluster), '--token-file', cluster.tokenFile, '--data', path.join(cluster.dataDir, `node${1 + cluster.nodes.indexOf(victimProcess)}`), '--listen', '127.0.0.1:0']);
  await waitFor('the master to refuse the forgotten node', async () => (new RegExp(`error the master refuses this node: node ${victim} was forgotten`).test(restarted.output().stderr) ? true : undefined));
  t.equal(await stateOf(client, victim), undefined, 'and does not list it');
});

t.test('a master restart still lists a dead node and a drained one; a node every file needs stays draining; undrain cancels', async (t) => {
  const cluster = await startCluster(t, 5, ['--node-timeout', '5']);
  let client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const work = await tempDir(t);
  await randomFile(path.join(work, 'f'), 10_000);
  await putFile(client, path.join(work, 'f'), '/f');
  const ids = (await client.nodes()).map((node) => node.nodeId);
  const [dead, drained] = await Promise.all(ids.slice(0, 2).map((id) => processOf(cluster, client, id)));
  if (!dead || !drained) throw new Error('two nodes');
  const [deadId = '', drainedId = ''] = ids;
  dead.child.kill('SIGKILL');
  await waitFor(`${deadId} to be dead`, async () => ((await stateOf(client, deadId)) === 'dead' ? true : undefined), 30_000);
  t.equal((await admin(cluster, `drain ${drained.address.host}:${drained.address.port}`)).code, 0, 'a node is drained by its address too');
  await waitFor(`${drainedId} to be drained`, async () => ((await stateOf(client, drainedId)) === 'drained' ? true : undefined), 60_000);

  const port = cluster.master.address.port;
  cluster.master.child.kill('SIGTERM');
  await cluster.master.exited;
  cluster.master = await startDfs(t, ['master', '--data', cluster.masterDir, '--listen', `127.0.0.1:${port}`, '--node-timeout', '5'], { env: { DFS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  t.equal(await stateOf(client, deadId), 'dead', 'after a restart the dead node is listed, dead');
  await waitFor(`${drainedId} drained again`, async () => ((await stateOf(client, drainedId)) === 'drained' ? true : undefined), 60_000);
  t.pass('and the drained node is drained again once the master has looked');

  // Three live nodes take new blobs: draining one more leaves /f nowhere for a third copy that counts.
  const third = (await client.stat('/f')).replicas?.nodes.map((node) => node.split(' ')[0] ?? '').find((node) => node !== deadId && node !== drainedId) ?? '';
  t.equal((await admin(cluster, `drain ${third}`)).code, 0);
  const fsck = await admin(cluster, 'fsck /');
  t.match(fsck.stdout, 'admin:/f: under-replicated: 2/3 live copies', 'a copy on a draining node does not count');
  t.equal(await stateOf(client, third), 'draining', `${third} is draining`);
  const refused = await admin(cluster, `forget ${third}`);
  t.same([refused.code, refused.stderr.includes('is alive and not drained')], [1, true], 'and cannot be forgotten while up');
  t.equal((await admin(cluster, `undrain ${third}`)).code, 0);
  t.equal((await admin(cluster, `undrain ${drainedId}`)).stdout, `${drainedId} takes new blobs again\n`);
  t.equal(await stateOf(client, drainedId), 'alive', 'undrained, it is alive');
  t.equal((await admin(cluster, 'drain nowhere:1')).stderr, 'dfs: drain: no node nowhere:1 (nodes lists them)\n');
});

t.test('token rotate: the old token joins no new node, the new one does, and joined nodes carry on; only the admin may', async (t) => {
  const cluster = await startCluster(t, 3);
  const old = await fs.readFile(cluster.tokenFile, 'utf8');
  const oldFile = path.join(await tempDir(t), 'old-token');
  await fs.writeFile(oldFile, old, { mode: 0o600 });
  const rotated = await admin(cluster, 'token rotate');
  t.same([rotated.code, rotated.stdout], [0, 'a new join token is in the master\'s data directory (join-token); the old one joins no new node\n']);
  t.not(await fs.readFile(cluster.tokenFile, 'utf8'), old, 'join-token holds a new token');
  const refused = await runDfs(['node', '--master', masterAddress(cluster), '--token-file', oldFile, '--data', path.join(cluster.dataDir, 'late'), '--listen', '127.0.0.1:0'], { timeoutMs: 20_000 });
  t.not(refused.code, 0, 'a node with the old token does not join');
  t.match(refused.stderr, /wrong join token/);
  await cluster.startNode('node4');
  const client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('4 nodes', async () => ((await client.nodes()).filter((node) => node.state === 'alive').length === 4 ? true : undefined));
  t.pass('a node with the new token joins');
  const work = await tempDir(t);
  await randomFile(path.join(work, 'f'), 1000);
  await putFile(client, path.join(work, 'f'), '/f');
  t.equal((await client.stat('/f')).replicas?.have, 3, 'and puts go on');
  for (const command of ['token rotate', 'drain x', 'undrain x', 'forget x']) {
    const run = await runDfs(['shell', masterAddress(cluster), '-c', command], { env: shellEnv(cluster, 'shared', undefined) });
    t.same([run.code, run.stderr], [1, `dfs: ${command.split(' ')[0]}: Permission denied\n`], `shared may not ${command}`);
  }
});

t.test('setrep: 2 and back to 3 (the copies on disk follow), -R for a directory, stat, ls -l and fsck count against it; new bytes start from the default', async (t) => {
  const cluster = await startCluster(t, 4);
  const client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const work = await tempDir(t);
  await randomFile(path.join(work, 'r'), 50_000);
  await putFile(client, path.join(work, 'r'), '/r');
  const size = `.50000.${await sha256Of(path.join(work, 'r'))}`;
  const onDisk = async (): Promise<number> => (await blobFiles(cluster)).filter((file) => !file.temporary && file.name.endsWith(size)).length;
  const settledAt = async (want: number): Promise<void> => {
    await waitFor(`${want} copies of /r`, async () => {
      const entry = await client.stat('/r');
      return entry.replicas?.have === want && entry.replicas.want === want && (await onDisk()) === want ? true : undefined;
    }, 30_000);
  };
  const two = await admin(cluster, 'setrep 2 /r');
  t.same([two.code, two.stdout], [0, 'replication of /r set to 2 (1 file)\n']);
  await settledAt(2);
  t.pass('2 copies, on disk too');
  const listed = await admin(cluster, 'ls -l /; stat /r; fsck /');
  t.match(listed.stdout, /^-\s.*\s2\/2\s.*\sr$/m, 'ls -l shows 2/2');
  t.match(listed.stdout, /Replicas:\s+2\/2/, 'stat shows 2/2');
  t.match(listed.stdout, /Status:\s+HEALTHY/, 'fsck is healthy at 2');
  t.equal((await admin(cluster, 'setrep 3 /r')).code, 0);
  await settledAt(3);
  t.pass('back to 3 copies');

  await randomFile(path.join(work, 'small'), 100);
  t.equal((await admin(cluster, `mkdir -p /d/e; put ${work}/small /d/a; put ${work}/small /d/e/b`)).code, 0);
  const directory = await admin(cluster, 'setrep 4 /d');
  t.same([directory.code, directory.stderr], [1, 'dfs: setrep: /d: Is a directory\n'], 'a directory needs -R');
  t.equal((await admin(cluster, 'setrep -R 4 /d')).stdout, 'replication of /d set to 4 (2 files)\n');
  await waitFor('4 copies of both', async () => ((await client.stat('/d/a')).replicas?.have === 4 && (await client.stat('/d/e/b')).replicas?.have === 4 ? true : undefined), 30_000);
  t.pass('-R: every file under it gets 4');
  await putFile(client, path.join(work, 'small'), '/d/a', { overwrite: true });
  t.equal((await client.stat('/d/a')).replicas?.want, 3, 'new bytes at a path start from the master\'s --replicas');
  const bad = await admin(cluster, 'setrep 0 /r');
  t.equal(bad.code, 1, 'N must be at least 1');
  t.match(bad.stderr, /usage: setrep/);
});

t.test('rebalance: an empty node added to 3 half-full ones gets its share; every file keeps 3 copies; nodes shows the progress', async (t) => {
  const cluster = await startCluster(t, 0);
  for (const name of ['node1', 'node2', 'node3']) cluster.nodes.push(await cluster.startNode(name, ['--capacity', '8M']));
  const client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('3 nodes', async () => ((await client.nodes()).length === 3 ? true : undefined));
  const work = await tempDir(t);
  const files: { path: string; sha256: string }[] = [];
  for (let index = 0; index < 10; index++) {
    const local = path.join(work, `f${index}`);
    await randomFile(local, 400 * 1024 + index);
    await putFile(client, local, `/f${index}`);
    files.push({ path: `/f${index}`, sha256: await sha256Of(local) });
  }
  cluster.nodes.push(await cluster.startNode('node4', ['--capacity', '8M']));
  await waitFor('the new node', async () => ((await client.nodes()).length === 4 ? true : undefined));
  const refused = await runDfs(['shell', masterAddress(cluster), '-c', 'rebalance'], { env: shellEnv(cluster, 'shared', undefined) });
  t.same([refused.code, refused.stderr], [1, 'dfs: rebalance: Permission denied\n'], 'only the admin rebalances');
  t.equal((await admin(cluster, 'rebalance --threshold 0')).code, 1, 'a threshold below 1% is a usage error');
  const started = await admin(cluster, 'rebalance');
  t.same([started.code, started.stdout], [0, 'rebalancing until every node is within 10% of the mean; nodes shows the progress\n']);
  // Polled in this process (a shell per poll costs a process start); the shell then shows the outcome.
  await waitFor('the rebalance to end', async () => ((await client.cluster()).rebalance?.running === false ? true : undefined), 120_000);
  const done = (await admin(cluster, 'nodes')).stdout;
  t.match(done, /^rebalance: done in \d+ s: \d+ blobs? moved \(\S+\); every node is within 10% of the mean$/m, `nodes says it is done\n${done}`);
  await waitFor('the nodes\' figures to settle', async () => {
    const nodes = await client.nodes();
    const mean = nodes.reduce((sum, node) => sum + node.usedBytes, 0) / nodes.reduce((sum, node) => sum + node.capacityBytes, 0);
    return nodes.every((node) => Math.abs(node.usedBytes / node.capacityBytes - mean) <= 0.1) ? true : undefined;
  }, 30_000);
  const newcomer = (await client.nodes()).find((node) => node.advertise.endsWith(`:${cluster.nodes[3]?.address.port}`));
  t.ok((newcomer?.usedBytes ?? 0) > 0, `the new node holds ${newcomer?.usedBytes} bytes`);
  for (const file of files) {
    t.equal((await client.stat(file.path)).replicas?.have, 3, `${file.path}: 3 copies`);
  }
  await waitFor('30 copies on disk, none extra', async () => ((await blobFiles(cluster)).filter((file) => !file.temporary).length === 30 ? true : undefined), 30_000);
  const back = path.join(work, 'back');
  await client.get(files[0]?.path ?? '', back);
  t.equal(await sha256Of(back), files[0]?.sha256, 'a moved file reads back whole');
  t.match((await admin(cluster, 'fsck /')).stdout, /Status:\s+HEALTHY/);
});
