// A cluster on a LAN, not loopback: five network namespaces on one bridge stand for five machines — a master, three
// nodes listening on 0.0.0.0 without --advertise, and a client. Each node must register an address the others can
// reach (never 127.0.0.1 or 0.0.0.0), and put, get, cp and repair must work across the hosts. Needs root (ip netns);
// skipped with the reason where namespaces cannot be made.

import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { ADMIN_PASSWORD, DFS, runDfs, startDfs, tempDir, waitFor, type DfsProcess } from '../helpers/binary';
import { randomFile, sha256Of } from '../helpers/files';

const TAG = `d${process.pid % 100_000}`; // interface names: at most 15 characters
const SUBNET = `10.213.${process.pid % 250}`;
const HOSTS = { master: 1, n1: 11, n2: 12, n3: 13, client: 21 } as const;
type Host = keyof typeof HOSTS;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function canMakeNamespaces(): string | false {
  try {
    ip('netns', 'add', `${TAG}-probe`);
    ip('netns', 'del', `${TAG}-probe`);
    return false;
  } catch (error) {
    return `cannot create network namespaces here (needs root and iproute2): ${String((error as Error).message).split('\n')[0]}`;
  }
}

const skip = canMakeNamespaces();

t.test('five hosts on one bridge: nodes on 0.0.0.0 register reachable addresses; put, get, cp and repair work across hosts', { skip }, async (t) => {
  const bridge = `${TAG}br`;
  const netns = (host: Host): string => `${TAG}-${host}`;
  const address = (host: Host): string => `${SUBNET}.${HOSTS[host]}`;
  t.teardown(() => {
    for (const host of Object.keys(HOSTS) as Host[]) execFileSync('ip', ['netns', 'del', netns(host)], { stdio: 'ignore' });
    execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
  });
  ip('link', 'add', bridge, 'type', 'bridge');
  ip('link', 'set', bridge, 'up');
  for (const host of Object.keys(HOSTS) as Host[]) {
    const outside = `${TAG}${host.slice(0, 2)}a`;
    const inside = `${TAG}${host.slice(0, 2)}b`;
    ip('netns', 'add', netns(host));
    ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    ip('link', 'set', inside, 'netns', netns(host));
    ip('link', 'set', outside, 'master', bridge, 'up');
    ip('-n', netns(host), 'addr', 'add', `${address(host)}/24`, 'dev', inside);
    ip('-n', netns(host), 'link', 'set', inside, 'up');
    ip('-n', netns(host), 'link', 'set', 'lo', 'up');
  }

  const dir = await tempDir(t);
  const masterDir = path.join(dir, 'master');
  await startDfs(t, ['master', '--data', masterDir, '--listen', '0.0.0.0:7070', '--replicas', '2', '--node-timeout', '5'], { netns: netns('master'), env: { DFS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  const nodes = new Map<string, DfsProcess>();
  for (const host of ['n1', 'n2', 'n3'] as const) {
    nodes.set(address(host), await startDfs(t, ['node', '--master', `${address('master')}:7070`, '--token-file', path.join(masterDir, 'join-token'), '--data', path.join(dir, host), '--listen', '0.0.0.0:7071'], { netns: netns(host) }));
  }
  const env = { ...process.env, DFS_CA: path.join(masterDir, 'ca.pem'), DFS_USER: 'admin', DFS_PASSWORD: ADMIN_PASSWORD };
  const shell = (commands: string): ReturnType<typeof runDfs> => runDfs(['netns', 'exec', netns('client'), DFS, 'shell', `${address('master')}:7070`, '-c', commands], { command: 'ip', env, timeoutMs: 60_000 });

  let last = '';
  const listed = await waitFor('3 nodes registered', async () => {
    const run = await shell('nodes');
    last = `${run.stdout}${run.stderr}`;
    return /^3 nodes: 3 alive/m.test(run.stdout) ? run.stdout : undefined;
  }).catch((error: unknown) => {
    t.comment(`nodes said: ${last}`);
    for (const [host, node] of nodes) t.comment(`${host}: ${node.output().stderr}`);
    throw error;
  });
  for (const host of ['n1', 'n2', 'n3'] as const) t.match(listed, `${address(host)}:7071`, `${host} registered the address the others reach it at`);
  t.notMatch(listed, /127\.0\.0\.1|0\.0\.0\.0/, 'no loopback or wildcard address');

  const local = path.join(dir, 'file');
  await randomFile(local, 3 * 1024 * 1024 + 5);
  const sha256 = await sha256Of(local);
  const back = path.join(dir, 'back');
  const run = await shell(`put ${local} /f; cp /f /g; get /g ${back}; stat /f`);
  t.equal(run.code, 0, `put, cp and get from the client host\n${run.stderr}`);
  t.equal(await sha256Of(back), sha256, 'the copy reads back whole on the client host');
  t.match(run.stdout, /Replicas:\s+2\/2/, '2 copies, on two hosts');

  // Repair across hosts: a node holding a copy of /f is killed; the master copies it to the third host.
  const holders = [...run.stdout.matchAll(/\((\d+\.\d+\.\d+\.\d+):7071\)/g)].map((match) => match[1] ?? '');
  const victim = nodes.get(holders[0] ?? '');
  t.ok(victim, `a node holding /f (${holders.join(', ')})`);
  victim?.child.kill('SIGKILL');
  await waitFor('2 live copies again', async () => {
    const stat = await shell('stat /f');
    const live = [...stat.stdout.matchAll(/\((\d+\.\d+\.\d+\.\d+):7071\)(?! dead)/g)].map((match) => match[1]);
    return /Replicas:\s+2\/2/.test(stat.stdout) && !live.includes(holders[0]) ? true : undefined;
  }, 60_000);
  t.pass('the lost copy was made again on the third host');
  const again = path.join(dir, 'again');
  t.equal((await shell(`get /f ${again}`)).code, 0);
  t.equal(await sha256Of(again), sha256, 'and reads back whole');
  await fs.rm(again);
});
