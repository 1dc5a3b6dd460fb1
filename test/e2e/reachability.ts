// A node whose advertised address nobody can reach (here --advertise 127.0.0.1:1, a port where nothing listens): it
// heartbeats to the master, so it looks alive, yet no client or chain member can connect to it. Every put must still
// succeed (the client reports the node and goes elsewhere), the master must find out by probing the node itself, stop
// placing blobs there, say so in `nodes` and its log, and trust it again once a probe gets through.

import { networkInterfaces } from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { ADMIN_PASSWORD, runDfs, startCluster, startDfs, tempDir, waitFor } from '../helpers/binary';
import { loginAt } from '../helpers/client';
import { blobFiles, masterAddress, shellEnv } from '../helpers/cluster';
import { randomFile } from '../helpers/files';

t.test('a node nobody can reach: 10 of 10 puts succeed, the master marks it unreachable, and every file gets 3 copies elsewhere', async (t) => {
  const cluster = await startCluster(t, 3);
  const lost = await cluster.startNode('node4', ['--advertise', '127.0.0.1:1']);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('4 registered nodes', async () => ((await admin.nodes()).filter((node) => node.state === 'alive').length === 4 ? true : undefined));
  const lostId = (await admin.nodes()).find((node) => node.advertise === '127.0.0.1:1')?.nodeId ?? '';
  t.ok(lostId, 'the node registered at the address nobody can reach');

  const work = await tempDir(t);
  // One put per shell (a fresh client each time: nothing remembered between them), the files big enough that the
  // emptiest node — the lost one, at first — is chosen.
  const codes: number[] = [];
  for (let index = 0; index < 10; index++) {
    const local = path.join(work, `f${index}`);
    await randomFile(local, 256 * 1024 + index);
    const run = await runDfs(['shell', masterAddress(cluster), '-c', `put ${local} /f${index}`], { env: shellEnv(cluster) });
    codes.push(run.code ?? -1);
    if (run.code !== 0) t.comment(run.stderr);
  }
  t.same(codes, Array(10).fill(0), '10 of 10 puts succeeded');

  await waitFor('the master to mark it unreachable', async () => ((await admin.nodes()).find((node) => node.nodeId === lostId)?.state === 'unreachable' ? true : undefined));
  t.match(cluster.master.output().stderr, new RegExp(`node ${lostId} is unreachable at 127\\.0\\.0\\.1:1 \\(.* could not connect, nor could the master\\)`), 'the master logs it, with who reported it');
  const nodes = await runDfs(['shell', masterAddress(cluster), '-c', 'nodes'], { env: shellEnv(cluster) });
  t.match(nodes.stdout, new RegExp(`${lostId}\\s+127\\.0\\.0\\.1:1\\s+unreachable`), '`nodes` shows it unreachable');
  t.match(nodes.stdout, /4 nodes: 3 alive, 0 full, 1 unreachable, 0 dead/, 'and counts it');
  await waitFor('3 good copies of every file, none on the lost node', async () => {
    for (let index = 0; index < 10; index++) {
      const entry = await admin.stat(`/f${index}`);
      if (entry.replicas?.have !== 3 || entry.replicas.nodes.some((node) => node.startsWith(lostId))) return undefined;
    }
    return true;
  }, 60_000);
  t.pass('every file has 3 copies on the reachable nodes');
  t.same((await blobFiles(cluster)).filter((file) => file.node === 'node4'), [], 'the lost node holds no blob');

  // Back at an address that works, it is trusted again.
  lost.child.kill('SIGTERM');
  await lost.exited;
  await cluster.startNode('node4');
  await waitFor('the node to be alive at its new address', async () => ((await admin.nodes()).find((node) => node.nodeId === lostId)?.state === 'alive' ? true : undefined));
  t.pass('registered at a reachable address, it is alive again');
});

t.test('a user who calls every node unreachable, 300 times, takes none out of service: the master believes only its own probes', async (t) => {
  const cluster = await startCluster(t, 2, ['--log-level', 'debug']);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const nodeIds = (await admin.nodes()).map((node) => node.nodeId);
  const liar = await cluster.client();
  const answers = await Promise.all(
    Array.from({ length: 300 }, (_, index) =>
      liar.request('file.put.begin', { files: [{ path: `/lie${index}`, size: 1 }], overwrite: false, unreachable: nodeIds }).then(
        () => 'placed',
        (error: { code?: string }) => error.code ?? 'error',
      ),
    ),
  );
  t.same([...new Set(answers)], ['UNAVAILABLE'], 'each such put has nowhere to go (it named every node)');
  // The reports started one probe of each node (probes of a node are UNREACHABLE_PROBE_GAP_MS apart); their outcome:
  const probed = await waitFor('the probes of both nodes', async () => {
    const lines = cluster.master.output().stderr.match(/probed node \S+ at \S+: \w+/g) ?? [];
    return lines.length >= 2 ? lines : undefined;
  });
  t.same(probed.map((line) => line.split(': ')[1]), ['reachable', 'reachable'], 'both probes got through');
  t.same((await admin.nodes()).map((node) => node.state), ['alive', 'alive'], 'both nodes stay in service');
  const probes = cluster.master.output().stderr.match(/is unreachable at|is reachable again/g) ?? [];
  t.same(probes, [], 'no node was marked');
  const work = await tempDir(t);
  await randomFile(path.join(work, 'f'), 1000);
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `put ${work}/f /f`], { env: shellEnv(cluster) });
  t.equal(run.code, 0, 'an honest put still lands');
});

const lan = Object.values(networkInterfaces()).flat().find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;

t.test('a node about to advertise a loopback address to a master on another address warns loudly', { skip: lan ? false : 'this machine has no non-loopback IPv4 address' }, async (t) => {
  const dir = await tempDir(t);
  const master = await startDfs(t, ['master', '--data', path.join(dir, 'master'), '--listen', `${lan}:0`], { env: { DFS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  const node = await startDfs(t, ['node', '--master', `${lan}:${master.address.port}`, '--token-file', path.join(dir, 'master', 'join-token'), '--data', path.join(dir, 'node'), '--listen', '127.0.0.1:0']);
  await waitFor('the node to register', async () => (/registered with the master/.test(node.output().stderr) ? true : undefined));
  t.match(node.output().stderr, `node warn advertising 127.0.0.1:${node.address.port}, a loopback address, to a master on ${lan}:${master.address.port}: clients and nodes on other machines cannot reach this node there; give --advertise HOST:PORT`);
});
