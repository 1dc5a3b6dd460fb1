// Seeded fault trials against real processes: a master and three nodes whose chain order is fixed by their
// capacities, a `dfs shell` per transfer, and a victim (a chain position, the serving node or the client)
// killed (SIGKILL) or stopped (SIGSTOP, then SIGCONT) once a chosen number of its bytes went by. After each
// trial: no process but the victim exited or reached its last resort, and the cluster settles to exactly
// what the namespace says (three whole copies of each file, nothing else, no temporary file).

import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Test } from 'tap';
import type { RemoteClient } from '../../src/client/client';
import { LAST_RESORT_MARKER } from '../../src/process';
import { ADMIN_PASSWORD, DFS, startCluster, startDfs, tempDir, waitFor, type DfsProcess, type TestCluster } from './binary';
import { isDfsError } from '../../src/wire/errors';
import { loginAt } from './client';
import { blobFiles, masterAddress, shellEnv } from './cluster';
import { sha256Of } from './files';

export type Action = 'kill' | 'stop';

/** Capacities that fix the master's choices: the most available storage goes first (placement.ts), reads too. */
const CAPACITIES = { node1: '900M', node2: '600M', node3: '300M' } as const;
export type NodeName = keyof typeof CAPACITIES;
const NODE_NAMES = Object.keys(CAPACITIES) as NodeName[];
/** How long a stopped process stays stopped: a stall, not a death (shorter than every timeout). */
const STOP_MS_MIN = 200;
const STOP_MS_MAX = 1_500;
const SETTLE_MS = 45_000;
const SHELL_MS = 90_000;

export interface FaultCluster {
  cluster: TestCluster;
  admin: RemoteClient;
  work: string;
  /** The running process of each node (a killed node is started again on its port). */
  nodes: Record<NodeName, DfsProcess>;
  /** Node names from the most available storage to the least: a put's first node, middle and last. */
  order(): Promise<NodeName[]>;
  /** Starts a killed node again with its data, port and capacity, and waits until the master sees it linked. */
  restart(name: NodeName): Promise<void>;
}

export async function startFaultCluster(t: Test): Promise<FaultCluster> {
  const cluster = await startCluster(t, 0);
  const nodes = {} as Record<NodeName, DfsProcess>;
  for (const name of NODE_NAMES) nodes[name] = await cluster.startNode(name, ['--capacity', CAPACITIES[name]]);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const work = await tempDir(t);
  const nameOf = (advertise: string): NodeName | undefined => NODE_NAMES.find((name) => advertise.endsWith(`:${nodes[name].address.port}`));
  const linked = async (): Promise<void> => {
    await waitFor('three linked nodes', async () => {
      const { data } = await (await cluster.client()).request('cluster.nodes', {});
      return data.nodes.filter((node) => node.connected && node.state === 'alive').length === 3 ? true : undefined;
    });
  };
  await linked();
  return {
    cluster,
    admin,
    work,
    nodes,
    order: async () => {
      const listed = (await admin.nodes()).filter((node) => nameOf(node.advertise) !== undefined);
      listed.sort((a, b) => b.freeBytes - a.freeBytes || a.nodeId.localeCompare(b.nodeId));
      return listed.map((node) => nameOf(node.advertise) as NodeName);
    },
    restart: async (name) => {
      const port = nodes[name].address.port;
      nodes[name] = await startDfs(t, ['node', '--master', masterAddress(cluster), '--data', path.join(cluster.dataDir, name), '--listen', `127.0.0.1:${port}`, '--capacity', CAPACITIES[name]]);
      await linked();
    },
  };
}

/** A `dfs shell -c COMMANDS` process, its output, and how it ended. */
export interface ShellRun {
  pid: number;
  kill(signal: NodeJS.Signals): void;
  ended(): boolean;
  result: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function spawnShell(t: Test, faults: FaultCluster, commands: string): ShellRun {
  const child = spawn(DFS, ['shell', masterAddress(faults.cluster), '-c', commands], { env: shellEnv(faults.cluster), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let done = false;
  const result = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal, stdout, stderr });
    }),
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), SHELL_MS);
  void result.then(() => clearTimeout(timer));
  t.teardown(() => {
    if (!done) child.kill('SIGKILL');
  });
  return { pid: child.pid ?? 0, kill: (signal) => child.kill(signal), ended: () => done, result };
}

/** Bytes in the files of a directory whose names pass `select` (files vanishing meanwhile count 0). */
export async function bytesIn(directory: string, select: (name: string) => boolean = () => true): Promise<number> {
  const names = await fs.readdir(directory).catch(() => [] as string[]);
  const sizes = await Promise.all(names.filter(select).map((name) => fs.stat(path.join(directory, name)).then((stats) => stats.size, () => 0)));
  return sizes.reduce((sum, size) => sum + size, 0);
}

/** Bytes a node is writing right now (its blob store's temporary files). */
export function nodeTemporaryBytes(faults: FaultCluster, name: NodeName): Promise<number> {
  return bytesIn(path.join(faults.cluster.dataDir, name, 'blobs', 'tmp'));
}

/**
 * Waits until `progress()` reaches `offset` bytes (or the transfer ends), then acts on the victim: SIGKILL, or
 * SIGSTOP for a while and SIGCONT. Says at how many bytes it acted, or that the transfer ended first.
 */
export async function strike(
  victim: { kill(signal: NodeJS.Signals): void },
  action: Action,
  offset: number,
  progress: () => Promise<number>,
  transferEnded: () => boolean,
  random: () => number,
): Promise<string> {
  let seen = 0;
  while (!transferEnded()) {
    seen = await progress();
    if (seen >= offset) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const when = transferEnded() ? 'after the transfer ended' : `at ${seen} bytes`;
  if (action === 'kill') {
    victim.kill('SIGKILL');
    return `killed ${when}`;
  }
  const stopMs = STOP_MS_MIN + Math.floor(random() * (STOP_MS_MAX - STOP_MS_MIN));
  victim.kill('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, stopMs));
  victim.kill('SIGCONT');
  return `stopped ${when} for ${stopMs} ms`;
}

/**
 * One trial's strike and its aftermath: `node` (or the shell, when undefined) is killed or stopped once `progress`
 * reaches `offset`; a killed node is started again; every other process must have lived on and the shell, unless it
 * was the one killed, ended cleanly. Returns how the strike went, the shell's result and whether it was killed.
 */
export async function strikeAndRecover(
  t: Test,
  faults: FaultCluster,
  trial: { what: string; action: Action; offset: number; node: NodeName | undefined; shell: ShellRun; progress: () => Promise<number>; random: () => number },
): Promise<{ how: string; run: Awaited<ShellRun['result']>; killedShell: boolean }> {
  const { what, action, offset, node, shell } = trial;
  const target = node ? faults.nodes[node].child : shell;
  const how = await strike({ kill: (signal) => target.kill(signal) }, action, offset, trial.progress, shell.ended, trial.random);
  const run = await shell.result;
  const killedNode = action === 'kill' ? node : undefined;
  if (killedNode) {
    await faults.nodes[killedNode].exited;
    await faults.restart(killedNode);
  }
  checkSurvivors(t, faults, killedNode, what);
  const killedShell = node === undefined && action === 'kill' && run.signal === 'SIGKILL';
  if (!killedShell) checkShellEnded(t, run, what);
  return { how, run, killedShell };
}

/** Every process of the cluster is running, except `killed` (whose exit was a SIGKILL), and none logged a last resort. */
export function checkSurvivors(t: Test, faults: FaultCluster, killed: NodeName | undefined, what: string): void {
  const processes: [string, DfsProcess][] = [['master', faults.cluster.master], ...NODE_NAMES.map((name): [string, DfsProcess] => [name, faults.nodes[name]])];
  const fallen = processes.filter(([name, process]) => name !== killed && (process.child.exitCode !== null || process.child.signalCode !== null));
  t.same(fallen.map(([name, process]) => `${name} exited (${process.child.signalCode ?? process.child.exitCode})`), [], `${what}: no other process exited`);
  const lastResort = processes.filter(([, process]) => process.output().stderr.includes(LAST_RESORT_MARKER));
  t.same(lastResort.map(([name, process]) => `${name}: ${process.output().stderr.split('\n').find((line) => line.includes(LAST_RESORT_MARKER))}`), [], `${what}: no process reached its last resort`);
}

/** A shell that ended by itself ended cleanly: status 0 or 1, errors as `dfs: …` lines, never a stack trace. */
export function checkShellEnded(t: Test, run: { code: number | null; signal: NodeJS.Signals | null; stderr: string }, what: string): void {
  t.ok(run.signal === null && (run.code === 0 || run.code === 1), `${what}: the shell exited with ${run.signal ?? run.code}\n${run.stderr}`);
  const stray = run.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('dfs: '));
  t.same(stray, [], `${what}: the shell printed only "dfs: …" errors`);
}

/**
 * Waits for the cluster to settle on exactly the namespace's files among `files` (path → what its bytes must be;
 * a file may be absent, as a killed client's put is decided when its node's report lands): each present one with
 * three copies recorded and three whole copies on three disks, nothing else on any disk, no temporary file.
 * Returns the paths present then.
 */
export async function settle(t: Test, faults: FaultCluster, files: ReadonlyMap<string, { sha256: string; size: number }>, what: string): Promise<Set<string>> {
  const { admin, cluster } = faults;
  let last = '';
  const settled = await waitFor(
    `${what}: the cluster to settle`,
    async () => {
      const onDisk = await blobFiles(cluster);
      const present = new Set<string>();
      const wanted: string[] = [];
      for (const [remote, local] of files) {
        const entry = await admin.stat(remote).catch((error: unknown) => {
          if (isDfsError(error, 'NOT_FOUND')) return undefined;
          throw error;
        });
        if (entry === undefined) continue;
        if (entry.sha256 !== local.sha256 || entry.replicas?.have !== 3) {
          last = `${remote}: SHA-256 ${entry.sha256 === local.sha256 ? 'right' : `wrong (${entry.sha256})`}, ${entry.replicas?.have}/3 copies`;
          return undefined;
        }
        present.add(remote);
        wanted.push(`.${local.size}.${local.sha256}`);
      }
      const extra = onDisk.filter((file) => file.temporary || !wanted.some((suffix) => file.name.endsWith(suffix)));
      const counts = wanted.map((suffix) => onDisk.filter((file) => file.name.endsWith(suffix)).length);
      if (extra.length > 0 || counts.some((count) => count !== 3)) {
        last = `${present.size} file(s) present; on disk: ${onDisk.map((file) => `${file.node}/${file.temporary ? 'tmp/' : ''}${file.name.slice(0, 12)}`).join(' ') || 'nothing'}`;
        return undefined;
      }
      return { onDisk, present };
    },
    SETTLE_MS,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; last seen: ${last}\n${logTails(faults)}`);
  });
  const notWhole: string[] = [];
  for (const file of settled.onDisk) {
    const [, size, sha256] = /\.(\d+)\.([0-9a-f]{64})$/.exec(file.name) ?? [];
    if ((await fs.stat(file.file)).size !== Number(size) || (await sha256Of(file.file)) !== sha256) notWhole.push(`${file.node}/${file.name}`);
  }
  t.same(notWhole, [], `${what}: settled, ${settled.present.size} file(s) with 3 whole copies and nothing else on the disks`);
  return settled.present;
}

/** The last lines each process logged: what a failed trial's message shows. */
function logTails(faults: FaultCluster): string {
  const processes: [string, DfsProcess][] = [['master', faults.cluster.master], ...NODE_NAMES.map((name): [string, DfsProcess] => [name, faults.nodes[name]])];
  return processes.map(([name, process]) => `--- ${name}\n${process.output().stderr.split('\n').slice(-25).join('\n')}`).join('\n');
}

/** The trials of a run: every victim with every action, `rounds` times, at random byte offsets, in a random order. */
export function plan<V extends string>(victims: readonly V[], rounds: number, size: number, random: () => number): { victim: V; action: Action; offset: number }[] {
  const trials: { victim: V; action: Action; offset: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const victim of victims) for (const action of ['kill', 'stop'] as const) trials.push({ victim, action, offset: Math.floor(random() * size) });
  }
  for (let index = trials.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [trials[index], trials[other]] = [trials[other] as (typeof trials)[number], trials[index] as (typeof trials)[number]];
  }
  return trials;
}
