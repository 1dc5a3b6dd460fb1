// dfs beside the field on this machine (issue 17): the same file put with 3 copies and read back cold, by dfs
// (3 nodes on loopback, TLS, every copy fsynced, SHA-256 end to end) and by MooseFS 3 (goal 3, through FUSE), in
// interleaved rounds, and by sftp where sshd is. Prints MB/s, the ratios dfs / peer, and CPU-seconds per GB of every
// process of each system (dfs: master, nodes and the `dfs shell` client; MooseFS: master, chunkservers, mfsmount
// and dd; sftp: sshd with its sessions, sftp and ssh).
//
// - put: `dfs shell -c "put SRC /f"` (returns once 3 copies are stored) against `dd if=SRC of=MNT/g3/f bs=1M
//   conv=fsync` (returns once every chunkserver has the data; MooseFS does not fsync on its chunkservers by default).
// - cold get: the page cache dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`), then `dfs shell -c "get /f -"`
//   and `dd if=MNT/g3/f of=/dev/null bs=1M`, both into /dev/null.
//
// MooseFS refuses a master on 127/8, so its processes run in a network namespace of their own (`mfs`, address
// 10.77.0.1 on its loopback); mfsmount joins only that namespace's network, so the mount is the host's. Needs
// root, `ip`, /dev/fuse and the Debian packages; without them it says what to install and measures dfs alone.
// sftp (one copy, `put -f` fsyncs it) is measured where sshd is installed: a throwaway sshd on 127.0.0.1 with keys
// of its own. "Node TLS" is the same contract in bare Node (startNodeTls): the floor of a get in Node here.
// DFS_BENCH_BYTES (default 1 GiB), DFS_BENCH_ROUNDS (default 3).

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, existsSync, openSync, promises as fs, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { randomFile } from '../test/helpers/files';
import { ADMIN_PASSWORD, cpuMs, cpuWithReapedMs, DFS, dfsCluster, median, reapedChildrenCpuMs, referenceIdentity, report, sampleResident, startReference, stopCluster, tempDir } from './lib';

const BYTES = Number(process.env.DFS_BENCH_BYTES ?? 1024 ** 3);
const ROUNDS = Number(process.env.DFS_BENCH_ROUNDS ?? 3);
const NETNS = 'mfs';
const MFS_HOST = '10.77.0.1';
const MFS_PORTS = { ml: 39419, cs: 39420, cl: 39421 };
const MOOSEFS_PACKAGES = 'moosefs-master moosefs-chunkserver moosefs-client moosefs-cli';
/** A deleted 1 GiB file keeps MooseFS's chunkservers busy for a moment; the next put waits this long. */
const MFS_SETTLE_MS = 3_000;
const SSHD = '/usr/sbin/sshd';

/** One measured operation: wall time and CPU of every process of the system that did it. */
interface Measure {
  ms: number;
  cpuMs: number;
}

interface System {
  name: string;
  /** Copies a put makes: 3 for dfs and MooseFS (goal 3), 1 for sftp. */
  copies: number;
  put(source: string, round: number): Promise<Measure>;
  coldGet(round: number): Promise<Measure>;
  remove(round: number): Promise<void>;
  stop(): Promise<void>;
  /** The largest resident memory of one of its storage processes over the run (dfs: its nodes, sampled). */
  storagePeakBytes?(): number;
}

/** Runs a command to completion, stdout to /dev/null; returns its wall time and the CPU it and the daemons used. */
async function measured(command: string, args: string[], daemonsCpuMs: () => number, env?: NodeJS.ProcessEnv): Promise<Measure> {
  const before = daemonsCpuMs();
  const reaped = reapedChildrenCpuMs();
  const devNull = openSync('/dev/null', 'w');
  const began = performance.now();
  try {
    const child = spawn(command, args, { stdio: ['ignore', devNull, 'pipe'], env: env ?? process.env });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr.trim()}`);
  } finally {
    closeSync(devNull);
  }
  const ms = performance.now() - began;
  return { ms, cpuMs: daemonsCpuMs() - before + reapedChildrenCpuMs() - reaped };
}

/** The CPU the processes have used so far; one that has gone counts 0 (the measure then shows it). */
function cpuOf(pids: number[], read: (pid: number) => number = cpuMs): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += read(pid);
    } catch {
      // exited
    }
  }
  return sum;
}

/**
 * Returns once, over a second (after a sync), the disks took no write and the CPUs were at least 90 % idle; or after
 * a minute. A sync alone is not enough: MooseFS's chunkservers (and sftp's server) do not fsync, and keep writing what
 * a put sent them after it returned, into the next system's put or get (measured: a dfs put at 80 MB/s right after
 * MooseFS's, 118-137 otherwise).
 */
async function quietMachine(): Promise<void> {
  const deadlineMs = performance.now() + 60_000;
  while (performance.now() < deadlineMs) {
    execFileSync('sync');
    const [written, cpu] = [sectorsWritten(), cpuTicks()];
    await delay(1_000);
    const [writtenAfter, cpuAfter] = [sectorsWritten(), cpuTicks()];
    const idle = (cpuAfter.idle - cpu.idle) / Math.max(1, cpuAfter.total - cpu.total);
    if (writtenAfter === written && idle >= 0.9) return;
  }
}

/** Sectors written to every block device since boot (/proc/diskstats, the 10th field). */
function sectorsWritten(): number {
  let sum = 0;
  for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
    const sectors = Number(line.trim().split(/\s+/)[9]);
    if (Number.isFinite(sectors)) sum += sectors;
  }
  return sum;
}

/** The CPUs' ticks since boot, all and idle or waiting for I/O (/proc/stat's first line). */
function cpuTicks(): { total: number; idle: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, ticks) => sum + ticks, 0);
  return { total, idle: (fields[3] ?? 0) + (fields[4] ?? 0) };
}

/** Reads a file to its end (into the page cache). */
async function readWhole(file: string): Promise<void> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) void chunk;
}

/** Empties the page cache, so the next read comes from the disks; false if this process may not. */
function dropCaches(): boolean {
  try {
    execFileSync('sync');
    execFileSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function startDfs(dir: string): Promise<System> {
  const cluster = await dfsCluster(dir, 3);
  const caFile = path.join(dir, 'ca.pem');
  await fs.writeFile(caFile, cluster.caPem);
  const master = `127.0.0.1:${cluster.master.address.port}`;
  const env = { ...process.env, DFS_PASSWORD: ADMIN_PASSWORD };
  const pids = [cluster.master, ...cluster.nodes].map((role) => role.child.pid ?? 0);
  const shell = (command: string): Promise<Measure> => measured(DFS, ['shell', master, '--ca', caFile, '--user', 'admin', '-c', command], () => cpuOf(pids), env);
  const memory = sampleResident(cluster.nodes.map((role) => role.child.pid ?? 0), 200);
  return {
    name: 'dfs',
    copies: 3,
    put: (source, round) => shell(`put ${source} /f${round}`),
    coldGet: (round) => shell(`get /f${round} -`),
    remove: async (round) => {
      await shell(`rm /f${round}`);
    },
    stop: () => stopCluster(cluster),
    storagePeakBytes: () => Math.max(...memory.stop()),
  };
}

/**
 * dfs's contract in bare Node, nothing else around it (no login, catalog, framing or second process to ask): a put
 * through a chain of 3 TLS hops, each hashing with SHA-256, writing and fsyncing its copy (bench/reference-hop.mjs;
 * a plain pipelined chain, which dfs's put beats), and a cold get over one TLS connection with the reader hashing
 * with SHA-256 (bench/reference-tls.mjs) — the most a dfs get can reach here. Its get against MooseFS's says how
 * much of the gap to MooseFS is dfs's own and how much is TLS and SHA-256 in Node on this machine.
 */
async function startNodeTls(dir: string): Promise<System> {
  const base = path.join(dir, 'node-tls');
  await fs.mkdir(base, { recursive: true });
  const { caFile, keyFile, certFile } = await referenceIdentity(base);
  const tlsScript = path.resolve('bench/reference-tls.mjs');
  const copies = [1, 2, 3].map((index) => path.join(base, `copy${index}`));
  const daemons: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const daemon of daemons.reverse()) await stopDaemon(daemon);
  };
  let firstHop = 0;
  let server = 0;
  try {
    for (const copy of [...copies].reverse()) {
      const args = [path.resolve('bench/reference-hop.mjs'), keyFile, certFile, caFile, copy, ...(firstHop ? [String(firstHop)] : [])];
      const hop = await startReference(args, { ...process.env, REFERENCE_SHA256: '1' });
      daemons.push(hop.child);
      firstHop = hop.port;
    }
    const serving = await startReference([tlsScript, 'serve', keyFile, certFile, caFile, copies[0] ?? '']);
    daemons.push(serving.child);
    server = serving.port;
  } catch (error) {
    await stop();
    throw error;
  }
  const pids = daemons.map((daemon) => daemon.pid ?? 0);
  return {
    name: 'Node TLS',
    copies: 3,
    put: (source) => measured(process.execPath, [tlsScript, 'send', caFile, String(firstHop), source], () => cpuOf(pids)),
    coldGet: () => measured(process.execPath, [tlsScript, 'fetch', caFile, String(server)], () => cpuOf(pids)),
    remove: async () => {
      for (const copy of copies) await fs.rm(copy, { force: true });
    },
    stop,
  };
}

/** The first of the commands not on the PATH, or undefined. */
function absentTool(tools: readonly string[]): string | undefined {
  return tools.find((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
}

/** What is missing to run MooseFS here, or undefined. */
function mooseFsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (MooseFS runs in a network namespace and mounts through FUSE)';
  const tool = absentTool(['mfsmaster', 'mfschunkserver', 'mfsmount', 'mfssetgoal']);
  if (tool) return `${tool} not found: apt-get install -y ${MOOSEFS_PACKAGES}`;
  if (!existsSync('/var/lib/mfs/metadata.mfs.empty')) return `/var/lib/mfs/metadata.mfs.empty not found: apt-get install -y ${MOOSEFS_PACKAGES}`;
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return 'no `ip netns` (apt-get install -y iproute2)';
  return undefined;
}

function config(values: Record<string, string | number>): string {
  return Object.entries(values).map(([key, value]) => `${key} = ${value}\n`).join('');
}

/**
 * Starts a daemon in the foreground and resolves once its output shows `ready`; it is killed if it is not up in
 * `timeoutMs`. Later output is read and dropped (a full pipe would stall the daemon).
 */
function startDaemon(command: string, args: string[], ready: string, timeoutMs = 20_000): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} not up after ${timeoutMs / 1000} s:\n${output}`));
    }, timeoutMs);
    const seen = (chunk: Buffer): void => {
      if (output.includes(ready)) return;
      output += chunk.toString();
      if (!output.includes(ready)) return;
      clearTimeout(timer);
      resolve(child);
    };
    child.stdout?.on('data', seen);
    child.stderr?.on('data', seen);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')} exited (${code}) before it was up:\n${output}`));
    });
  });
}

/** SIGTERM, and waits for the exit (at once if it has exited). */
async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Starts a MooseFS daemon in the namespace; `ip netns exec` execs it, so the child's pid is the daemon's own. */
function startMooseFsDaemon(program: string, cfg: string): Promise<ChildProcess> {
  return startDaemon('ip', ['netns', 'exec', NETNS, program, '-f', '-c', cfg], 'initialized properly');
}

async function startMooseFs(dir: string): Promise<System> {
  const base = path.join(dir, 'mfs');
  const mnt = path.join(base, 'mnt');
  await fs.mkdir(path.join(base, 'master'), { recursive: true });
  await fs.mkdir(mnt, { recursive: true });
  const createdNetns = !spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').some((line) => line.split(' ')[0] === NETNS);
  if (createdNetns) {
    execFileSync('ip', ['netns', 'add', NETNS]);
    execFileSync('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['-n', NETNS, 'addr', 'add', `${MFS_HOST}/8`, 'dev', 'lo']);
  }
  const daemons: ChildProcess[] = [];
  let mounted = false;
  const stop = async (): Promise<void> => {
    if (mounted) spawnSync('umount', ['-l', mnt]);
    for (const daemon of daemons.reverse()) await stopDaemon(daemon);
    if (createdNetns) spawnSync('ip', ['netns', 'delete', NETNS]);
  };
  try {
    await fs.copyFile('/var/lib/mfs/metadata.mfs.empty', path.join(base, 'master', 'metadata.mfs'));
    await fs.writeFile(path.join(base, 'exports.cfg'), '* / rw,alldirs,maproot=0\n');
    await fs.writeFile(path.join(base, 'master.cfg'), config({
      DATA_PATH: path.join(base, 'master'), EXPORTS_FILENAME: path.join(base, 'exports.cfg'), WORKING_USER: 'root', WORKING_GROUP: 'root',
      MATOML_LISTEN_HOST: MFS_HOST, MATOML_LISTEN_PORT: MFS_PORTS.ml, MATOCS_LISTEN_HOST: MFS_HOST, MATOCS_LISTEN_PORT: MFS_PORTS.cs,
      MATOCL_LISTEN_HOST: MFS_HOST, MATOCL_LISTEN_PORT: MFS_PORTS.cl,
    }));
    daemons.push(await startMooseFsDaemon('mfsmaster', path.join(base, 'master.cfg')));
    for (const index of [1, 2, 3]) {
      const cs = path.join(base, `cs${index}`);
      await fs.mkdir(path.join(cs, 'data'), { recursive: true });
      await fs.mkdir(path.join(cs, 'hdd'), { recursive: true });
      await fs.writeFile(path.join(cs, 'hdd.cfg'), `${path.join(cs, 'hdd')}\n`);
      await fs.writeFile(path.join(cs, 'cs.cfg'), config({
        DATA_PATH: path.join(cs, 'data'), HDD_CONF_FILENAME: path.join(cs, 'hdd.cfg'), WORKING_USER: 'root', WORKING_GROUP: 'root',
        BIND_HOST: MFS_HOST, MASTER_HOST: MFS_HOST, MASTER_PORT: MFS_PORTS.cs, CSSERV_LISTEN_HOST: MFS_HOST, CSSERV_LISTEN_PORT: MFS_PORTS.cl + 1 + index, HDD_TEST_SPEED: 0,
      }));
      daemons.push(await startMooseFsDaemon('mfschunkserver', path.join(cs, 'cs.cfg')));
    }
    // nsenter joins the namespace's network only: the FUSE mount stays in this mount namespace, visible here.
    execFileSync('nsenter', [`--net=/run/netns/${NETNS}`, 'mfsmount', mnt, '-H', MFS_HOST, '-P', String(MFS_PORTS.cl)], { stdio: 'ignore' });
    mounted = true;
    const goal3 = path.join(mnt, 'g3');
    await fs.mkdir(goal3);
    execFileSync('nsenter', [`--net=/run/netns/${NETNS}`, 'mfssetgoal', '3', goal3], { stdio: 'ignore' });
    // The chunkservers must all have registered before a put can place 3 copies.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  } catch (error) {
    await stop();
    throw error;
  }
  // mfsmount runs on as a daemon of its own, its title rewritten to "mfsmount (mounted on: MNT)".
  const mountPid = Number(spawnSync('pgrep', ['-f', `^mfsmount.*${mnt}`], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? 0);
  const pids = [...daemons.map((daemon) => daemon.pid ?? 0), mountPid];
  const file = (round: number): string => path.join(mnt, 'g3', `f${round}`);
  return {
    name: 'MooseFS',
    copies: 3,
    put: (source, round) => measured('dd', [`if=${source}`, `of=${file(round)}`, 'bs=1M', 'conv=fsync', 'status=none'], () => cpuOf(pids)),
    coldGet: (round) => measured('dd', [`if=${file(round)}`, 'of=/dev/null', 'bs=1M', 'status=none'], () => cpuOf(pids)),
    remove: async (round) => {
      await fs.rm(file(round), { force: true });
      await new Promise((resolve) => setTimeout(resolve, MFS_SETTLE_MS));
    },
    stop,
  };
}

/** What is missing to run the sftp reference here, or undefined. */
function sftpMissing(): string | undefined {
  if (!existsSync(SSHD)) return `no ${SSHD}: apt-get install -y openssh-server`;
  const tool = absentTool(['sftp', 'ssh-keygen']);
  return tool ? `${tool} not found: apt-get install -y openssh-client` : undefined;
}

/** A port free on 127.0.0.1 a moment ago (sshd takes no port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A throwaway sshd on 127.0.0.1 with host and client keys of its own, and `sftp -b` as the client: one copy, no
 * replication, the single-server reference. `put -f` asks the server to fsync the file (OpenSSH's fsync extension),
 * as dfs does every copy. Its sessions are forked sshd processes the daemon reaps, so the daemon's CPU is counted
 * with its reaped children's.
 */
async function startSftp(dir: string): Promise<System> {
  const base = path.join(dir, 'sftp');
  const files = path.join(base, 'files');
  await fs.mkdir(files, { recursive: true });
  await fs.mkdir('/run/sshd', { recursive: true }); // sshd's privilege-separation directory
  for (const key of ['host', 'client']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(base, key)]);
  await fs.copyFile(path.join(base, 'client.pub'), path.join(base, 'authorized_keys'));
  const port = await freePort();
  await fs.writeFile(path.join(base, 'sshd_config'), [
    `ListenAddress 127.0.0.1:${port}`, `HostKey ${path.join(base, 'host')}`, `AuthorizedKeysFile ${path.join(base, 'authorized_keys')}`,
    `PidFile ${path.join(base, 'sshd.pid')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no',
    'StrictModes no', 'PermitRootLogin prohibit-password', 'Subsystem sftp internal-sftp', '',
  ].join('\n'));
  const daemon = await startDaemon(SSHD, ['-D', '-e', '-f', path.join(base, 'sshd_config')], 'Server listening', 10_000);
  const batch = path.join(base, 'batch');
  const sftp = async (commands: string): Promise<Measure> => {
    await fs.writeFile(batch, `${commands}\n`);
    return measured('sftp', ['-q', '-b', batch, '-i', path.join(base, 'client'), '-P', String(port), '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `${userInfo().username}@127.0.0.1`], () => cpuOf([daemon.pid ?? 0], cpuWithReapedMs));
  };
  const file = (round: number): string => path.join(files, `f${round}`);
  return {
    name: 'sftp',
    copies: 1,
    put: (source, round) => sftp(`put -f ${source} ${file(round)}`),
    coldGet: (round) => sftp(`get ${file(round)} /dev/null`),
    remove: (round) => fs.rm(file(round), { force: true }),
    stop: () => stopDaemon(daemon),
  };
}

function mbPerSecond(measure: Measure): number {
  return BYTES / 1e6 / (measure.ms / 1000);
}

function cpuSecondsPerGb(measure: Measure): number {
  return measure.cpuMs / 1000 / (BYTES / 1e9);
}

interface Figures {
  put: Measure[];
  get: Measure[];
}

async function main(): Promise<void> {
  if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('DFS_BENCH_ROUNDS must be a whole number >= 1');
  const dir = await tempDir('dfs-bench-peers-');
  const source = path.join(dir, 'source.bin');
  await randomFile(source, BYTES);
  const systems: System[] = [];
  try {
    systems.push(await startDfs(dir));
    systems.push(await startNodeTls(dir));
    const missing = mooseFsMissing();
    if (missing) console.log(`MooseFS: not measured: ${missing}`);
    else systems.push(await startMooseFs(dir));
    const noSftp = sftpMissing();
    if (noSftp) console.log(`sftp: not measured: ${noSftp}`);
    else systems.push(await startSftp(dir));
    const cold = dropCaches();
    if (!cold) console.log('the page cache cannot be dropped here (not root?): gets are warm, not cold');
    console.log(`file: ${(BYTES / 2 ** 20).toFixed(0)} MiB, ${ROUNDS} round(s), ${systems.map((system) => system.name).join(' and ')}`);
    const copiesOf = new Map(systems.map((system) => [system.name, system.copies]));
    const figures = new Map<string, Figures>(systems.map((system) => [system.name, { put: [], get: [] }]));
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate who goes first, so neither always meets the other's leftovers (dirty pages, busy disks).
      const order = round % 2 === 1 ? systems : [...systems].reverse();
      const line: string[] = [];
      for (const system of order) {
        // What the previous put left unwritten is written out now, not during this put's fsyncs. Then the page cache
        // is emptied and the source read back into it: every put finds the source cached and the memory the
        // previous puts filled free again. On this VM, memory the guest has not touched lately costs ~1.5-2 s of
        // CPU per GiB the first time it is written (a 1 GiB dd into the page cache: 0.2 s of sys right after a
        // drop, 1.6-2.3 s once that memory is used), so whoever wrote second paid for it (dfs after MooseFS: 78
        // MB/s at 20 CPU-s/GB; 110-123 at 13-15 when first).
        await quietMachine();
        if (cold) {
          dropCaches();
          await readWhole(source);
        }
        const put = await system.put(source, round);
        figures.get(system.name)?.put.push(put);
        line.push(`${system.name} put ${mbPerSecond(put).toFixed(0)} MB/s (${cpuSecondsPerGb(put).toFixed(1)} CPU-s/GB)`);
      }
      for (const system of order) {
        await quietMachine();
        if (cold) dropCaches();
        const get = await system.coldGet(round);
        figures.get(system.name)?.get.push(get);
        line.push(`${system.name} get ${mbPerSecond(get).toFixed(0)} MB/s (${cpuSecondsPerGb(get).toFixed(1)} CPU-s/GB)`);
      }
      for (const system of systems) await system.remove(round);
      console.log(`round ${round}: ${line.join(', ')}`);
    }
    for (const system of systems) {
      const peak = system.storagePeakBytes?.();
      if (peak !== undefined) report(`${system.name} node peak memory`, `${(peak / 2 ** 20).toFixed(0)} MiB`, '< 150 MB');
    }
    const medianOf = (measures: Measure[], pick: (measure: Measure) => number): number => median(measures.map(pick));
    for (const [name, { put, get }] of figures) {
      report(`${name} put, ${copiesOf.get(name) === 1 ? '1 copy' : '3 copies'}`, `${medianOf(put, mbPerSecond).toFixed(0)} MB/s, ${medianOf(put, cpuSecondsPerGb).toFixed(1)} CPU-s/GB`);
      report(`${name} ${cold ? 'cold' : 'warm'} get`, `${medianOf(get, mbPerSecond).toFixed(0)} MB/s, ${medianOf(get, cpuSecondsPerGb).toFixed(1)} CPU-s/GB`);
    }
    // Per round, each ratio from figures measured minutes apart; the median of those.
    const ratios = (name: string, peer: string, target?: string): void => {
      const [ours, theirs] = [figures.get(name), figures.get(peer)];
      if (!ours || !theirs) return;
      const ratio = (pick: (figures: Figures) => Measure[]): number => median(pick(ours).map((measure, index) => mbPerSecond(measure) / mbPerSecond(pick(theirs)[index] ?? measure)));
      report(`ratio: ${name} put / ${peer} put`, ratio((f) => f.put).toFixed(2), target);
      report(`ratio: ${name} ${cold ? 'cold ' : ''}get / ${peer} ${cold ? 'cold ' : ''}get`, ratio((f) => f.get).toFixed(2), target);
    };
    // The target is MooseFS's (same copies, same durability); sftp's single copy and the bare floor are references.
    for (const peer of figures.keys()) if (peer !== 'dfs') ratios('dfs', peer, peer === 'MooseFS' ? '>= 1.0' : undefined);
    ratios('Node TLS', 'MooseFS');
  } finally {
    for (const system of systems.reverse()) await system.stop().catch((error: unknown) => console.error(`stopping ${system.name}: ${String(error)}`));
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
