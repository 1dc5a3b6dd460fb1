// backup through `dfs shell` against real processes: taken while puts stream in, the master's data directory then
// deleted and a master started from the backup on the same port: every put acknowledged before the backup began
// reads back whole, the nodes reconnect, and blobs the restored catalog does not know are kept (the orphan grace),
// not deleted at once. Only the admin may take one, and only into a new or empty directory.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { ADMIN_PASSWORD, runDfs, startCluster, startDfs, tempDir, waitFor } from '../helpers/binary';
import { loginAt, putFile } from '../helpers/client';
import { blobFiles, masterAddress, shellEnv } from '../helpers/cluster';
import { randomFile, sha256Of } from '../helpers/files';

t.test('a backup taken during a stream of puts restores a master that reads every put acknowledged before it', async (t) => {
  const cluster = await startCluster(t, 3, ['--orphan-grace', '3600']);
  const client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const work = await tempDir(t);
  const acknowledged: { path: string; sha256: string; atMs: number }[] = [];
  let streaming = true;
  const stream = (async () => {
    for (let index = 0; streaming; index++) {
      const local = path.join(work, `s${index}`);
      await randomFile(local, 20_000 + index);
      await putFile(client, local, `/s${index}`);
      acknowledged.push({ path: `/s${index}`, sha256: await sha256Of(local), atMs: Date.now() });
    }
  })();
  await waitFor('20 puts', async () => (acknowledged.length >= 20 ? true : undefined));
  const backupDir = path.join(await tempDir(t), 'backup');
  const startedMs = Date.now();
  const taken = await runDfs(['shell', masterAddress(cluster), '-c', `backup ${backupDir}`], { env: shellEnv(cluster) });
  t.equal(taken.code, 0, taken.stderr);
  t.match(taken.stdout, `backup written to ${backupDir} (catalog `);
  const countAtBackup = acknowledged.filter((put) => put.atMs < startedMs).length;
  await waitFor('10 puts after the backup', async () => (acknowledged.length >= countAtBackup + 10 ? true : undefined));
  streaming = false;
  await stream;
  const files = (await fs.readdir(backupDir)).sort();
  t.same(files, ['ca-key.pem', 'ca.pem', 'catalog.snapshot', 'join-token', 'master-cert.pem', 'master-key.pem', 'ticket-key'], 'the backup holds the catalog and the identity');
  t.equal((await fs.stat(backupDir)).mode & 0o777, 0o700, 'in a private directory');
  t.equal((await fs.stat(path.join(backupDir, 'ca-key.pem'))).mode & 0o777, 0o600, 'keys readable by their owner only');

  const namesBefore = (await blobFiles(cluster)).filter((file) => !file.temporary).map((file) => `${file.node}/${file.name}`);
  const port = cluster.master.address.port;
  cluster.master.child.kill('SIGKILL');
  await cluster.master.exited;
  await fs.rm(cluster.masterDir, { recursive: true, force: true });
  cluster.master = await startDfs(t, ['master', '--data', backupDir, '--listen', `127.0.0.1:${port}`]);
  const restored = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('the nodes to register again', async () => ((await restored.nodes()).filter((node) => node.state === 'alive').length === 3 ? true : undefined), 30_000);
  t.pass('the nodes trust the restored master (same CA) and register again');
  for (const put of acknowledged.filter((entry) => entry.atMs < startedMs)) {
    const back = path.join(work, `back-${path.basename(put.path)}`);
    await restored.get(put.path, back);
    t.equal(await sha256Of(back), put.sha256, `${put.path}, acknowledged before the backup, reads back whole`);
  }
  t.ok(countAtBackup >= 20, `${countAtBackup} puts were acknowledged before the backup`);
  await waitFor('the orphan grace to be announced', async () => (/orphans reported within 3600 s of the master's start are kept/.test(cluster.master.output().stderr) ? true : undefined), 30_000);
  const namesAfter = new Set((await blobFiles(cluster)).filter((file) => !file.temporary).map((file) => `${file.node}/${file.name}`));
  t.same(namesBefore.filter((name) => !namesAfter.has(name)), [], 'blobs the restored catalog does not know are kept, not deleted at once');
  const work2 = path.join(work, 'after');
  await randomFile(work2, 1000);
  await putFile(restored, work2, '/after-restore');
  t.equal((await restored.stat('/after-restore')).replicas?.have, 3, 'the restored master takes puts');
});

t.test('backup: admin only, into a new or empty directory', async (t) => {
  const cluster = await startCluster(t, 1);
  const dir = await tempDir(t);
  await fs.writeFile(path.join(dir, 'something'), 'x');
  const full = await runDfs(['shell', masterAddress(cluster), '-c', `backup ${dir}`], { env: shellEnv(cluster) });
  t.same([full.code, full.stderr], [1, `dfs: backup: ${dir}: not empty: a backup goes into a new or empty directory\n`]);
  const shared = await runDfs(['shell', masterAddress(cluster), '-c', `backup ${path.join(dir, 'b')}`], { env: shellEnv(cluster, 'shared', undefined) });
  t.same([shared.code, shared.stderr], [1, 'dfs: backup: Permission denied\n']);
  t.same(await fs.readdir(dir), ['something'], 'a refused backup leaves nothing');
});
