// The administrator's tools, measured (issue 15): how fast rebalance and drain move bytes, against the time to
// put the same bytes. A master and 3 nodes from build/dfs on loopback, each node's --capacity twice the bytes it
// will hold; one client puts DFS_BENCH_BYTES (default 256 MiB) in DFS_BENCH_ADMIN_FILES files (default 32) with 3
// copies (timed). Then a 4th, empty node joins and `rebalance` runs until it reports done (timed; bytes moved as it
// counts them). Then the fullest node is drained until `nodes` shows it drained (timed; the bytes it held). Ratios
// compare each with the put time of the same bytes (the whole put's time scaled by bytes / put bytes).

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { connectCluster, type RemoteClient } from '../src/client/client';
import { randomFile } from '../test/helpers/files';
import { ADMIN_PASSWORD, report, startRole, stopCluster, tempDir, timed, type Role } from './lib';

const BYTES = Number(process.env.DFS_BENCH_BYTES ?? 256 * 1024 ** 2);
const FILES = Number(process.env.DFS_BENCH_ADMIN_FILES ?? 32);
const POLL_MS = 200;
const GIVE_UP_MS = 30 * 60_000;

const mbPerSecond = (bytes: number, ms: number): string => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;

async function pollUntil(what: string, probe: () => Promise<boolean>): Promise<void> {
  const began = performance.now();
  while (!(await probe())) {
    if (performance.now() - began > GIVE_UP_MS) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function main(): Promise<void> {
  const dir = await tempDir('dfs-bench-admin-');
  const capacity = `${Math.ceil((2 * BYTES) / 2 ** 20)}M`;
  const masterDir = path.join(dir, 'master');
  const roles: { master: Role | undefined; nodes: Role[] } = { master: undefined, nodes: [] };
  let client: RemoteClient | undefined;
  try {
    const master = await startRole(['master', '--data', masterDir, '--listen', '127.0.0.1:0']);
    roles.master = master;
    const startNode = (index: number): Promise<Role> =>
      startRole(['node', '--master', `127.0.0.1:${master.address.port}`, '--token-file', path.join(masterDir, 'join-token'), '--data', path.join(dir, `node${index}`), '--listen', '127.0.0.1:0', '--capacity', capacity]);
    roles.nodes = await Promise.all([1, 2, 3].map(startNode));
    const admin = await connectCluster({ address: master.address, caPem: await fs.readFile(path.join(masterDir, 'ca.pem'), 'utf8'), user: 'admin', password: ADMIN_PASSWORD });
    client = admin;
    await pollUntil('3 nodes', async () => (await admin.nodes()).filter((node) => node.state === 'alive').length === 3);
    const sources = path.join(dir, 'source');
    await fs.mkdir(sources);
    const files: { local: string; remote: string }[] = [];
    for (let index = 0; index < FILES; index++) {
      const local = path.join(sources, `f${index}`);
      await randomFile(local, Math.floor(BYTES / FILES));
      files.push({ local, remote: `/f${index}` });
    }
    console.log(`${FILES} files, ${(BYTES / 2 ** 20).toFixed(0)} MiB in all, 3 copies, nodes of ${capacity} on loopback`);
    const put = await timed(async () => {
      for (const file of files) await admin.put([{ localPath: file.local, remotePath: file.remote }]);
    });
    report('dfs put r3, one file at a time', mbPerSecond(BYTES, put.ms));
    const putMsOf = (bytes: number): number => put.ms * (bytes / BYTES);

    roles.nodes.push(await startNode(4));
    await pollUntil('the 4th node', async () => (await admin.nodes()).filter((node) => node.state === 'alive').length === 4);
    const rebalance = await timed(async () => {
      await admin.rebalance(10, false);
      await pollUntil('the rebalance to end', async () => (await admin.cluster()).rebalance?.running === false);
    });
    const balancing = (await admin.cluster()).rebalance;
    const moved = balancing?.bytes ?? 0;
    report('rebalance: bytes moved to the new node', `${(moved / 2 ** 20).toFixed(0)} MiB (${balancing?.moved ?? 0} blobs, ${balancing?.failed ?? 0} failed)`);
    report('rebalance: rate', mbPerSecond(moved, rebalance.ms));
    report('ratio: rebalance / put of the same bytes', (rebalance.ms / putMsOf(moved)).toFixed(2));

    const fullest = (await admin.nodes()).sort((a, b) => b.usedBytes - a.usedBytes)[0];
    if (!fullest) throw new Error('no node');
    const drain = await timed(async () => {
      await admin.drain(fullest.nodeId, true);
      await pollUntil('the node to be drained', async () => (await admin.nodes()).find((node) => node.nodeId === fullest.nodeId)?.state === 'drained');
    });
    report('drain: bytes the drained node held', `${(fullest.usedBytes / 2 ** 20).toFixed(0)} MiB`);
    report('drain: rate', mbPerSecond(fullest.usedBytes, drain.ms));
    report('ratio: drain / put of the same bytes', (drain.ms / putMsOf(fullest.usedBytes)).toFixed(2));
  } finally {
    client?.close();
    if (roles.master) await stopCluster({ master: roles.master, nodes: roles.nodes });
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
