// Faults through real `build/dfs` processes. The master SIGKILLed in the middle of a stream of puts
// loses no acknowledged put, and a put it did not acknowledge is either absent or whole.
// Nodes that fill up, and uploads larger than any node's free space: placement
// goes by free space and never overfills a node; a put nothing can take is NO_SPACE and leaves
// nothing behind, on disk or in the namespace, and later puts still work.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import type { NodeInfo } from '../../src/client/api';
import type { RemoteClient } from '../../src/client/client';
import { ADMIN_PASSWORD, startCluster, startDfs, tempDir, waitFor, type DfsProcess, type TestCluster } from '../helpers/binary';
import { codeOf, loginAt, putFile } from '../helpers/client';
import { blobFiles } from '../helpers/cluster';
import { randomFile, sha256Of } from '../helpers/files';
import { prng, seed } from '../helpers/random';

const KIB = 1024;
const MIB = 1024 * KIB;

t.comment(`seed ${seed} (DFS_TEST_SEED=${seed} replays the file sizes)`);

/** A local file sent with put, and what it holds. */
interface Sent {
  remote: string;
  local: string;
  size: number;
  sha256: string;
}

/** The error a rejected promise carries, as text with its code. */
function describe(error: unknown): string {
  if (error instanceof Error) return `${(error as { code?: string }).code ?? error.name}: ${error.message}`;
  return String(error);
}

/** The node record of a node process (matched by its listening port). */
function infoOf(nodes: NodeInfo[], process: DfsProcess): NodeInfo | undefined {
  return nodes.find((node) => node.advertise.endsWith(`:${process.address.port}`));
}

/** Bytes under one node's blob directory (blobs and files being written); a file gone meanwhile counts 0. */
async function bytesOnNode(cluster: TestCluster, node: string): Promise<number> {
  const files = (await blobFiles(cluster)).filter((file) => file.node === node);
  const sizes = await Promise.all(files.map((file) => fs.stat(file.file).then((stats) => stats.size, () => 0)));
  return sizes.reduce((sum, size) => sum + size, 0);
}

async function aliveNodes(admin: RemoteClient, count: number): Promise<NodeInfo[]> {
  return waitFor(`${count} live nodes`, async () => {
    const nodes = await admin.nodes();
    return nodes.filter((node) => node.state === 'alive').length === count ? nodes : undefined;
  });
}

/** Checks a remote file is `sent` exactly: stat's size and SHA-256, and a get that hashes to the same. */
async function checkWhole(t: Test, client: RemoteClient, sent: Sent, work: string, what: string): Promise<void> {
  const entry = await client.stat(sent.remote);
  t.equal(entry.size, sent.size, `${what} ${sent.remote}: stat size`);
  t.equal(entry.sha256, sent.sha256, `${what} ${sent.remote}: stat SHA-256`);
  const back = path.join(work, `back-${sent.remote.replace(/\//g, '_')}`);
  const fetched = await client.get(sent.remote, back);
  t.same(fetched, { size: sent.size, sha256: sent.sha256 }, `${what} ${sent.remote}: get verified`);
  t.equal(await sha256Of(back), sent.sha256, `${what} ${sent.remote}: the bytes on disk after get`);
  await fs.rm(back);
}

t.test('the master SIGKILLed in the middle of a stream of puts: every acknowledged put survives whole; an unacknowledged one is absent or whole', async (t) => {
  const cluster = await startCluster(t, 3);
  const work = await tempDir(t);
  const sendDir = path.join(work, 'send');
  await fs.mkdir(sendDir);
  const random = prng(seed);
  const WRITERS = 3;
  const ACKNOWLEDGED_BEFORE_KILL = 30;

  const acknowledged: (Sent & { replicas: number })[] = [];
  const unacknowledged: (Sent & { error: string })[] = [];
  let killed = false;
  let enough: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => (enough = resolve));
  const writer = async (worker: number): Promise<void> => {
    const client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
    await client.mkdir(`/w${worker}`, false);
    for (let index = 0; !killed; index++) {
      const size = 64 * KIB + Math.floor(random() * (MIB - 64 * KIB + 1));
      const local = path.join(sendDir, `w${worker}-${index}`);
      await randomFile(local, size);
      const sent: Sent = { remote: `/w${worker}/f${index}`, local, size, sha256: await sha256Of(local) };
      try {
        const entry = await putFile(client, local, sent.remote);
        acknowledged.push({ ...sent, replicas: entry.replicas?.have ?? 0 });
        if (acknowledged.length >= ACKNOWLEDGED_BEFORE_KILL) enough();
      } catch (error) {
        unacknowledged.push({ ...sent, error: describe(error) }); // the master is gone
        return;
      }
    }
  };
  const writers = Array.from({ length: WRITERS }, (_, worker) => writer(worker + 1));
  await Promise.race([reached, Promise.all(writers)]);
  const port = cluster.master.address.port;
  cluster.master.child.kill('SIGKILL');
  killed = true;
  await cluster.master.exited;
  await Promise.all(writers);
  t.ok(acknowledged.length >= ACKNOWLEDGED_BEFORE_KILL, `${acknowledged.length} puts were acknowledged before the kill`);
  t.comment(`${unacknowledged.length} put(s) in flight at the kill: ${unacknowledged.map((sent) => `${sent.remote} (${sent.error})`).join('; ')}`);

  // Same --data, same port: the nodes reconnect by themselves to the address they were given.
  const restarted = await startDfs(t, ['master', '--data', cluster.masterDir, '--listen', `127.0.0.1:${port}`], { env: { DFS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  cluster.master = restarted;
  t.equal(restarted.address.port, port, 'the master is back on its port');
  const admin = await loginAt(t, restarted.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await aliveNodes(admin, 3);
  t.pass('the three nodes registered again');

  for (const sent of acknowledged) {
    await checkWhole(t, admin, sent, work, 'acknowledged');
    const entry = await admin.stat(sent.remote);
    t.ok((entry.replicas?.have ?? 0) >= sent.replicas, `acknowledged ${sent.remote}: ${entry.replicas?.have}/${entry.replicas?.want} replicas (${sent.replicas} when acknowledged)`);
  }
  for (const sent of unacknowledged) {
    const code = await codeOf(admin.stat(sent.remote));
    if (code === 'NOT_FOUND') {
      t.pass(`unacknowledged ${sent.remote}: absent`);
      continue;
    }
    t.equal(code, 'OK', `unacknowledged ${sent.remote}: absent or there`);
    await checkWhole(t, admin, sent, work, 'unacknowledged but present');
  }

  const names = new Set<string>();
  for (let worker = 1; worker <= WRITERS; worker++) for (const entry of await admin.list(`/w${worker}`)) names.add(entry.path);
  const expected = new Set([...acknowledged, ...unacknowledged].map((sent) => sent.remote));
  t.same([...names].filter((name) => !expected.has(name)), [], 'no other file in the namespace');
  t.same((await admin.list('/')).map((entry) => entry.name), Array.from({ length: WRITERS }, (_, worker) => `w${worker + 1}`), 'and nothing else at the root');
  await waitFor('no temporary file on any node', async () => ((await blobFiles(cluster)).some((file) => file.temporary) ? undefined : true));
  t.pass('no temporary file left on any node');

  // The restarted master takes puts again.
  const again = path.join(sendDir, 'again');
  await randomFile(again, 100 * KIB);
  t.equal((await putFile(admin, again, '/again')).replicas?.have, 3, 'a put after the restart is stored 3/3');
});

/**
 * Replication 1; node1 with --capacity 3M, node2 and node3 with `largeMib` MiB each; 20 puts of 1 MiB, 4 at
 * a time, while node1's disk is watched; then a put larger than any node.
 */
async function fillUp(t: Test, largeMib: number): Promise<void> {
  const cluster = await startCluster(t, 0, ['--replicas', '1']);
  const SMALL = 3 * MIB;
  const LARGE = largeMib * MIB;
  cluster.nodes.push(await cluster.startNode('node1', ['--capacity', '3M']));
  for (const name of ['node2', 'node3']) cluster.nodes.push(await cluster.startNode(name, ['--capacity', `${largeMib}M`]));
  const small = cluster.nodes[0];
  if (!small) throw new Error('no node1');
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const before = await aliveNodes(admin, 3);
  t.equal(infoOf(before, small)?.capacityBytes, SMALL, 'the small node reports its --capacity');

  const work = await tempDir(t);
  const FILES = 20; // 20 MiB: far past the small node's 3 MiB if placement ignored free space
  const sent: Sent[] = [];
  for (let index = 0; index < FILES; index++) {
    const local = path.join(work, `f${index}`);
    await randomFile(local, MIB);
    sent.push({ remote: `/f${index}`, local, size: MIB, sha256: await sha256Of(local) });
  }

  // Watch the small node's disk while the puts run.
  let putting = true;
  let mostOnSmall = 0;
  const watcher = (async () => {
    while (putting) {
      mostOnSmall = Math.max(mostOnSmall, await bytesOnNode(cluster, 'node1'));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const failures: string[] = [];
  const queue = [...sent];
  const putter = async (): Promise<void> => {
    const client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const { remote } = next;
      await putFile(client, next.local, remote).catch((error: unknown) => failures.push(`${remote}: ${describe(error)}`));
    }
  };
  await Promise.all(Array.from({ length: 4 }, () => putter()));
  putting = false;
  await watcher;
  mostOnSmall = Math.max(mostOnSmall, await bytesOnNode(cluster, 'node1'));

  const stored = await blobFiles(cluster);
  const perNode = ['node1', 'node2', 'node3'].map((node) => `${node}: ${stored.filter((file) => file.node === node && !file.temporary).length}`).join(', ');
  t.same(failures, [], `every one of the ${FILES} puts succeeded (1 MiB blobs per node: ${perNode})`);
  t.ok(mostOnSmall <= SMALL, `the small node never held more than its capacity (at most ${mostOnSmall} of ${SMALL} bytes)`);

  const after = await admin.nodes();
  const smallInfo = infoOf(after, small);
  t.ok(smallInfo !== undefined && smallInfo.usedBytes <= smallInfo.capacityBytes, `nodes: the small node uses ${smallInfo?.usedBytes} of ${smallInfo?.capacityBytes} bytes`);
  for (const node of after) t.ok(node.usedBytes <= node.capacityBytes, `nodes: ${node.advertise} uses ${node.usedBytes} ≤ ${node.capacityBytes} bytes`);
  for (const file of sent) {
    const entry = await admin.stat(file.remote).catch(() => undefined);
    t.equal(entry?.sha256, file.sha256, `${file.remote} is stored with its hash`);
  }
  t.same(stored.filter((file) => file.temporary), [], 'no temporary file left');
  t.equal(stored.length, FILES, 'one blob per file (replicas 1)');

  // Larger than any node's free space (and than any node's capacity).
  const huge = path.join(work, 'huge');
  await randomFile(huge, LARGE + MIB);
  const filesBefore = (await blobFiles(cluster)).map((file) => file.file).sort();
  t.equal(await codeOf(putFile(admin, huge, '/huge')), 'NO_SPACE', `a put of ${largeMib + 1} MiB, larger than any node's free space, is NO_SPACE`);
  t.equal(await codeOf(admin.stat('/huge')), 'NOT_FOUND', 'nothing in the namespace');
  t.same((await blobFiles(cluster)).map((file) => file.file).sort(), filesBefore, 'nothing new on any disk, no temporary file');
  t.same((await admin.list('/')).map((entry) => entry.name).sort(), sent.map((file) => file.remote.slice(1)).sort(), `the namespace holds the ${FILES} files only`);
}

t.test('a node that fills up (3M beside two of 32M): puts go elsewhere, it never holds more than its capacity; a put nothing can take is NO_SPACE and leaves nothing', (t) => fillUp(t, 32));

// 23 MiB of room for 20 MiB: each large node can take 10 files at most, so the master must follow the
// nodes' free space as it books uploads, not only as the heartbeats report it.
t.test('a cluster nearly full (3M beside two of 10M): every put succeeds while the nodes have room, none overfills', (t) => fillUp(t, 10));

t.test('a node\'s disk full from the node\'s point of view: puts that do not fit are refused cleanly; puts that fit still work', async (t) => {
  const cluster = await startCluster(t, 0, ['--replicas', '1']);
  const CAPACITY = 2 * MIB;
  const node = await cluster.startNode('node1', ['--capacity', '2M']);
  cluster.nodes.push(node);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await aliveNodes(admin, 1);
  const work = await tempDir(t);
  const make = async (name: string, size: number): Promise<string> => {
    const local = path.join(work, name);
    await randomFile(local, size);
    return local;
  };

  // More than the node can ever hold.
  const three = await make('three', 3 * MIB);
  t.equal(await codeOf(putFile(admin, three, '/three')), 'NO_SPACE', 'a put of 3 MiB onto a 2 MiB node is NO_SPACE');
  t.equal(await codeOf(admin.stat('/three')), 'NOT_FOUND', 'and is not in the namespace');
  t.same(await blobFiles(cluster), [], 'and left nothing on the node, no temporary file');

  const one = await make('one', MIB);
  const oneEntry = await putFile(admin, one, '/one');
  t.equal(oneEntry.sha256, await sha256Of(one), 'a put of 1 MiB works afterwards');

  // At once after that put, the master may not yet have heard (heartbeat) that the node has only 1 MiB
  // left: then the node itself refuses the bytes. Either way the put is NO_SPACE and leaves nothing.
  const oneAndHalf = await make('one-and-half', MIB + MIB / 2);
  let refusal = '';
  const code = await codeOf(
    putFile(admin, oneAndHalf, '/one-and-half').catch((error: unknown) => {
      refusal = describe(error);
      throw error;
    }),
  );
  t.equal(code, 'NO_SPACE', `a put of 1.5 MiB with 1 MiB left is NO_SPACE (${refusal})`);
  t.equal(await codeOf(admin.stat('/one-and-half')), 'NOT_FOUND', 'and is not in the namespace');
  const files = await blobFiles(cluster);
  t.same(files.filter((file) => file.temporary), [], 'no temporary file left');
  t.equal(files.length, 1, '/one\'s blob only on the node');

  // The node has exactly 1 MiB left: a 1 MiB put fits (the refused put must not hold space anywhere).
  const two = await make('two', MIB);
  let twoError = '';
  const twoCode = await codeOf(
    putFile(admin, two, '/two').catch((error: unknown) => {
      twoError = describe(error);
      throw error;
    }),
  );
  t.equal(twoCode, 'OK', `a put of 1 MiB into the last 1 MiB works after the refusal${twoError ? ` (${twoError})` : ''}`);
  const used = await waitFor('the node to report its space', async () => {
    const info = infoOf(await admin.nodes(), node);
    return info && info.usedBytes === (twoCode === 'OK' ? CAPACITY : MIB) ? info : undefined;
  });
  t.ok(used.usedBytes <= used.capacityBytes, `nodes: ${used.usedBytes} of ${used.capacityBytes} bytes used, ${used.freeBytes} free`);
  t.ok(await bytesOnNode(cluster, 'node1') <= CAPACITY, 'the node\'s disk holds no more than its capacity');
  t.equal(twoCode, 'OK', 'the node is full');
  const full = /master warn node (\S+) is full \(0 of \d+ bytes free\): no new blobs go there/;
  await waitFor('the master to log it full', async () => (full.test(cluster.master.output().stderr) ? true : undefined));
  t.pass('the master logs a node that became full');
  await admin.remove('/two', false);
  await waitFor('the master to log it has room again', async () => (/master info node \S+ has room again/.test(cluster.master.output().stderr) ? true : undefined));
  t.pass('and when it has room again');
});
