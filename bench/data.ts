// Data-path benchmark (issue 4): in the same run, a bare-Node reference — one TLS hop file→socket→
// file and a pipelined 3-hop TLS chain file→A→B→C, each hop writing to disk (bench/reference-hop.mjs)
// — and dfs on loopback: put with replication 1 and 3, get. Prints MB/s and the ratios the issue
// sets targets for; and every node's peak resident memory (sampled every 100 ms from /proc) during the
// puts with replication 3 and the gets. DFS_BENCH_BYTES sets the file size (default 1 GiB).
//
// On a shared machine one measurement of each is noise (the bare hop alone was seen at 178 and 303 MB/s
// minutes apart): DFS_BENCH_ROUNDS rounds (default 3) each measure everything once, in an order that puts
// each dfs figure next to its reference (hop, put r1, get; chain, put r3), and the figures and ratios
// printed are the medians over the rounds, after one line per round.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { connectCluster } from '../src/client/client';
import { randomFile } from '../test/helpers/files';
import { ADMIN_PASSWORD, dfsCluster, median, referenceIdentity, report, sampleResident, startReference, stopCluster, tempDir, timed, type Role } from './lib';

const BYTES = Number(process.env.DFS_BENCH_BYTES ?? 1024 ** 3);
const ROUNDS = Number(process.env.DFS_BENCH_ROUNDS ?? 3);
const CHUNK = 1024 * 1024;
const MEMORY_SAMPLE_MS = 100;

function mbPerSecond(ms: number): number {
  return BYTES / 1e6 / (ms / 1000);
}

function startHop(dir: string, name: string, nextPort?: number): Promise<{ child: ChildProcess; port: number }> {
  const args = [path.resolve('bench/reference-hop.mjs'), ...['key.pem', 'cert.pem', 'ca.pem'].map((file) => path.join(dir, file)), path.join(dir, `${name}.out`)];
  return startReference(nextPort === undefined ? args : [...args, String(nextPort)]);
}

/** Streams the file into the first hop and resolves when the whole chain has fsynced. */
async function sendThroughChain(dir: string, source: string, hops: number): Promise<number> {
  const started: { child: ChildProcess; port: number }[] = [];
  let next: number | undefined;
  for (let index = hops; index >= 1; index--) {
    const hop = await startHop(dir, `hop${index}`, next);
    started.push(hop);
    next = hop.port;
  }
  const { ms } = await timed(async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: next ?? 0, ca: await fs.readFile(path.join(dir, 'ca.pem')), checkServerIdentity: () => undefined });
    await once(socket, 'secureConnect');
    const acknowledged = once(socket, 'data');
    createReadStream(source, { highWaterMark: CHUNK }).pipe(socket);
    await acknowledged;
    socket.destroy();
  });
  for (const hop of started) hop.child.kill('SIGTERM');
  return ms;
}

/** Runs `work` while sampling every node's resident memory; returns its value, raising `maxBytes` to each node's maximum. */
async function withNodeMemory<T>(nodes: Role[], maxBytes: number[], work: () => Promise<T>): Promise<T> {
  const sampler = sampleResident(nodes.map((node) => node.child.pid ?? 0), MEMORY_SAMPLE_MS);
  try {
    return await work();
  } finally {
    sampler.stop().forEach((bytes, index) => (maxBytes[index] = Math.max(maxBytes[index] ?? 0, bytes)));
  }
}

function reportNodeMemory(maxBytes: number[], what: string): void {
  maxBytes.forEach((bytes, index) => report(`node${index + 1} resident memory, max during ${what}`, `${(bytes / 2 ** 20).toFixed(0)} MB`, '< 150 MB'));
}

/** One round's times, in ms. */
interface Round {
  hop: number;
  chain: number;
  putR1: number;
  get: number;
  putR3: number;
}

async function main(): Promise<void> {
  if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('DFS_BENCH_ROUNDS must be a whole number >= 1');
  const dir = await tempDir('dfs-bench-data-');
  const source = path.join(dir, 'source.bin');
  await randomFile(source, BYTES);
  await referenceIdentity(dir);
  console.log(`file: ${(BYTES / 2 ** 20).toFixed(0)} MiB on loopback, ${ROUNDS} round(s)`);
  const clusters: Awaited<ReturnType<typeof dfsCluster>>[] = [];
  const clients: Awaited<ReturnType<typeof connectCluster>>[] = [];
  try {
    for (const replicas of [1, 3]) {
      const cluster = await dfsCluster(dir, replicas);
      clusters.push(cluster);
      clients.push(await connectCluster({ address: cluster.master.address, caPem: cluster.caPem, user: 'admin', password: ADMIN_PASSWORD }));
    }
    const [one, three] = clusters as [(typeof clusters)[number], (typeof clusters)[number]];
    const [oneClient, threeClient] = clients as [(typeof clients)[number], (typeof clients)[number]];
    const getMemory: number[] = [];
    const putMemory: number[] = [];
    const rounds: Round[] = [];
    const fetched = path.join(dir, 'fetched.bin');
    for (let index = 1; index <= ROUNDS; index++) {
      const remote = `/big-${index}.bin`;
      const hop = await sendThroughChain(dir, source, 1);
      const putR1 = (await timed(() => oneClient.put([{ localPath: source, remotePath: remote }]))).ms;
      const get = (await withNodeMemory(one.nodes, getMemory, () => timed(() => oneClient.get(remote, fetched)))).ms;
      await fs.rm(fetched, { force: true });
      const chain = await sendThroughChain(dir, source, 3);
      const putR3 = (await withNodeMemory(three.nodes, putMemory, () => timed(() => threeClient.put([{ localPath: source, remotePath: remote }])))).ms;
      const round = { hop, chain, putR1, get, putR3 };
      rounds.push(round);
      const rates = Object.entries(round).map(([name, ms]) => `${name} ${mbPerSecond(ms).toFixed(0)}`);
      console.log(`round ${index}: MB/s ${rates.join(', ')}; ratios ${ratios(round).map((value) => value.toFixed(2)).join(', ')}`);
      await oneClient.remove(remote, false);
      await threeClient.remove(remote, false);
    }
    const rate = (pick: (round: Round) => number): string => `${mbPerSecond(median(rounds.map(pick))).toFixed(0)} MB/s`;
    report('reference: 1 TLS hop file→socket→file', rate((round) => round.hop));
    report('reference: pipelined 3-hop TLS chain', rate((round) => round.chain));
    report('dfs put, replication 1', rate((round) => round.putR1));
    report('dfs get', rate((round) => round.get));
    report('dfs put, replication 3', rate((round) => round.putR3));
    reportNodeMemory(getMemory, 'get');
    reportNodeMemory(putMemory, 'put r3');
    const medians = [0, 1, 2].map((at) => median(rounds.map((round) => ratios(round)[at] ?? 0)));
    report('ratio: put r3 / bare 3-hop chain', (medians[0] ?? 0).toFixed(2), '>= 0.8');
    report('ratio: get / bare single hop', (medians[1] ?? 0).toFixed(2), '>= 0.9');
    report('ratio: put r3 / put r1', (medians[2] ?? 0).toFixed(2), '>= 0.7');
  } finally {
    for (const client of clients) client.close();
    for (const cluster of clusters) await stopCluster(cluster);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A round's ratios, each against the reference measured next to it: put r3 / chain, get / hop, put r3 / put r1. */
function ratios(round: Round): number[] {
  return [round.chain / round.putR3, round.hop / round.get, round.putR1 / round.putR3];
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
