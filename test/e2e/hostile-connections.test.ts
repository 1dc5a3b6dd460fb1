// Hostile connections against real processes: strangers announcing huge frames are cut off
// at the header; logged-in users' large frames share one memory budget; 2.5 times as many idle connections as it holds never lock out a
// new `dfs shell` and never displace a logged-in session; the master stays within its normal memory + 300 MB.

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import t, { type Test } from 'tap';
import { CONNECTIONS_MAX } from '../../src/limits';
import type { HostPort } from '../../src/wire/address';
import { ADMIN_PASSWORD, runDfs, startCluster } from '../helpers/binary';
import { masterAddress, shellEnv } from '../helpers/cluster';
import { allButLastByte, attack, connectFrom, frameHeader, loopback, rssMb } from '../helpers/hostile';

t.test('100 strangers each announcing a 16 MiB frame and sending all but its last byte: cut off at the header; the master stays small', async (t) => {
  const cluster = await startCluster(t, 1);
  const masterBefore = await rssMb(cluster.master.child.pid);
  const results = await Promise.all(Array.from({ length: 100 }, (_, index) => attack(cluster.master.address, loopback(30, index * 250), allButLastByte, 10_000)));
  const masterAfter = await rssMb(cluster.master.child.pid);
  t.equal(results.filter((result) => result === 'closed by the server').length, 100, 'the master closed every one');
  t.ok(masterAfter - masterBefore < 300, `master RSS ${masterBefore.toFixed(0)} → ${masterAfter.toFixed(0)} MB`);
  const node = cluster.nodes[0];
  if (!node) throw new Error('no node');
  const nodeBefore = await rssMb(node.child.pid);
  const atNode = await Promise.all(Array.from({ length: 40 }, (_, index) => attack(node.address, loopback(31, index * 250), allButLastByte, 10_000)));
  const nodeAfter = await rssMb(node.child.pid);
  t.equal(atNode.filter((result) => result === 'closed by the server').length, 40, 'a node closes them too');
  t.ok(nodeAfter - nodeBefore < 300, `node RSS ${nodeBefore.toFixed(0)} → ${nodeAfter.toFixed(0)} MB`);
  const shell = await runDfs(['shell', masterAddress(cluster), '-c', 'whoami'], { env: shellEnv(cluster) });
  t.same([shell.code, shell.stdout], [0, 'admin\n'], 'a shell works afterwards');
});

t.test('100 logged-in connections each sending all but the last byte of a 16 MiB frame: one budget for them all', async (t) => {
  const cluster = await startCluster(t, 0);
  const before = await rssMb(cluster.master.child.pid);
  const login = Buffer.from(JSON.stringify({ k: 'q', id: 1, t: 'auth.login', d: { user: 'shared' } }));
  const loginFrame = Buffer.concat([frameHeader(login.length), login]);
  // The big frame follows the answer to the login, so it is sent as a logged-in user's.
  const afterLogin = (socket: TLSSocket): void => {
    socket.write(loginFrame);
    socket.once('data', () => allButLastByte(socket));
  };
  const results = await Promise.all(Array.from({ length: 100 }, (_, index) => attack(cluster.master.address, loopback(32, index), afterLogin, 15_000)));
  const after = await rssMb(cluster.master.child.pid);
  t.comment(`${results.filter((result) => result === 'closed by the server').length} of 100 closed by the master (past the payload budget); RSS ${before.toFixed(0)} → ${after.toFixed(0)} MB`);
  t.ok(results.filter((result) => result === 'closed by the server').length >= 90, 'most were refused: the budget holds about 8 such frames');
  t.ok(after - before < 300, `the master grew by ${(after - before).toFixed(0)} MB (at most 300)`);
});

t.test(`${(CONNECTIONS_MAX * 2.5).toLocaleString('en')} idle connections (500 of them through TLS), two and a half times what the master holds, lock out neither a new shell nor a logged-in session`, async (t) => {
  const cluster = await startCluster(t, 0);
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  const before = await rssMb(cluster.master.child.pid);
  // Half from 5 addresses (past the per-address cap, so displacement is certain), half from 20.
  const half = (CONNECTIONS_MAX * 2.5) / 2;
  const floods = await Promise.all([
    flood(t, cluster.master.address, half, 250, 40, half / 5),
    flood(t, cluster.master.address, half, 250, 41, half / 20),
  ]);
  t.comment(`flood: ${floods.map((line) => JSON.stringify(line)).join(', ')}`);
  const during = await rssMb(cluster.master.child.pid);
  const shell = await runDfs(['shell', masterAddress(cluster), '-c', 'whoami'], { env: shellEnv(cluster), timeoutMs: 60_000 });
  t.same([shell.code, shell.stdout, shell.stderr], [0, 'admin\n', ''], 'a new dfs shell logs in and works');
  t.same((await admin.request('auth.whoami', {})).data, { user: 'admin', admin: true }, 'the logged-in connection was never displaced');
  t.ok(during - before < 300, `master RSS ${before.toFixed(0)} → ${during.toFixed(0)} MB during the flood`);
  t.match(cluster.master.output().stderr, /connection from \S+ displaced: /, 'the master logs the displacements (once per interval)');
});

/** Runs test/helpers/idle-flood.mjs and resolves with its first report, once its connections are open. */
async function flood(t: Test, address: HostPort, count: number, tlsCount: number, block: number, perAddress: number): Promise<unknown> {
  const script = path.join(__dirname, '../helpers/idle-flood.mjs');
  const child = spawn(process.execPath, [script, address.host, String(address.port), String(count), String(tlsCount), String(block), String(perAddress)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.stdin.end();
    child.kill();
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n')[0];
      if (output.includes('\n') && line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`idle-flood exited with ${code}`)));
  });
}
