// Shared pieces of the benchmarks: start build/dfs roles, time things, read a process's memory.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createCa, issueServerIdentity } from '../src/trust/ca';
import { parseHostPort, type HostPort } from '../src/wire/address';

export const DFS = process.env.DFS_BIN ?? path.resolve('build/dfs');
export const ADMIN_PASSWORD = 'bench-admin';

export interface Role {
  child: ChildProcess;
  address: HostPort;
  startedMs: number;
  /** What the role logged so far. */
  stderr(): string;
}

/**
 * Where benchmarks keep their data: DFS_BENCH_DIR, else build/.bench. Not the system's temporary directory:
 * on an ext4 without a journal (these machines), creating a file costs ~0.75 ms of CPU instead of ~35 µs
 * while its block group holds many recently deleted inodes — as a busy /tmp does — and small-file figures
 * would measure the neighbours' deletions.
 */
export const BENCH_DIR = path.resolve(process.env.DFS_BENCH_DIR ?? 'build/.bench');

export async function tempDir(prefix: string): Promise<string> {
  await fs.mkdir(BENCH_DIR, { recursive: true });
  return fs.mkdtemp(path.join(BENCH_DIR, prefix));
}

/** Spawns `dfs ARGS` and resolves when it prints "listening on"; startedMs is how long that took. */
export function startRole(args: string[]): Promise<Role> {
  const began = performance.now();
  const child = spawn(DFS, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DFS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = /^listening on (\S+)$/m.exec(stdout);
      if (line?.[1]) resolve({ child, address: parseHostPort(line[1]), startedMs: performance.now() - began, stderr: () => stderr });
    });
    child.once('exit', (code) => reject(new Error(`dfs ${args.join(' ')} exited ${code}\n${stderr}`)));
  });
}

/** The TLS identity of the bare-Node references (bench/reference-*.mjs): a CA and a server for 127.0.0.1. */
export interface ReferenceIdentity {
  caFile: string;
  keyFile: string;
  certFile: string;
}

/** Makes the references' identity: ca.pem, key.pem and cert.pem in `dir`. */
export async function referenceIdentity(dir: string): Promise<ReferenceIdentity> {
  const ca = createCa('bench CA');
  const server = issueServerIdentity(ca, { commonName: 'bench', hosts: ['127.0.0.1'] });
  const identity = { caFile: path.join(dir, 'ca.pem'), keyFile: path.join(dir, 'key.pem'), certFile: path.join(dir, 'cert.pem') };
  await fs.writeFile(identity.caFile, ca.certPem);
  await fs.writeFile(identity.keyFile, server.keyPem);
  await fs.writeFile(identity.certFile, server.certPem);
  return identity;
}

/** Runs a bench/reference-*.mjs script (`args`: the script and its arguments) under this Node and resolves once it
 * prints "listening on PORT". */
export async function startReference(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, port: Number(/listening on (\d+)/.exec(line.toString())?.[1]) };
}

export interface DfsClusterOptions {
  /** Storage nodes to start (default 3). */
  nodes?: number;
  /** More arguments for `dfs master` (e.g. `['--node-timeout', '5']`). */
  masterArgs?: string[];
}

/** A master (`--replicas N`) and 3 storage nodes (`options.nodes`) from build/dfs on loopback, data under `dir`; resolves once the nodes registered. */
export async function dfsCluster(dir: string, replicas: number, options: DfsClusterOptions = {}): Promise<{ master: Role; nodes: Role[]; caPem: string }> {
  const masterDir = path.join(dir, `master-r${replicas}`);
  const master = await startRole(['master', '--data', masterDir, '--listen', '127.0.0.1:0', '--replicas', String(replicas), ...(options.masterArgs ?? [])]);
  const nodes = await Promise.all(
    Array.from({ length: options.nodes ?? 3 }, (_, at) => at + 1).map((index) =>
      startRole(['node', '--master', `127.0.0.1:${master.address.port}`, '--token-file', path.join(masterDir, 'join-token'), '--data', path.join(dir, `r${replicas}-node${index}`), '--listen', '127.0.0.1:0']),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // nodes register
  return { master, nodes, caPem: await fs.readFile(path.join(masterDir, 'ca.pem'), 'utf8') };
}

export async function stopCluster(cluster: { master: Role; nodes: Role[] }): Promise<void> {
  await Promise.all(cluster.nodes.map(stopRole));
  await stopRole(cluster.master);
}

export function stopRole(role: Role): Promise<void> {
  return new Promise((resolve) => {
    if (role.child.exitCode !== null || role.child.signalCode !== null) return resolve();
    role.child.once('exit', () => resolve());
    role.child.kill('SIGTERM');
  });
}

/** CPU per file creation in `dir`, in µs (200 empty files, left for the caller's cleanup): ~35 on a quiet
 * ext4, ~750 on one without a journal right after many deletions nearby. Printed so a slow figure can be told
 * from a slow machine. */
export async function fileCreationMicros(dir: string): Promise<number> {
  const probe = path.join(dir, 'creation-probe');
  mkdirSync(probe);
  const began = process.cpuUsage();
  for (let index = 0; index < 200; index++) closeSync(openSync(path.join(probe, String(index)), 'wx'));
  const used = process.cpuUsage(began);
  return (used.user + used.system) / 200;
}

/** /proc/PID/stat's fields after the command name (field 3 of stat is index 0); times in clock ticks (100/s). */
function statFields(pid: number | 'self'): string[] {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
}

/** CPU time (user + system) a process has used so far, in ms: utime and stime, fields 14 and 15. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time of a process and of its exited children it has reaped (a daemon's forked sessions), in ms. */
export function cpuWithReapedMs(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 10;
}

/** CPU time this process's exited and reaped children have used so far, in ms: cutime and cstime, fields 16 and 17. */
export function reapedChildrenCpuMs(): number {
  const fields = statFields('self');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Resident memory of a process in bytes, from /proc. */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kib ?? 0) * 1024;
}

/**
 * Samples the resident memory of some processes every `intervalMs` until stopped; stop() returns each
 * one's maximum in bytes (one sample is taken at once and one at the first stop, so short work is
 * covered; later stops return the same).
 */
export function sampleResident(pids: number[], intervalMs = 100): { stop(): number[] } {
  const max = pids.map(() => 0);
  let stopped = false;
  const sample = (): void => {
    pids.forEach((pid, index) => {
      try {
        max[index] = Math.max(max[index] ?? 0, residentBytes(pid));
      } catch {
        // the process is gone: its maximum so far stands
      }
    });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop: () => {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        sample();
      }
      return [...max];
    },
  };
}

export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const began = performance.now();
  const value = await work();
  return { ms: performance.now() - began, value };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export function report(name: string, value: string, target?: string): void {
  console.log(`${name.padEnd(48)} ${value.padStart(16)}${target ? `   (target ${target})` : ''}`);
}
