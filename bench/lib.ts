// Shared pieces of the benchmarks: start build/dfs roles, time things, read a process's memory.

import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseHostPort, type HostPort } from '../src/net/address';

export const DFS = process.env.DFS_BIN ?? path.resolve('build/dfs');
export const ADMIN_PASSWORD = 'bench-admin';

export interface Role {
  child: ChildProcess;
  address: HostPort;
  startedMs: number;
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
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
      if (line?.[1]) resolve({ child, address: parseHostPort(line[1]), startedMs: performance.now() - began });
    });
    child.once('exit', (code) => reject(new Error(`dfs ${args.join(' ')} exited ${code}\n${stderr}`)));
  });
}

export function stopRole(role: Role): Promise<void> {
  return new Promise((resolve) => {
    if (role.child.exitCode !== null) return resolve();
    role.child.once('exit', () => resolve());
    role.child.kill('SIGTERM');
  });
}

/** Resident memory of a process in bytes, from /proc. */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  return Number(kib ?? 0) * 1024;
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
