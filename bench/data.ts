// Data-path benchmark (issue 4): in the same run, a bare-Node reference — one TLS hop file→socket→
// file and a pipelined 3-hop TLS chain file→A→B→C, each hop writing to disk (bench/reference-hop.mjs)
// — and dfs on loopback: put with replication 1 and 3, get. Prints MB/s and the ratios the issue
// sets targets for; and every node's peak resident memory (sampled every 100 ms from /proc) during the
// put with replication 3 and during the get. DFS_BENCH_BYTES sets the file size (default 1 GiB).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { connectCluster } from '../src/client/client';
import { createCa, issueServerIdentity } from '../src/net/ca';
import { randomFile } from '../test/helpers/files';
import { ADMIN_PASSWORD, dfsCluster, report, sampleResident, stopCluster, tempDir, timed, type Role } from './lib';

const BYTES = Number(process.env.DFS_BENCH_BYTES ?? 1024 ** 3);
const CHUNK = 1024 * 1024;
const MEMORY_SAMPLE_MS = 100;

function mbPerSecond(ms: number): number {
  return BYTES / 1e6 / (ms / 1000);
}

async function startHop(dir: string, name: string, nextPort?: number): Promise<{ child: ChildProcess; port: number }> {
  const script = path.resolve('bench/reference-hop.mjs');
  const args = [script, ...['key.pem', 'cert.pem', 'ca.pem'].map((file) => path.join(dir, file)), path.join(dir, `${name}.out`)];
  const child = spawn(process.execPath, nextPort === undefined ? args : [...args, String(nextPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, port: Number(/listening on (\d+)/.exec(line.toString())?.[1]) };
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

async function reference(dir: string, source: string): Promise<{ hopMs: number; chainMs: number }> {
  const ca = createCa('bench CA');
  const server = issueServerIdentity(ca, { commonName: 'bench', hosts: ['127.0.0.1'] });
  await fs.writeFile(path.join(dir, 'ca.pem'), ca.certPem);
  await fs.writeFile(path.join(dir, 'key.pem'), server.keyPem);
  await fs.writeFile(path.join(dir, 'cert.pem'), server.certPem);
  const hopMs = await sendThroughChain(dir, source, 1);
  report('reference: 1 TLS hop file→socket→file', `${mbPerSecond(hopMs).toFixed(0)} MB/s`);
  const chainMs = await sendThroughChain(dir, source, 3);
  report('reference: pipelined 3-hop TLS chain', `${mbPerSecond(chainMs).toFixed(0)} MB/s`);
  return { hopMs, chainMs };
}

/** Runs `work` while sampling every node's resident memory; returns its value and each node's maximum. */
async function withNodeMemory<T>(nodes: Role[], work: () => Promise<T>): Promise<{ value: T; maxBytes: number[] }> {
  const sampler = sampleResident(nodes.map((node) => node.child.pid ?? 0), MEMORY_SAMPLE_MS);
  try {
    const value = await work();
    return { value, maxBytes: sampler.stop() };
  } finally {
    sampler.stop(); // on failure too (a second stop changes nothing)
  }
}

function reportNodeMemory(maxBytes: number[], what: string): void {
  maxBytes.forEach((bytes, index) => report(`node${index + 1} resident memory, max during ${what}`, `${(bytes / 2 ** 20).toFixed(0)} MB`, '< 150 MB'));
}

async function dfsPutGet(dir: string, source: string, replicas: number): Promise<{ putMs: number; getMs?: number }> {
  const cluster = await dfsCluster(dir, replicas);
  const client = await connectCluster({ address: cluster.master.address, caPem: cluster.caPem, user: 'admin', password: ADMIN_PASSWORD });
  const { value: put, maxBytes: putMemory } = await withNodeMemory(cluster.nodes, () => timed(() => client.put(source, '/big.bin', { overwrite: false })));
  report(`dfs put, replication ${replicas}`, `${mbPerSecond(put.ms).toFixed(0)} MB/s`);
  if (replicas === 3) reportNodeMemory(putMemory, 'put r3');
  let getMs: number | undefined;
  if (replicas === 1) {
    const target = path.join(dir, 'fetched.bin');
    const { value: get, maxBytes: getMemory } = await withNodeMemory(cluster.nodes, () => timed(() => client.get('/big.bin', target)));
    getMs = get.ms;
    report('dfs get', `${mbPerSecond(getMs).toFixed(0)} MB/s`);
    reportNodeMemory(getMemory, 'get');
    await fs.rm(target, { force: true });
  }
  client.close();
  await stopCluster(cluster);
  return { putMs: put.ms, ...(getMs !== undefined ? { getMs } : {}) };
}

async function main(): Promise<void> {
  const dir = await tempDir('dfs-bench-data-');
  const source = path.join(dir, 'source.bin');
  await randomFile(source, BYTES);
  console.log(`file: ${(BYTES / 2 ** 20).toFixed(0)} MiB on loopback`);
  try {
    const { hopMs, chainMs } = await reference(dir, source);
    const one = await dfsPutGet(dir, source, 1);
    const three = await dfsPutGet(dir, source, 3);
    report('ratio: put r3 / bare 3-hop chain', (chainMs / three.putMs).toFixed(2), '>= 0.8');
    report('ratio: get / bare single hop', (hopMs / (one.getMs ?? Infinity)).toFixed(2), '>= 0.9');
    report('ratio: put r3 / put r1', (one.putMs / three.putMs).toFixed(2), '>= 0.7');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
