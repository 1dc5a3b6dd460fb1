// The master's disk fills up under it, on a real full filesystem (a small tmpfs; the test skips,
// saying why, where it cannot mount one): a change whose journal write fails is refused as NO_SPACE, rolled back
// (no mkdir that failed shows in ls) and logged; once space is freed, changes are accepted again, and a restart
// finds exactly the acknowledged ones.

import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { ADMIN_PASSWORD, runDfs, startCluster, startDfs, tempDir, waitFor } from '../helpers/binary';
import { codeOf, loginAt } from '../helpers/client';
import { masterAddress, shellEnv } from '../helpers/cluster';
import { randomFile } from '../helpers/files';
import { connectFrom } from '../helpers/hostile';

/** A fresh tmpfs of `size` (unmounted at teardown), or undefined where this machine cannot mount one: the test then
 * passes with a note saying why. */
async function tmpfs(t: Test, size: string): Promise<string | undefined> {
  const disk = path.join(await tempDir(t), 'disk');
  await fs.mkdir(disk);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', disk], { stdio: 'pipe' });
  } catch (error) {
    const why = `cannot mount a tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}): run as root to test a full or read-only disk`;
    t.plan(0, why); // reported as a skip, not a pass
    return undefined;
  }
  t.teardown(() => execFileSync('umount', ['-l', disk]));
  return disk;
}

/** Writes `file` until the filesystem is full. */
async function fill(file: string): Promise<void> {
  const handle = await fs.open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) await handle.write(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
}

t.test('a full disk under the master: the failed change is rolled back and logged, and changes resume once space is freed', async (t) => {
  const disk = await tmpfs(t, '16m');
  if (disk === undefined) return;
  const dataDir = path.join(disk, 'master');
  const start = (): ReturnType<typeof startDfs> => startDfs(t, ['master', '--data', dataDir, '--listen', '127.0.0.1:0'], { env: { DFS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  const master = await start();
  const caPem = await fs.readFile(path.join(dataDir, 'ca.pem'), 'utf8');
  const admin = await connectFrom(t, master.address, caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  await admin.request('fs.mkdir', { path: '/before', parents: false });

  const filler = path.join(disk, 'filler');
  await fill(filler);
  // The journal's last page may still take a few small records: the mkdirs that got in are acknowledged.
  const acknowledged = ['before'];
  let failed = '';
  for (let index = 0; index < 1_000 && failed === ''; index++) {
    const name = `d${index}`;
    failed = await admin.request('fs.mkdir', { path: `/${name}`, parents: false }).then(
      () => (acknowledged.push(name), ''),
      (error: { code?: string; message?: string }) => `${error.code}: ${error.message}`,
    );
  }
  t.match(failed, /^NO_SPACE: the master's disk is full/, `a mkdir is refused: ${failed} (${acknowledged.length - 1} got in first)`);
  const names = async (): Promise<string[]> => (await admin.request('fs.list', { path: '/' })).data.entries.map((entry) => entry.name).sort();
  await waitFor('the failed mkdir to be rolled back', async () => ((await names()).length === acknowledged.length ? true : undefined), 5_000);
  t.same(await names(), [...acknowledged].sort(), 'ls shows only what was acknowledged');
  t.match(master.output().stderr, /journal write failed: .*ENOSPC/, 'the failure is logged');
  t.match(master.output().stderr, /rolled back to the journal on disk/, 'and the rollback');
  t.equal(await codeOf(admin.request('fs.mkdir', { path: '/still-full', parents: false })), 'NO_SPACE', 'while the disk stays full, changes keep failing cleanly');

  await fs.rm(filler);
  await waitFor('changes to be accepted again', async () => ((await codeOf(admin.request('fs.mkdir', { path: '/after', parents: false }))) === 'OK' ? true : undefined), 5_000);
  t.same(await names(), [...acknowledged, 'after'].sort(), 'once space is freed, a change goes through');

  master.child.kill('SIGKILL');
  await master.exited;
  const restarted = await start();
  const again = await connectFrom(t, restarted.address, caPem);
  await again.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  t.same((await again.request('fs.list', { path: '/' })).data.entries.map((entry) => entry.name).sort(), [...acknowledged, 'after'].sort(), 'a restart finds exactly the acknowledged changes');
});

t.test('a node whose disk turns read-only: the put that finds it says EROFS; the master places nothing there until it takes writes again', async (t) => {
  const disk = await tmpfs(t, '256m');
  if (disk === undefined) return;
  const work = await tempDir(t);
  const cluster = await startCluster(t, 0, ['--replicas', '1']);
  // The tmpfs node has the most room, so it is chosen first.
  const onTmpfs = await startDfs(t, ['node', '--master', masterAddress(cluster), '--token-file', cluster.tokenFile, '--data', path.join(disk, 'node'), '--listen', '127.0.0.1:0']);
  for (const name of ['node2', 'node3']) cluster.nodes.push(await cluster.startNode(name, ['--capacity', '100M']));
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('three nodes', async () => ((await admin.nodes()).filter((node) => node.state === 'alive').length === 3 ? true : undefined));
  const stateOf = async (): Promise<string | undefined> => (await admin.nodes()).find((node) => node.advertise.endsWith(`:${onTmpfs.address.port}`))?.state;
  const local = path.join(work, 'f');
  await randomFile(local, 1024 * 1024);
  const shell = (command: string): ReturnType<typeof runDfs> => runDfs(['shell', masterAddress(cluster), '-c', command], { env: shellEnv(cluster) });
  t.equal((await shell(`put ${local} /a`)).code, 0, 'a put lands on the tmpfs node');
  t.match((await admin.stat('/a')).replicas?.nodes.join(' ') ?? '', `:${onTmpfs.address.port}`, 'on it');

  execFileSync('mount', ['-o', 'remount,ro', disk]);
  const refused = await shell(`put ${local} /b`);
  t.equal(refused.code, 1, 'the put that finds the read-only disk fails');
  t.match(refused.stderr, /read-only \(EROFS\)/, `and says why: ${refused.stderr.trim()}`);
  await waitFor('the node shown read-only', async () => ((await stateOf()) === 'read-only' ? true : undefined));
  t.pass('nodes shows it read-only');
  t.match(cluster.master.output().stderr, /its disk is read-only: no new blobs go there/, 'the master logs it');
  const elsewhere = await shell(`put ${local} /c`);
  t.equal(elsewhere.code, 0, `the next put goes to another node: ${elsewhere.stderr.trim()}`);
  t.notMatch((await admin.stat('/c')).replicas?.nodes.join(' ') ?? '', `:${onTmpfs.address.port}`, 'not to the read-only one');
  t.equal((await shell(`get /a ${path.join(work, 'back')}`)).code, 0, 'what it holds is still read');

  execFileSync('mount', ['-o', 'remount,rw', disk]);
  await waitFor('the node to take writes again', async () => ((await stateOf()) === 'alive' ? true : undefined));
  t.pass('once the disk takes writes, the node is alive again');
});
