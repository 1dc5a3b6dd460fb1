// Self-healing benchmark (issue 5): the time to restore full replication after a node dies, against
// the time to put the same bytes. A master (`--replicas 3 --node-timeout 5`) and 4 nodes from build/dfs
// on loopback; one client puts DFS_BENCH_BYTES (default 1 GiB) spread over DFS_BENCH_HEAL_FILES files
// (default 64), one file after the other, each put waiting for its 3 copies (timed). Then a node holding
// copies is killed (SIGKILL) and the catalog is polled every 200 ms: first until `nodes` shows the node
// dead (detection), then until every file has 3 live copies again (restore). The bytes re-copied are the
// sizes of the files that had a copy on the dead node; the ratio compares the restore with the put time
// of that many bytes (the whole put's time scaled by re-copied / put bytes).

import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { connectCluster, type RemoteClient } from '../src/client/client';
import { randomFile } from '../test/helpers/files';
import { ADMIN_PASSWORD, dfsCluster, report, stopCluster, tempDir, timed, type Role } from './lib';

const BYTES = Number(process.env.DFS_BENCH_BYTES ?? 1024 ** 3);
const FILES = Number(process.env.DFS_BENCH_HEAL_FILES ?? 64);
const REPLICAS = 3;
const NODES = 4;
const NODE_TIMEOUT_S = 5;
const POLL_MS = 200;
/** Give up waiting for detection or restore after this long (a stuck repair fails the benchmark instead of hanging it). */
const GIVE_UP_MS = 30 * 60_000;
/** DFS_BENCH_TRACE=1: print the restore's progress at every poll, and the master's log, on stderr. */
const TRACE = Boolean(process.env.DFS_BENCH_TRACE);

interface Sample {
  remote: string;
  local: string;
  size: number;
}

function mbPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** FILES local files of random bytes summing to BYTES (the first ones take the remainder). */
async function makeFiles(dir: string): Promise<Sample[]> {
  const base = Math.floor(BYTES / FILES);
  const extra = BYTES % FILES;
  const samples: Sample[] = [];
  for (let index = 0; index < FILES; index++) {
    const size = base + (index < extra ? 1 : 0);
    const local = path.join(dir, `f${index}.bin`);
    await randomFile(local, size);
    samples.push({ remote: `/heal/f${String(index).padStart(4, '0')}`, local, size });
  }
  return samples;
}

/** Calls `probe` every POLL_MS until it returns true; resolves with the time it took from `sinceMs`. */
async function pollUntil(what: string, sinceMs: number, probe: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await probe()) return performance.now() - sinceMs;
    if (performance.now() - sinceMs > GIVE_UP_MS) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The node process a node id belongs to, matched by its listening port (like test/helpers/cluster.ts processOf). */
async function processOf(nodes: Role[], client: RemoteClient, nodeId: string): Promise<Role> {
  const info = (await client.nodes()).find((node) => node.nodeId === nodeId);
  const found = nodes.find((node) => info?.advertise.endsWith(`:${node.address.port}`));
  if (!found) throw new Error(`no process for node ${nodeId}`);
  return found;
}

async function main(): Promise<void> {
  if (!(BYTES > 0) || !(FILES >= 1) || !Number.isInteger(FILES)) throw new Error('DFS_BENCH_BYTES and DFS_BENCH_HEAL_FILES must be positive');
  const dir = await tempDir('dfs-bench-healing-');
  let cluster: Awaited<ReturnType<typeof dfsCluster>> | undefined;
  let client: RemoteClient | undefined;
  try {
    const sourceDir = path.join(dir, 'source');
    await fs.mkdir(sourceDir);
    const samples = await makeFiles(sourceDir);
    console.log(`${FILES} files, ${(BYTES / 2 ** 20).toFixed(0)} MiB in all, on loopback; replication ${REPLICAS}, ${NODES} nodes, node timeout ${NODE_TIMEOUT_S} s`);

    cluster = await dfsCluster(dir, REPLICAS, { nodes: NODES, masterArgs: ['--node-timeout', String(NODE_TIMEOUT_S)] });
    if (TRACE) cluster.master.child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`master: ${chunk.toString()}`));
    const admin = await connectCluster({ address: cluster.master.address, caPem: cluster.caPem, user: 'admin', password: ADMIN_PASSWORD });
    client = admin;
    await admin.mkdir('/heal', false);

    const put = await timed(async () => {
      for (const sample of samples) await admin.put([{ localPath: sample.local, remotePath: sample.remote }], { overwrite: false });
    });
    report(`dfs put r${REPLICAS}, ${FILES} files one at a time`, `${mbPerSecond(BYTES, put.ms).toFixed(0)} MB/s`);
    report('dfs put, time', seconds(put.ms));

    // Every file has its 3 copies before the kill (put waited for them).
    const holders = new Map<string, string[]>();
    for (const sample of samples) {
      const entry = await admin.stat(sample.remote);
      if (entry.replicas?.have !== REPLICAS) throw new Error(`${sample.remote}: ${entry.replicas?.have ?? 0}/${REPLICAS} copies after put`);
      holders.set(sample.remote, entry.replicas.nodes.map((node) => node.split(' ')[0] ?? ''));
    }
    const victimId = holders.get(samples[0]?.remote ?? '')?.[0] ?? '';
    const victim = await processOf(cluster.nodes, admin, victimId);
    const lost = samples.filter((sample) => holders.get(sample.remote)?.includes(victimId));
    const recopiedBytes = lost.reduce((sum, sample) => sum + sample.size, 0);

    const exited = once(victim.child, 'exit');
    const killedMs = performance.now();
    victim.child.kill('SIGKILL');
    await exited;
    // stopCluster would wait for an exit that already happened: the victim is no longer one of the nodes.
    cluster.nodes = cluster.nodes.filter((node) => node !== victim);

    const detectMs = await pollUntil('the killed node to be dead', killedMs, async () => (await admin.nodes()).find((node) => node.nodeId === victimId)?.state === 'dead');
    const fullMs = await pollUntil('3 live copies of every file', killedMs, async () => {
      if (TRACE) {
        let done = 0;
        for (const sample of lost) if ((await admin.stat(sample.remote)).replicas?.have === REPLICAS) done++;
        console.error(`${seconds(performance.now() - killedMs)} after the kill: ${done}/${lost.length} files back at ${REPLICAS} copies`);
      }
      for (const sample of samples) if ((await admin.stat(sample.remote)).replicas?.have !== REPLICAS) return false;
      return true;
    });
    const restoreMs = fullMs - detectMs;

    // What the master ended with: 3 live copies of every file, none on the dead node.
    let misplaced = 0;
    for (const sample of samples) {
      const live = (await admin.stat(sample.remote)).replicas?.nodes.filter((node) => !node.endsWith(' dead')) ?? [];
      if (live.length !== REPLICAS || live.some((node) => node.startsWith(victimId))) misplaced++;
    }

    const putSameBytesMs = put.ms * (recopiedBytes / BYTES);
    report('killed node', `${victimId.slice(0, 12)}`);
    report('files with a copy on it', `${lost.length}/${FILES}`);
    report('bytes re-copied', `${(recopiedBytes / 2 ** 20).toFixed(0)} MiB`);
    report('time to detect death (kill → nodes shows dead)', seconds(detectMs));
    report('time to restore after detection', seconds(restoreMs));
    report('time from kill to full replication', seconds(fullMs));
    report('restore rate (after detection)', `${mbPerSecond(recopiedBytes, restoreMs).toFixed(0)} MB/s`);
    report('put time of the re-copied bytes', seconds(putSameBytesMs));
    report('ratio: restore / put of the same bytes', (restoreMs / putSameBytesMs).toFixed(2));
    report('ratio: kill→restored / put of the same bytes', (fullMs / putSameBytesMs).toFixed(2));
    if (misplaced > 0) report('files NOT at 3 live copies off the dead node', String(misplaced));
  } finally {
    client?.close();
    if (cluster) await stopCluster(cluster);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
