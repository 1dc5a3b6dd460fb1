// Real `build/dfs` processes for end-to-end tests: spawn on loopback port 0, wait for the
// "listening on" line, collect output, and always clean up in the test's teardown.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseHostPort, formatHostPort, type HostPort } from '../../src/wire/address';
import type { Channel } from '../../src/wire/channel';
import { connectTls, MASTER_CN } from '../../src/trust/tls';
import { silentLog } from '../../src/log';
import { loadOrCreateMasterIdentity, masterHosts, MASTER_FILES } from '../../src/master/identity';

export const DFS = path.resolve(__dirname, '../../build/dfs');
// Every master a test starts (directly, through `dfs demo`, in tmux) lives for seconds: it skips V8's optimizing
// compile of the catalog's SQLite (~0.45 CPU-s a start; see src/master/catalog/sqljs.ts).
process.env.DFS_CATALOG_JIT ??= 'baseline';
export const ADMIN_PASSWORD = 'admin-secret';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export function requireBinary(): void {
  if (!existsSync(DFS)) throw new Error(`${DFS} is missing: run "npm run build" first (npm test does)`);
}

export interface DfsProcess {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  address: HostPort;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function tempDir(t: Teardown, prefix = 'dfs-test-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `dfs ARGS` (in network namespace `netns`, if given) and resolves once it prints "listening on HOST:PORT". */
export function startDfs(t: Teardown, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; netns?: string } = {}): Promise<DfsProcess> {
  requireBinary();
  // `ip netns exec` execs the program: the child's pid is dfs's own.
  const [command, prefix] = options.netns === undefined ? [DFS, []] : ['ip', ['netns', 'exec', options.netns, DFS]];
  const child = spawn(command, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dfs ${args.join(' ')}: not listening after ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    const check = (): void => {
      const line = /^listening on (\S+)$/m.exec(stdout);
      if (!line?.[1]) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      resolve({ child, address: parseHostPort(line[1]), exited, output: () => ({ stdout, stderr }) });
    };
    child.stdout?.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`dfs ${args.join(' ')} exited (${signal ?? code}) before listening\n${stderr}`));
    });
  });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `dfs ARGS` to completion. */
export function runDfs(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number; command?: string } = {}): Promise<RunResult> {
  requireBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(options.command ?? DFS, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dfs ${args.join(' ')} did not finish in time\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command may exit without reading all its input (bash -c, a usage error): the pipe then breaks, which is no
    // failure of the test; the command's output and status say what it did.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error);
    });
    child.stdin.end(options.input ?? '');
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export interface TestCluster {
  dataDir: string;
  master: DfsProcess;
  masterDir: string;
  caPem: string;
  tokenFile: string;
  nodes: DfsProcess[];
  startNode(name: string, extra?: string[]): Promise<DfsProcess>;
  client(): Promise<Channel>;
}

/** The files of a master's CA and TLS identity, which test clusters share (see startCluster). */
const IDENTITY_FILES = [MASTER_FILES.caCert, MASTER_FILES.caKey, MASTER_FILES.serverCert, MASTER_FILES.serverKey];
let identityTemplate: Promise<string> | undefined;

/**
 * A directory holding a CA and a master certificate for 127.0.0.1, made once for all test processes of this
 * checkout (node_modules/.cache) and kept: making their two RSA keys costs a master ~0.4 CPU-s, and a run starts
 * some 60 clusters. Made aside and renamed into place, as test files run side by side.
 */
function clusterIdentity(): Promise<string> {
  identityTemplate ??= (async () => {
    const directory = path.resolve(__dirname, '../../node_modules/.cache/dfs-tests', `master-identity-${os.hostname()}`);
    if (IDENTITY_FILES.every((name) => existsSync(path.join(directory, name)))) return directory;
    await fs.mkdir(path.dirname(directory), { recursive: true });
    const making = await fs.mkdtemp(`${directory}.`);
    await loadOrCreateMasterIdentity(making, masterHosts('127.0.0.1', undefined), silentLog);
    await fs.rename(making, directory).catch(() => fs.rm(making, { recursive: true, force: true })); // another made it first
    return directory;
  })();
  return identityTemplate;
}

/** Puts the shared test CA and master certificate (clusterIdentity) into a master's data directory, as a master
 * that has started before would have them. */
export async function copyClusterIdentity(masterDir: string): Promise<void> {
  const identity = await clusterIdentity();
  await fs.mkdir(masterDir, { recursive: true, mode: 0o700 });
  for (const name of IDENTITY_FILES) await fs.copyFile(path.join(identity, name), path.join(masterDir, name));
}

/**
 * A master and `nodeCount` nodes as real processes on 127.0.0.1, every node registered. The master starts from
 * the CA and certificate test clusters share (as a master restarts with its own), and makes its own join token,
 * ticket key, admin password and catalog; a master's very first start is what foundation.test.ts tests. Orphans
 * are deleted at once (--orphan-grace 0) unless `masterArgs` say otherwise: the tests that kill a node mid-write
 * check that its leftovers go; the grace is the backup test's subject.
 */
export async function startCluster(t: Teardown, nodeCount: number, masterArgs: string[] = []): Promise<TestCluster> {
  const dataDir = await tempDir(t);
  const masterDir = path.join(dataDir, 'master');
  await copyClusterIdentity(masterDir);
  const grace = masterArgs.includes('--orphan-grace') ? [] : ['--orphan-grace', '0'];
  const master = await startDfs(t, ['master', '--data', masterDir, '--listen', '127.0.0.1:0', ...grace, ...masterArgs], {
    env: { DFS_ADMIN_PASSWORD: ADMIN_PASSWORD },
  });
  const caPem = await fs.readFile(path.join(masterDir, 'ca.pem'), 'utf8');
  const tokenFile = path.join(masterDir, 'join-token');
  const startNode = (name: string, extra: string[] = []): Promise<DfsProcess> =>
    startDfs(t, ['node', '--master', formatHostPort(master.address), '--token-file', tokenFile, '--data', path.join(dataDir, name), '--listen', '127.0.0.1:0', ...extra]);
  const nodes = await Promise.all(Array.from({ length: nodeCount }, (_, index) => startNode(`node${index + 1}`)));
  const client = async (): Promise<Channel> => {
    const channel = await connectTls({ address: master.address, caPem, expectCommonName: MASTER_CN });
    t.teardown(() => channel.close());
    await channel.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
    return channel;
  };
  const cluster: TestCluster = { dataDir, master, masterDir, caPem, tokenFile, nodes, startNode, client };
  const channel = await client();
  await waitFor(`${nodeCount} registered nodes`, async () => {
    const { data } = await channel.request('cluster.nodes', {});
    return data.nodes.filter((node) => node.connected).length === nodeCount ? true : undefined;
  });
  return cluster;
}

/**
 * One cluster for the tests of a file that do not disturb each other (each its own paths, no process killed, no
 * count of what is on the disks): started by the first test that asks, stopped when the file's tests end.
 */
export function sharedCluster(file: Teardown, nodeCount: number, masterArgs: string[] = []): () => Promise<TestCluster> {
  let started: Promise<TestCluster> | undefined;
  return () => (started ??= startCluster(file, nodeCount, masterArgs));
}

/** What a process has read or written so far (files and sockets), from /proc/PID/io. */
export async function ioBytes(pid: number, field: 'rchar' | 'wchar'): Promise<number> {
  const io = await fs.readFile(`/proc/${pid}/io`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(io)?.[1] ?? 0);
}
