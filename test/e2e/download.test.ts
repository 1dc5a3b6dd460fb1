// Download step 6 through real `build/dfs` processes: a damaged copy, a node dying in the middle of a read, or a bit
// flipped on the wire, costs the client a retry from another replica (resuming where it stopped), never wrong bytes;
// the master stops counting a copy found damaged (by its node, re-hashing it when a reader blamed it — with
// scrubbing off too), and only that.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { ADMIN_PASSWORD, DFS, ioBytes, runDfs, startCluster, tempDir, waitFor, type TestCluster } from '../helpers/binary';
import { loginAt, putFile } from '../helpers/client';
import { blobFiles, masterAddress, shellEnv } from '../helpers/cluster';
import { damage, randomFile, sha256Of } from '../helpers/files';

const MIB = 1024 * 1024;

/**
 * Three nodes whose --capacity differs, so the master's choice of the node to read from (most room
 * first among idle nodes) is known: node1, then node2, then node3.
 */
async function rankedCluster(t: Test): Promise<TestCluster> {
  const cluster = await startCluster(t, 0);
  for (const [index, capacity] of ['300M', '200M', '100M'].entries()) cluster.nodes.push(await cluster.startNode(`node${index + 1}`, ['--capacity', capacity]));
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('three live nodes', async () => ((await admin.nodes()).filter((node) => node.state === 'alive').length === 3 ? true : undefined));
  return cluster;
}

t.test('two of three copies damaged on disk: get and cat still deliver the right bytes; the damaged copies read are replaced', async (t) => {
  const cluster = await rankedCluster(t);
  const work = await tempDir(t);
  const local = path.join(work, 'f');
  await randomFile(local, 8 * MIB + 3);
  const sha256 = await sha256Of(local);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  t.equal((await putFile(admin, local, '/f')).replicas?.have, 3, 'three copies');
  const copies = (await blobFiles(cluster)).filter((file) => !file.temporary);
  t.same(copies.map((copy) => copy.node), ['node1', 'node2', 'node3'], 'one on each node');
  for (const copy of copies.filter((file) => file.node !== 'node3')) await damage(copy.file);

  const out = path.join(work, 'back');
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `get /f ${out}`], { env: shellEnv(cluster), timeoutMs: 60_000 });
  t.equal(run.code, 0, `get succeeded\n${run.stderr}`);
  t.equal(await sha256Of(out), sha256, 'with the file\'s bytes (read first from the damaged copies, then from node3)');
  t.same((await fs.readdir(work)).sort(), ['back', 'f'], 'and no temporary file left beside it');
  // The copies read were found damaged (the nodes told the master), and the repairer replaces them.
  const badLine = /replica of blob \S+ on (\S+) is bad/g;
  const markedBad = await waitFor('a damaged copy to be marked bad', async () => {
    const nodes = [...cluster.master.output().stderr.matchAll(badLine)].map((match) => match[1] ?? '');
    return nodes.length > 0 ? new Set(nodes) : undefined;
  });
  await waitFor('3 good copies again', async () => ((await admin.stat('/f')).replicas?.have === 3 ? true : undefined), 60_000);
  const dirs = new Map((await admin.nodes()).map((node) => [node.nodeId, `node${1 + cluster.nodes.findIndex((process) => node.advertise.endsWith(`:${process.address.port}`))}`]));
  for (const nodeId of markedBad) {
    const [again] = (await blobFiles(cluster)).filter((file) => !file.temporary && file.node === dirs.get(nodeId));
    t.equal(again && (await sha256Of(again.file)), sha256, `${dirs.get(nodeId) ?? nodeId}: its damaged copy was replaced by a whole one`);
  }

  // cat cannot take back bytes it printed: a damaged copy not yet found fails it cleanly (and gets it
  // found); by the third try every damaged copy is known.
  let catCode: number | null = null;
  for (let attempt = 1; attempt <= 3 && catCode !== 0; attempt++) {
    const cat = await runDfs(['shell', masterAddress(cluster), '-c', 'cat /f'], { env: shellEnv(cluster), timeoutMs: 60_000 });
    catCode = cat.code;
    if (cat.code !== 0) t.match(cat.stderr, /^dfs: cat: \/f: received \d+ bytes hashing to \w+; expected/, `cat ${attempt} failed cleanly on a damaged copy`);
  }
  t.equal(catCode, 0, 'cat succeeds by the third try');
});

t.test('the node serving a download is killed (SIGKILL) in the middle: cat resumes from another replica, every byte right', async (t) => {
  const cluster = await rankedCluster(t);
  const work = await tempDir(t);
  const local = path.join(work, 'big');
  const size = 64 * MIB;
  await randomFile(local, size);
  const sha256 = await sha256Of(local);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  t.equal((await putFile(admin, local, '/big')).replicas?.have, 3, 'three copies');

  const shell = spawn(DFS, ['shell', masterAddress(cluster), '-c', 'cat /big'], { env: shellEnv(cluster), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => shell.once('exit', (code) => resolve(code)));
  const hash = createHash('sha256');
  let received = 0;
  // Read 4 MiB, then stop reading: back-pressure holds the transfer half way while the node is killed.
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      hash.update(chunk);
      received += chunk.length;
      if (received < 4 * MIB) return;
      shell.stdout.off('data', onData);
      shell.stdout.pause();
      resolve();
    };
    shell.stdout.on('data', onData);
  });
  const serving = cluster.nodes[0];
  if (!serving) throw new Error('no node1');
  // Until the socket buffers between are full, the kernel would still deliver what they hold after the kill.
  await waitFor('the transfer to stall', async () => {
    const before = await ioBytes(serving.child.pid ?? 0, 'wchar');
    await new Promise((resolve) => setTimeout(resolve, 300));
    return (await ioBytes(serving.child.pid ?? 0, 'wchar')) === before ? true : undefined;
  });
  serving.child.kill('SIGKILL');
  await serving.exited;
  t.ok(received < size / 2, `killed after ${received} of ${size} bytes`);
  shell.stdout.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    received += chunk.length;
  });
  shell.stdout.resume();
  t.equal(await exited, 0, `cat succeeded\n${stderr}`);
  t.equal(received, size, 'every byte arrived, once');
  t.equal(hash.digest('hex'), sha256, 'and they are the file\'s');
});

/** Once both nodes of a `--replicas 2` cluster are alive, puts a random file of `bytes` as /f, with its two copies. */
async function putTwoCopies(t: Test, cluster: TestCluster, bytes: number): Promise<{ admin: Awaited<ReturnType<typeof loginAt>>; work: string; sha256: string }> {
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('two live nodes', async () => ((await admin.nodes()).filter((node) => node.state === 'alive').length === 2 ? true : undefined));
  const work = await tempDir(t);
  const local = path.join(work, 'f');
  await randomFile(local, bytes);
  const sha256 = await sha256Of(local);
  t.equal((await putFile(admin, local, '/f')).replicas?.have, 2, 'two copies');
  return { admin, work, sha256 };
}

t.test('with scrubbing off (--scrub-rate 0), a damaged copy a reader blamed is still re-hashed by its node and replaced', async (t) => {
  const cluster = await startCluster(t, 0, ['--replicas', '2']);
  // node1 has the most room, so the master has it serve the read first.
  cluster.nodes.push(await cluster.startNode('node1', ['--capacity', '300M', '--scrub-rate', '0']), await cluster.startNode('node2', ['--capacity', '100M', '--scrub-rate', '0']));
  const { admin, work, sha256 } = await putTwoCopies(t, cluster, 2 * MIB + 7);
  const [copy] = (await blobFiles(cluster)).filter((file) => !file.temporary && file.node === 'node1');
  if (!copy) throw new Error('no copy on node1');
  await damage(copy.file);

  const out = path.join(work, 'back');
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `get /f ${out}`], { env: shellEnv(cluster), timeoutMs: 60_000 });
  t.equal(run.code, 0, `get succeeded\n${run.stderr}`);
  t.equal(await sha256Of(out), sha256, 'with the file\'s bytes (node1\'s were wrong, node2\'s right)');
  t.match(cluster.nodes[0]?.output().stderr ?? '', /scrubbing is off \(--scrub-rate 0\)/, 'node1 makes no scrub passes');
  await waitFor('node1\'s copy to be marked bad', async () => (/replica of blob \S+ on \S+ is bad: corrupt/.test(cluster.master.output().stderr) ? true : undefined));
  await waitFor('2 good copies again', async () => ((await admin.stat('/f')).replicas?.have === 2 ? true : undefined), 60_000);
  const [again] = (await blobFiles(cluster)).filter((file) => !file.temporary && file.node === 'node1');
  t.equal(again && (await sha256Of(again.file)), sha256, 'node1 holds a whole copy again');
});

/** A TCP relay in front of a node (which advertises the relay's address). Armed, it flips one bit of what the node
 * sends on the next connection, `flipAt` bytes into it; everything else it passes unchanged. */
async function flippingRelay(t: Test): Promise<{ port: number; target: { port: number } | undefined; flipAt: number | undefined; flipped: number }> {
  const relay = { port: 0, target: undefined as { port: number } | undefined, flipAt: undefined as number | undefined, flipped: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (!relay.target) return void client.destroy();
    const node = connect(relay.target.port, '127.0.0.1');
    sockets.add(node);
    node.on('close', () => sockets.delete(node));
    node.on('error', () => client.destroy());
    client.on('close', () => node.destroy());
    node.on('close', () => client.destroy());
    const flipAt = relay.flipAt;
    relay.flipAt = undefined; // one connection, once
    let sent = 0;
    node.on('data', (chunk: Buffer) => {
      if (flipAt !== undefined && sent <= flipAt && flipAt < sent + chunk.length) {
        chunk[flipAt - sent] = (chunk[flipAt - sent] ?? 0) ^ 0x10;
        relay.flipped++;
      }
      sent += chunk.length;
      if (!client.write(chunk)) node.pause();
    });
    client.on('drain', () => node.resume());
    client.pipe(node);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as AddressInfo).port;
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return relay;
}

t.test('a bit flipped on the wire from the serving node: TLS refuses the record, get reads on from the other copy, every byte right, no copy blamed', async (t) => {
  const cluster = await startCluster(t, 0, ['--replicas', '2']);
  const relay = await flippingRelay(t);
  // node1 has the most room, so the master has it serve the read; it is reached through the relay.
  const node1 = await cluster.startNode('node1', ['--capacity', '300M', '--advertise', `127.0.0.1:${relay.port}`]);
  relay.target = node1.address;
  cluster.nodes.push(node1, await cluster.startNode('node2', ['--capacity', '100M']));
  const { admin, work, sha256 } = await putTwoCopies(t, cluster, 8 * MIB + 5);

  relay.flipAt = 3 * MIB; // well past the handshake: a record of the file's bytes
  const out = path.join(work, 'back');
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `get /f ${out}`], { env: shellEnv(cluster), timeoutMs: 60_000 });
  t.equal(relay.flipped, 1, 'one bit was flipped on the way from node1');
  t.equal(run.code, 0, `get succeeded\n${run.stderr}`);
  t.equal(await sha256Of(out), sha256, 'with the file\'s bytes');
  t.notMatch(cluster.master.output().stderr, /is bad|asking it to re-hash/, 'node1\'s copy is whole: nobody blamed it');
  t.equal((await admin.stat('/f')).replicas?.have, 2, 'two good copies still');
});
