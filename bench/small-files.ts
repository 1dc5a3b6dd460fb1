// Small-file benchmark (issue 4): DFS_BENCH_SMALL_FILES files (default 1,000) of 4 KiB, each with its own
// random bytes, put by 4 concurrent clients (one connection to the master each, logged in as admin,
// one put in flight each) with replication 3 on a master + 3 nodes from build/dfs on loopback. Prints
// files per second with the default wait for every replica, and again with `wait: false` (put returns
// after the first copy is committed). Afterwards, outside the timing, a sample of the files of both
// runs must show 3 replicas.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { connectCluster, type RemoteClient } from '../src/client/client';
import { ADMIN_PASSWORD, dfsCluster, report, stopCluster, tempDir, timed } from './lib';

const FILES = Number(process.env.DFS_BENCH_SMALL_FILES ?? 1_000);
const FILE_BYTES = 4 * 1024;
const CLIENTS = 4;
const REPLICAS = 3;
/** Files per run whose replicas are checked at the end. */
const SAMPLE = 50;
/** A `wait: false` file's chain may still be running when it is checked: this long is allowed. */
const SETTLE_MS = 10_000;

if (!Number.isInteger(FILES) || FILES < CLIENTS) throw new Error(`DFS_BENCH_SMALL_FILES must be an integer >= ${CLIENTS}`);

interface Work {
  local: string;
  remote: string;
}

/** The files of one run, made beforehand: client c puts files c, c + CLIENTS, ... (250 each at the default). */
async function makeFiles(dir: string, run: string): Promise<Work[][]> {
  const local = path.join(dir, run);
  await fs.mkdir(local);
  const perClient: Work[][] = Array.from({ length: CLIENTS }, () => []);
  for (let index = 0; index < FILES; index++) {
    const name = `f${String(index).padStart(6, '0')}`;
    const file = path.join(local, name);
    await fs.writeFile(file, randomBytes(FILE_BYTES));
    perClient[index % CLIENTS]?.push({ local: file, remote: `/${run}/c${index % CLIENTS}/${name}` });
  }
  return perClient;
}

/** Every client puts its files one after another, all clients at once; returns files per second. */
async function putAll(clients: RemoteClient[], perClient: Work[][], wait: boolean): Promise<number> {
  const { ms } = await timed(() =>
    Promise.all(
      clients.map(async (client, index) => {
        for (const work of perClient[index] ?? []) await client.put(work.local, work.remote, { wait });
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

async function main(): Promise<void> {
  const dir = await tempDir('dfs-bench-small-');
  let cluster: Awaited<ReturnType<typeof dfsCluster>> | undefined;
  const clients: RemoteClient[] = [];
  try {
    const waited = await makeFiles(dir, 'wait');
    const unwaited = await makeFiles(dir, 'nowait');
    console.log(`${FILES} files of ${FILE_BYTES / 1024} KiB, ${CLIENTS} clients, replication ${REPLICAS}, on loopback`);
    cluster = await dfsCluster(dir, REPLICAS);
    const { master, caPem } = cluster;
    for (let index = 0; index < CLIENTS; index++) {
      clients.push(await connectCluster({ address: master.address, caPem, user: 'admin', password: ADMIN_PASSWORD }));
    }
    const first = clients[0] as RemoteClient;
    for (const run of ['wait', 'nowait']) {
      for (let index = 0; index < CLIENTS; index++) await first.mkdir(`/${run}/c${index}`, true);
    }

    const withWait = await putAll(clients, waited, true);
    report(`small files/s, ${CLIENTS} clients, r${REPLICAS}, wait for replicas`, withWait.toFixed(0), '>= 500');
    const withoutWait = await putAll(clients, unwaited, false);
    report(`small files/s, ${CLIENTS} clients, r${REPLICAS}, wait: false`, withoutWait.toFixed(0));

    const checked = await checkReplicas(first, waited, 0);
    await checkReplicas(first, unwaited, SETTLE_MS);
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
