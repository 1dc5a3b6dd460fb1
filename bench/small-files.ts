// Small-file benchmark (issue 4): DFS_BENCH_SMALL_FILES files (default 1,000) of 4 KiB, each with its own
// random bytes, put by 4 concurrent clients with replication 3 on a master + 3 nodes from build/dfs on
// loopback, waiting for every replica. Two ways: `put -r` of a directory of 250 files by 4 concurrent
// `dfs shell` processes (the product's path for many files: small files go in batches — the target's
// figure, process start and login included), and one `put` per file by 4 in-process clients, one in
// flight each (what a script calling put per file gets). Afterwards, outside the timing, a sample of
// the files of both runs must show 3 replicas.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { connectCluster, type RemoteClient } from '../src/client/client';
import { ADMIN_PASSWORD, cpuMs, reapedChildrenCpuMs, DFS, dfsCluster, fileCreationMicros, report, stopCluster, tempDir, timed, type Role } from './lib';

const FILES = Number(process.env.DFS_BENCH_SMALL_FILES ?? 1_000);
const FILE_BYTES = 4 * 1024;
const CLIENTS = 4;
const REPLICAS = 3;
/** Files put -r before the timed runs, so the master and nodes run warmed-up code. */
const WARM_FILES = 400;
/** Files per run whose replicas are checked at the end. */
const SAMPLE = 50;

if (!Number.isInteger(FILES) || FILES < CLIENTS) throw new Error(`DFS_BENCH_SMALL_FILES must be an integer >= ${CLIENTS}`);

interface Work {
  local: string;
  remote: string;
}

/** The files of one run, made beforehand: client c puts files c, c + CLIENTS, ... (250 each at the default). */
async function makeFiles(dir: string, run: string, files = FILES): Promise<Work[][]> {
  const local = path.join(dir, run);
  for (let client = 0; client < CLIENTS; client++) await fs.mkdir(path.join(local, `c${client}`), { recursive: true });
  const perClient: Work[][] = Array.from({ length: CLIENTS }, () => []);
  for (let index = 0; index < files; index++) {
    const name = `f${String(index).padStart(6, '0')}`;
    const file = path.join(local, `c${index % CLIENTS}`, name);
    await fs.writeFile(file, randomBytes(FILE_BYTES));
    perClient[index % CLIENTS]?.push({ local: file, remote: `/${run}/c${index % CLIENTS}/${name}` });
  }
  return perClient;
}

/** Every client puts its files one after another, all clients at once; returns files per second. */
async function putAll(clients: RemoteClient[], perClient: Work[][]): Promise<number> {
  const { ms } = await timed(() =>
    Promise.all(
      clients.map(async (client, index) => {
        for (const work of perClient[index] ?? []) await client.put([{ localPath: work.local, remotePath: work.remote }]);
      }),
    ),
  );
  return FILES / (ms / 1000);
}

/** `dfs shell -c "put -r LOCAL REMOTE"` for every client's directory, all at once; returns files per second. */
async function putTrees(master: string, caFile: string, dir: string, run: string, files = FILES): Promise<number> {
  const { ms } = await timed(() =>
    Promise.all(
      Array.from({ length: CLIENTS }, async (_, index) => {
        const local = path.join(dir, run, `c${index}`);
        const env = { ...process.env, DFS_PASSWORD: ADMIN_PASSWORD };
        const child = spawn(DFS, ['shell', master, '--ca', caFile, '--user', 'admin', '-c', `put -r ${local} /${run}/c${index}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const [code] = (await once(child, 'exit')) as [number | null];
        if (code !== 0) throw new Error(`put -r of client ${index} exited ${code}: ${stderr}`);
      }),
    ),
  );
  return FILES / (ms / 1000);
}

/** Evenly spread files of a run; each must reach REPLICAS good copies within `settleMs`. */
async function checkReplicas(client: RemoteClient, perClient: Work[][], settleMs: number): Promise<number> {
  const all = perClient.flat();
  const step = Math.max(1, Math.floor(all.length / SAMPLE));
  const deadline = Date.now() + settleMs;
  let checked = 0;
  for (let index = 0; index < all.length && checked < SAMPLE; index += step, checked++) {
    const { remote } = all[index] as Work;
    for (;;) {
      const have = (await client.stat(remote)).replicas?.have ?? 0;
      if (have === REPLICAS) break;
      if (Date.now() >= deadline) throw new Error(`${remote} has ${have} replicas, not ${REPLICAS}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return checked;
}

const cpuOf = (roles: Role[]): number[] => roles.map((role) => cpuMs(role.child.pid ?? 0));

/** The master's and the nodes' CPU per file since `before` (where the time goes; clients not counted). */
function reportCpu(roles: Role[], before: number[]): number[] {
  const now = cpuOf(roles);
  const perFile = now.map((ms, index) => (ms - (before[index] ?? 0)) / FILES);
  const nodes = perFile.slice(1).reduce((sum, ms) => sum + ms, 0);
  console.log(`  CPU per file: master ${(perFile[0] ?? 0).toFixed(2)} ms, ${roles.length - 1} nodes ${nodes.toFixed(2)} ms in all`);
  return now;
}

async function main(): Promise<void> {
  const dir = await tempDir('dfs-bench-small-');
  let cluster: Awaited<ReturnType<typeof dfsCluster>> | undefined;
  const clients: RemoteClient[] = [];
  try {
    await makeFiles(dir, 'warm', WARM_FILES);
    const trees = await makeFiles(dir, 'tree');
    const single = await makeFiles(dir, 'single');
    console.log(`${FILES} files of ${FILE_BYTES / 1024} KiB, ${CLIENTS} clients, replication ${REPLICAS}, on loopback, data in ${dir}`);
    console.log(`creating a file there costs ${(await fileCreationMicros(dir)).toFixed(0)} µs of CPU`);
    cluster = await dfsCluster(dir, REPLICAS);
    const { master, caPem } = cluster;
    const masterAddress = `${master.address.host}:${master.address.port}`;
    const caFile = path.join(dir, `master-r${REPLICAS}`, 'ca.pem');
    for (let index = 0; index < CLIENTS; index++) {
      clients.push(await connectCluster({ address: master.address, caPem, user: 'admin', password: ADMIN_PASSWORD }));
    }
    const first = clients[0] as RemoteClient;
    for (let index = 0; index < CLIENTS; index++) await first.mkdir(`/single/c${index}`, true);

    // A cluster runs for days: its JIT warm-up is not a cost of these files.
    await putTrees(masterAddress, caFile, dir, 'warm', WARM_FILES);
    const roles = [master, ...cluster.nodes];
    let cpu = cpuOf(roles);
    const shellsBefore = reapedChildrenCpuMs();
    const withTrees = await putTrees(masterAddress, caFile, dir, 'tree');
    report(`small files/s, ${CLIENTS} shells' put -r, r${REPLICAS}`, withTrees.toFixed(0), '>= 500');
    cpu = reportCpu(roles, cpu);
    console.log(`  CPU of the ${CLIENTS} shells: ${(reapedChildrenCpuMs() - shellsBefore).toFixed(0)} ms in all (process start and login included)`);
    const withSingle = await putAll(clients, single);
    report(`small files/s, ${CLIENTS} clients' put per file, r${REPLICAS}`, withSingle.toFixed(0));
    reportCpu(roles, cpu);

    const checked = await checkReplicas(first, trees, 0);
    await checkReplicas(first, single, 0);
    console.log(`replicas: ${checked} sampled files of each run have ${REPLICAS} (stat)`);
  } finally {
    for (const client of clients) client.close();
    if (cluster) await stopCluster(cluster);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
