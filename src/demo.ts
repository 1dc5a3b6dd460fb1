// `dfs demo`: a whole cluster on this machine, a master and N nodes as child processes of this
// executable on loopback, data kept under one directory so the next run finds it again.

import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { formatHostPort, type HostPort } from './wire/address';
import { DfsError } from './wire/errors';
import { connectTls, MASTER_CN } from './trust/tls';
import { MASTER_FILES } from './master/identity';
import { SHARED_USER } from './master/users';
import { spawnRole, stopChild, type ChildRole } from './process';

export interface DemoOptions {
  nodes: number;
  dataDir: string;
}

export interface RunningDemo {
  master: HostPort;
  caFile: string;
  stop(): Promise<void>;
  /** Resolves when any member exits on its own: the demo is broken then. */
  failed: Promise<string>;
}

const READY_TIMEOUT_MS = 30_000;
const DEMO_MASTER_PORT = 7070;

export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const dataDir = path.resolve(options.dataDir);
  const logDir = path.join(dataDir, 'logs');
  await fs.mkdir(logDir, { recursive: true, mode: 0o700 });
  const children: ChildRole[] = [];
  // Nodes first, so none of them sees its master vanish and starts reconnecting.
  const stop = async (): Promise<void> => {
    await Promise.all(children.filter((role) => role.name !== 'master').map((role) => stopChild(role.child)));
    await Promise.all(children.filter((role) => role.name === 'master').map((role) => stopChild(role.child)));
  };
  try {
    const masterDir = path.join(dataDir, 'master');
    const master = await startDemoMaster(masterDir, logDir);
    children.push(master);
    const tokenFile = path.join(masterDir, MASTER_FILES.joinToken);
    const nodes = await Promise.all(
      Array.from({ length: options.nodes }, (_, index) => {
        const name = `node${index + 1}`;
        const args = ['node', '--master', formatHostPort(master.address), '--token-file', tokenFile, '--data', path.join(dataDir, name), '--listen', '127.0.0.1:0'];
        return spawnRole(name, args, logFile(logDir, name), roleEnv());
      }),
    );
    children.push(...nodes);
    const caFile = path.join(masterDir, MASTER_FILES.caCert);
    await waitForNodes(master.address, await fs.readFile(caFile, 'utf8'), options.nodes);
    const failed = Promise.race(children.map((role) => new Promise<string>((resolve) => role.child.once('exit', () => resolve(role.name)))));
    return { master: master.address, caFile, stop, failed };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The same port every run when it is free, so shells in other terminals (and their remembered CA)
 * keep working across demos; any free port otherwise.
 */
async function startDemoMaster(masterDir: string, logDir: string): Promise<ChildRole> {
  const args = (port: number): string[] => ['master', '--data', masterDir, '--listen', `127.0.0.1:${port}`];
  try {
    return await spawnRole('master', args(DEMO_MASTER_PORT), logFile(logDir, 'master'), roleEnv());
  } catch (error) {
    if (!(error instanceof DfsError) || !error.message.includes('EADDRINUSE')) throw error;
    return spawnRole('master', args(0), logFile(logDir, 'master'), roleEnv());
  }
}

/**
 * The environment of the demo's roles: their settings come from the flags above only. A DFS_CA or DFS_CONFIG the
 * user set for another cluster (roles read every flag from DFS_ variables too) must not reach them.
 */
function roleEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('DFS_') || name === 'DFS_ADMIN_PASSWORD'));
}

function logFile(logDir: string, name: string): NodeJS.WritableStream & import('node:stream').Writable {
  const file = path.join(logDir, `${name}.log`);
  const log = createWriteStream(file, { flags: 'a' });
  // A log that cannot be written (a full disk) costs the log, never the cluster.
  log.once('error', (error) => process.stderr.write(`dfs demo: cannot write ${file}: ${error.message}\n`));
  log.on('error', () => undefined);
  return log;
}

/** Polls the master until every node has registered, so the demo opens on a working cluster. */
async function waitForNodes(address: HostPort, caPem: string, count: number): Promise<void> {
  const channel = await connectTls({ address, caPem, expectCommonName: MASTER_CN });
  try {
    await channel.request('auth.login', { user: SHARED_USER });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const { data } = await channel.request('cluster.nodes', {});
      if (data.total.linked >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new DfsError('TIMEOUT', `the nodes did not register within ${READY_TIMEOUT_MS / 1000} s; see the logs`);
  } finally {
    channel.close();
  }
}
