// Metadata benchmark (issue 3): acknowledged mkdirs and stats per second from 8 TLS clients on a
// real `build/dfs master` (journal fsynced), ls of a 10,000-entry directory, and at 1,000,000
// entries: find, master resident memory, cold start (snapshot load + journal replay).

import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { connectCluster, type RemoteClient } from '../src/client/client';
import { Catalog } from '../src/master/catalog/catalog';
import { ADMIN_PASSWORD, median, report, residentBytes, startRole, stopRole, tempDir, timed, type Role } from './lib';

const CLIENTS = 8;
const PHASE_MS = 4_000;

async function clients(master: Role, caPem: string): Promise<RemoteClient[]> {
  return Promise.all(
    Array.from({ length: CLIENTS }, () => connectCluster({ address: master.address, caPem, user: 'admin', password: ADMIN_PASSWORD })),
  );
}

/**
 * Every client keeps `window` operations in flight (like an application issuing them from several
 * threads) for PHASE_MS; returns acknowledged operations per second.
 */
async function rate(
  all: RemoteClient[],
  window: number,
  operation: (client: RemoteClient, worker: number, index: number) => Promise<unknown>,
): Promise<number> {
  const deadline = performance.now() + PHASE_MS;
  let done = 0;
  const began = performance.now();
  await Promise.all(
    all.flatMap((client, worker) =>
      Array.from({ length: window }, async (_, lane) => {
        for (let index = lane; performance.now() < deadline; index += window) {
          await operation(client, worker, index);
          done++;
        }
      }),
    ),
  );
  return done / ((performance.now() - began) / 1000);
}

async function smallScale(): Promise<void> {
  const dataDir = await tempDir('dfs-bench-meta-');
  const master = await startRole(['master', '--data', dataDir, '--listen', '127.0.0.1:0']);
  const caPem = await fs.readFile(path.join(dataDir, 'ca.pem'), 'utf8');
  const all = await clients(master, caPem);
  for (const window of [1, 8]) {
    await Promise.all(all.map((client, worker) => client.mkdir(`/w${window}-c${worker}`, false)));
    const mkdirs = await rate(all, window, (client, worker, index) => client.mkdir(`/w${window}-c${worker}/d${index}`, false));
    report(`mkdir/s, 8 clients x ${window} in flight, fsynced`, mkdirs.toFixed(0), '>= 5,000');
    const stats = await rate(all, window, (client, worker, index) => client.stat(`/w${window}-c${worker}/d${index % 100}`));
    report(`stat/s, 8 clients x ${window} in flight`, stats.toFixed(0));
  }

  const first = all[0] as RemoteClient;
  await first.mkdir('/big', false);
  await Promise.all(all.map(async (client, worker) => {
    for (let index = worker; index < 10_000; index += CLIENTS) await client.mkdir(`/big/entry-${index}`, false);
  }));
  const times: number[] = [];
  for (let run = 0; run < 5; run++) {
    const { ms, value } = await timed(() => first.list('/big'));
    if (value.length !== 10_000) throw new Error(`ls returned ${value.length} entries`);
    times.push(ms);
  }
  report('ls of 10,000 entries (median of 5)', `${median(times).toFixed(1)} ms`, '< 100 ms');
  for (const client of all) client.close();
  await stopRole(master);
  await fs.rm(dataDir, { recursive: true, force: true });
}

/** Through the catalog's public API, a directory per transaction (createFiles), journaled as usual. */
async function fill(catalog: Catalog, owner: number, directories: number, filesPerDirectory: number): Promise<void> {
  for (let directory = 0; directory < directories; directory++) {
    await catalog.mkdir(owner, `/dir-${directory}`);
    const files = Array.from({ length: filesPerDirectory }, (_, file) => {
      const id = (directory * filesPerDirectory + file).toString(16).padStart(32, '0');
      return { name: `file-${file}`, size: 1000 + file, blobId: id, sha256: id + id };
    });
    await catalog.createFiles(owner, `/dir-${directory}`, files);
  }
}

/** 1,000 directories of 1,000 files each, written straight into a catalog, then served by a real master. */
async function largeScale(): Promise<void> {
  const dataDir = await tempDir('dfs-bench-million-');
  const built = await timed(async () => {
    const catalog = await Catalog.open(dataDir);
    const owner = (await catalog.createUser('admin-bulk', null, false)).id;
    await fill(catalog, owner, 1_000, 1_000);
    await catalog.close();
  });
  report('build 1,000,000 entries (bulk, in-process)', `${(built.ms / 1000).toFixed(1)} s`);
  const master = await startRole(['master', '--data', dataDir, '--listen', '127.0.0.1:0']);
  report('cold start with 1,000,000 entries', `${(master.startedMs / 1000).toFixed(2)} s`, '< 10 s');
  report('master resident memory, 1,000,000 entries', `${(residentBytes(master.child.pid ?? 0) / 2 ** 20).toFixed(0)} MB`, '< 500 MB');
  const caPem = await fs.readFile(path.join(dataDir, 'ca.pem'), 'utf8');
  const client = await connectCluster({ address: master.address, caPem, user: 'admin-bulk', password: undefined });
  const times: number[] = [];
  let matches = 0;
  for (let run = 0; run < 3; run++) {
    const { ms, value } = await timed(async () => {
      let count = 0;
      for await (const _entry of client.find('/', { name: 'file-*77' })) count++;
      return count;
    });
    times.push(ms);
    matches = value;
  }
  report(`find -name over 1,000,000 entries (${matches} hits)`, `${median(times).toFixed(0)} ms`, '< 1 s');
  report('master resident memory after find', `${(residentBytes(master.child.pid ?? 0) / 2 ** 20).toFixed(0)} MB`, '< 500 MB');
  client.close();
  await stopRole(master);
  await fs.rm(dataDir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  await smallScale();
  // The million-entry part takes minutes to build; DFS_BENCH_QUICK=1 skips it.
  if (process.env.DFS_BENCH_QUICK !== '1') await largeScale();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
