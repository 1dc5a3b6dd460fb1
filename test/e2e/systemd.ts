// The systemd units in contrib/systemd/ against real systemd tooling: `systemd-analyze verify` finds nothing wrong
// with them, and the roles speak the notify protocol of Type=notify units (READY=1 once serving — a node once it has
// registered —, RELOADING=1 and READY=1 around a SIGHUP, which re-reads the config file and never stops the role,
// STOPPING=1 on SIGTERM), received here on a unix datagram socket as systemd would; with JOURNAL_STREAM set, log lines
// carry syslog priorities.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { ADMIN_PASSWORD, DFS, startCluster, startDfs, tempDir, waitFor } from '../helpers/binary';
import { loginAt } from '../helpers/client';

const UNITS = path.resolve(__dirname, '../../contrib/systemd');
const have = (command: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

t.test('systemd-analyze verify: both units are clean', { skip: have('systemd-analyze') ? false : 'systemd-analyze is not installed (apt install systemd)' }, async (t) => {
  const dir = await tempDir(t);
  // verify checks that ExecStart's program exists: point it at the built executable instead of /usr/local/bin.
  const units: string[] = [];
  for (const [shipped, name] of [['dfs-master.service', 'dfs-master.service'], ['dfs-node@.service', 'dfs-node@disk1.service']] as const) {
    const text = await fs.readFile(path.join(UNITS, shipped), 'utf8');
    t.match(text, /^ExecStart=\/usr\/local\/bin\/dfs /m, `${shipped} runs /usr/local/bin/dfs`);
    for (const line of ['Type=notify', 'NotifyAccess=all', 'User=dfs', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'ExecReload=/bin/kill -HUP $MAINPID']) t.match(text, line, `${shipped}: ${line}`);
    await fs.writeFile(path.join(dir, name), text.replaceAll('/usr/local/bin/dfs', DFS));
    units.push(path.join(dir, name));
  }
  const verify = execFileSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(verify, '', 'no complaint');
});

/** A unix datagram socket standing in for systemd's notify socket: every message received, in order. */
async function notifySocket(t: Test): Promise<{ path: string; messages: () => string[] }> {
  const dir = await tempDir(t);
  const socket = path.join(dir, 'notify');
  const received: string[] = [];
  const listener = spawn('python3', ['-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound", flush=True)\nwhile True: print(s.recv(65536).decode().replace("\\n", " "), flush=True)', socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => listener.kill());
  let buffered = '';
  listener.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    received.push(...lines);
  });
  await waitFor('the notify socket', async () => (received.includes('bound') ? true : undefined));
  return { path: socket, messages: () => received.filter((line) => line !== 'bound' && line !== 'BARRIER=1') };
}

t.test('Type=notify: ready once serving, reload on SIGHUP without stopping, stopping on SIGTERM', { skip: have('python3') && have('systemd-notify') ? false : 'needs python3 and systemd-notify' }, async (t) => {
  const cluster = await startCluster(t, 0);
  const masterSocket = await notifySocket(t);
  const dir = await tempDir(t);
  const config = path.join(dir, 'master.conf');
  await fs.writeFile(config, 'replicas = 3\n');
  const data = path.join(dir, 'master');
  const master = await startDfs(t, ['master', '--config', config, '--data', data, '--listen', '127.0.0.1:0'], { env: { NOTIFY_SOCKET: masterSocket.path, JOURNAL_STREAM: '8:12345', DFS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  const pid = master.child.pid ?? 0;
  await waitFor('the master to say it is ready', async () => (masterSocket.messages().length > 0 ? true : undefined));
  t.same(masterSocket.messages(), [`MAINPID=${pid} READY=1 STATUS=serving on 127.0.0.1:${master.address.port}`], 'READY=1 once it serves, with a status line');

  await fs.writeFile(config, 'replicas = 2\nlisten = 127.0.0.1:1\nadvertise = 127.0.0.1:9\n');
  master.child.kill('SIGHUP');
  await waitFor('the reload', async () => (/SIGHUP: settings re-read/.test(master.output().stderr) ? true : undefined));
  t.match(master.output().stderr, 'SIGHUP: settings re-read; applied replicas; a restart is needed for advertise\n', 'the log says what changed and what waits for a restart (listen is a flag here: the file\'s does not count)');
  await waitFor('READY after the reload', async () => (masterSocket.messages().length >= 3 ? true : undefined));
  t.match(masterSocket.messages()[1] ?? '', new RegExp(`^MAINPID=${pid} RELOADING=1 MONOTONIC_USEC=\\d+$`), 'RELOADING=1 while it re-reads');
  t.equal(masterSocket.messages()[2], `MAINPID=${pid} READY=1`, 'then READY=1');
  const admin = await loginAt(t, master.address, await fs.readFile(path.join(data, 'ca.pem'), 'utf8'), 'admin', ADMIN_PASSWORD);
  t.same(await admin.whoami(), { user: 'admin', admin: true }, 'the master still serves after SIGHUP');

  await fs.writeFile(config, 'replicas = 0\n');
  master.child.kill('SIGHUP');
  await waitFor('the refused reload', async () => (/SIGHUP: settings not changed: --replicas must be/.test(master.output().stderr) ? true : undefined));
  t.pass('a reload with a bad value changes nothing and says why');
  const priorities = master.output().stderr.split('\n').filter((line) => / master (info|warn|error) /.test(line)).map((line) => /^<(\d)>\d{4}-/.exec(line)?.[1]);
  t.ok(priorities.includes('6') && priorities.includes('3') && priorities.every((priority) => priority === '6' || priority === '4' || priority === '3'), `under the journal every line starts with its syslog priority, <6> info … <3> error (journalctl -p works): ${priorities.join(' ')}`);

  // A node is ready for systemd once it registered, not when it listens.
  const nodeSocket = await notifySocket(t);
  const nodeConfig = path.join(dir, 'node.conf');
  await fs.writeFile(nodeConfig, 'capacity = 1G\n');
  const node = await startDfs(t, ['node', '--config', nodeConfig, '--master', `127.0.0.1:${cluster.master.address.port}`, '--token-file', cluster.tokenFile, '--data', path.join(dir, 'node'), '--listen', '127.0.0.1:0'], { env: { NOTIFY_SOCKET: nodeSocket.path } });
  await waitFor('the node to say it is ready', async () => (nodeSocket.messages().length > 0 ? true : undefined));
  t.equal(nodeSocket.messages()[0], `MAINPID=${node.child.pid ?? 0} READY=1 STATUS=registered with the master`);
  t.match(node.output().stderr, /registered with the master[^\n]*\n/, 'after the registration');
  const clusterAdmin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await fs.writeFile(nodeConfig, 'capacity = 512M\nscrub-rate = 1M\n');
  node.child.kill('SIGHUP');
  await waitFor('the node to apply its new capacity', async () => ((await clusterAdmin.nodes())[0]?.capacityBytes === 512 * 1024 * 1024 ? true : undefined));
  t.match(node.output().stderr, 'SIGHUP: settings re-read; applied capacity, scrub-rate', 'a node applies capacity and scrubbing at once');

  master.child.kill('SIGTERM');
  const exited = await master.exited;
  t.same(exited, { code: 0, signal: null }, 'SIGTERM stops it cleanly');
  t.equal(masterSocket.messages().at(-1), `MAINPID=${pid} STOPPING=1`, 'saying STOPPING=1');
  t.ok(existsSync(data), 'and its data stays');
});
