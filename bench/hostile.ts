// Hostile clients benchmark (issue 12): a master and a node from build/dfs on loopback, then one flood after another
// — guesses, a hashing flood, huge frames from strangers, 20,000 idle connections, a session flood, unique names —
// each measured while it runs: the master's and the node's peak resident memory, and the latency of a logged-in
// admin's mkdir issued every 50 ms meanwhile (median and worst). Issue 12 asks for mkdir under 100 ms during the
// hashing flood and the master within its normal memory + 300 MB under every attack. Printed, never judged.
//   DFS_BENCH_IDLE=20000 connections for the idle flood (DFS_BENCH_IDLE_TLS of them through TLS, default all);
//   DFS_BENCH_NAMES=600000 unique user names.

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { HostPort } from '../src/wire/address';
import type { Channel } from '../src/wire/channel';
import { connectTls, MASTER_CN } from '../src/trust/tls';
import { allButLastByte, attack, loopback } from '../test/helpers/hostile';
import { ADMIN_PASSWORD, dfsCluster, median, residentBytes, stopCluster, tempDir } from './lib';

const MB = 1024 * 1024;
const IDLE = Number(process.env.DFS_BENCH_IDLE ?? 20_000);
const IDLE_TLS = Number(process.env.DFS_BENCH_IDLE_TLS ?? IDLE);
const NAMES = Number(process.env.DFS_BENCH_NAMES ?? 600_000);

function connectFrom(master: HostPort, caPem: string, source: string): Promise<Channel> {
  return connectTls({ address: master, caPem, expectCommonName: MASTER_CN, localAddress: source });
}

/** Runs `flood` while an admin's mkdir goes every 50 ms and the two processes' memory is sampled; prints one line. */
async function measure(name: string, pids: { master: number; node: number }, admin: Channel, flood: () => Promise<string>): Promise<void> {
  const before = { master: residentBytes(pids.master), node: residentBytes(pids.node) };
  const peak = { ...before };
  let running = true;
  const sampler = setInterval(() => {
    try {
      peak.master = Math.max(peak.master, residentBytes(pids.master));
      peak.node = Math.max(peak.node, residentBytes(pids.node));
    } catch {
      // a process is gone: its exit is reported
    }
  }, 50);
  const latencies: number[] = [];
  let index = 0;
  const prober = (async () => {
    while (running) {
      const began = performance.now();
      await admin.request('fs.mkdir', { path: `/probe-${name.replace(/\W+/g, '-')}-${index++}`, parents: false }).catch(() => undefined);
      latencies.push(performance.now() - began);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const began = performance.now();
  const what = await flood();
  const seconds = (performance.now() - began) / 1000;
  running = false;
  await prober;
  clearInterval(sampler);
  const mb = (bytes: number): string => (bytes / MB).toFixed(0);
  console.log(
    `${name.padEnd(34)} ${seconds.toFixed(1).padStart(5)} s  master ${mb(before.master)}→${mb(peak.master)} MB (+${mb(peak.master - before.master)})  node ${mb(before.node)}→${mb(peak.node)} MB  ` +
      `mkdir median ${median(latencies).toFixed(1)} ms, worst ${Math.max(...latencies).toFixed(1)} ms (${latencies.length})  ${what}`,
  );
}

/** Counts of outcomes by code. */
async function tally(requests: Promise<unknown>[]): Promise<string> {
  const counts: Record<string, number> = {};
  for (const result of await Promise.allSettled(requests)) {
    const key = result.status === 'fulfilled' ? 'OK' : ((result.reason as { code?: string }).code ?? 'error');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return JSON.stringify(counts);
}

/** `count` strangers each announcing a 16 MiB frame and sending all but its last byte, as fast as taken. */
async function hugeFrames(address: HostPort, count: number, block: number): Promise<string> {
  const results = await Promise.all(Array.from({ length: count }, (_, index) => attack(address, loopback(block, index * 250), allButLastByte, 15_000)));
  return `${results.filter((result) => result === 'closed by the server').length} of ${count} closed by the server`;
}

async function main(): Promise<void> {
  const dir = await tempDir('hostile-');
  const cluster = await dfsCluster(dir, 1, { nodes: 1 });
  const { master, caPem } = cluster;
  const node = cluster.nodes[0];
  if (!node || master.child.pid === undefined || node.child.pid === undefined) throw new Error('no cluster');
  const pids = { master: master.child.pid, node: node.child.pid };
  let stopping = false;
  for (const [name, role] of [['master', master], ['node', node]] as const) {
    role.child.once('exit', (code, signal) => {
      if (!stopping) console.log(`${name} EXITED (${signal ?? code}):\n${role.stderr().split('\n').slice(-15).join('\n')}`);
    });
  }
  try {
    const admin = await connectFrom(master.address, caPem, '127.0.0.1');
    await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
    await admin.request('auth.useradd', { user: 'alice', password: 'alice-password' });
    await measure('quiet (no attack, 3 s)', pids, admin, async () => {
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      return '';
    });

    await measure('200 guesses at once, 4 connections', pids, admin, async () => {
      const channels = await Promise.all([1, 2, 3, 4].map(() => connectFrom(master.address, caPem, '127.0.0.1')));
      const result = await tally(Array.from({ length: 200 }, (_, i) => (channels[i % 4] as Channel).request('auth.login', { user: 'alice', password: `guess-${i}` })));
      for (const channel of channels) channel.close();
      return result;
    });

    let channels: Channel[] = [];
    await measure('200 TLS handshakes at once', pids, admin, async () => {
      channels = await Promise.all(Array.from({ length: 200 }, (_, i) => connectFrom(master.address, caPem, loopback(50, i))));
      return '200 connections from 200 addresses';
    });
    await measure('hashing flood: 2,000 at once x 5', pids, admin, async () => {
      const results: string[] = [];
      for (let round = 0; round < 5; round++) {
        results.push(await tally(channels.flatMap((channel, source) => Array.from({ length: 10 }, (_, guess) => channel.request('auth.login', { user: `u${round}-${source}-${guess}`, password: 'guess-guess' })))));
      }
      for (const channel of channels) channel.close();
      return results.join(' ');
    });

    await measure('100 strangers x 16 MiB frames', pids, admin, () => hugeFrames(master.address, 100, 51));
    await measure('40 strangers x 16 MiB frames (node)', pids, admin, () => hugeFrames(node.address, 40, 52));

    await measure(`${IDLE} idle connections (${IDLE_TLS} TLS)`, pids, admin, async () => {
      const script = path.resolve('test/helpers/idle-flood.mjs');
      const halves = [Math.ceil(IDLE / 2), Math.floor(IDLE / 2)];
      const floods = halves.map((count, half) => {
        const child = spawn(process.execPath, [script, master.address.host, String(master.address.port), String(count), String(Math.ceil((IDLE_TLS * count) / IDLE)), String(53 + half), half === 0 ? '1000' : '250'], { stdio: ['pipe', 'pipe', 'inherit'] });
        return new Promise<{ child: typeof child; line: string }>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve({ child, line: chunk.toString().trim() })));
      });
      const ready = await Promise.all(floods);
      const shell = await connectFrom(master.address, caPem, '127.0.0.1').then(
        async (channel) => {
          await channel.request('auth.login', { user: 'shared' });
          channel.close();
          return 'a new login worked';
        },
        (error: unknown) => `a new login FAILED: ${String(error)}`,
      );
      for (const { child } of ready) {
        child.stdin.end();
        child.kill();
      }
      return `${shell}; ${ready.map(({ line }) => line).join(' ')}`;
    });

    await measure('101,000 shared logins, 1 address', pids, admin, async () => {
      const channels = await Promise.all(Array.from({ length: 16 }, () => connectFrom(master.address, caPem, '127.0.0.1')));
      let refused = 0;
      await Promise.all(
        channels.map(async (channel) => {
          for (let sent = 0; sent < 101_000 / 16; sent += 250) await Promise.all(Array.from({ length: 250 }, () => channel.request('auth.login', { user: 'shared' }).catch(() => refused++)));
        }),
      );
      const whoami = await admin.request('auth.whoami', {}).then(() => 'the admin\'s session lives', () => 'the admin\'s session ENDED');
      for (const channel of channels) channel.close();
      return `${refused} refused; ${whoami}`;
    });

    await measure(`${NAMES} unique names, 100 addresses`, pids, admin, async () => {
      const channels = await Promise.all(Array.from({ length: 100 }, (_, i) => connectFrom(master.address, caPem, loopback(54, i))));
      const perChannel = Math.ceil(NAMES / channels.length);
      await Promise.all(
        channels.map(async (channel, source) => {
          for (let sent = 0; sent < perChannel; sent += 250) await Promise.all(Array.from({ length: 250 }, (_, i) => channel.request('auth.login', { user: `n${source}-${sent + i}`, password: 'guess-guess' }).catch(() => undefined)));
        }),
      );
      for (const channel of channels) channel.close();
      return `${NAMES} refused`;
    });

    await measure('shared books the cluster (11 x 20% each)', pids, admin, async () => {
      const shared = await connectFrom(master.address, caPem, '127.0.0.1');
      await shared.request('auth.login', { user: 'shared' });
      const { data } = await admin.request('cluster.nodes', {});
      const fifth = Math.floor(data.total.freeBytes / 5);
      const results = [];
      for (let index = 0; index < 11; index++) results.push(await shared.request('file.put.begin', { files: [{ path: `/hog${index}`, size: fifth }], overwrite: false }).then(() => 'OK', (error: { code?: string }) => error.code ?? 'error'));
      // Not from 127.0.0.1, where alice's name was guessed at above.
      const alice = await connectFrom(master.address, caPem, loopback(55, 0));
      await alice.request('auth.login', { user: 'alice', password: 'alice-password' });
      const aliceBook = await alice.request('file.put.begin', { files: [{ path: '/mine', size: fifth }], overwrite: false }).then(() => 'alice can still book', (error: { code?: string }) => `alice REFUSED (${error.code})`);
      shared.close();
      alice.close();
      return `${results.join(' ')}; ${aliceBook}`;
    });
    admin.close();
  } finally {
    stopping = true;
    await stopCluster(cluster);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
