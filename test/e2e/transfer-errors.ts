// Transfer mistakes a user makes through the shell: each gets one line naming the right path, and
// the shell carries on with the next command instead of dying.

import t from 'tap';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ADMIN_PASSWORD, runDfs, startCluster, tempDir } from '../helpers/binary';

t.test('put and get errors name the side that failed, and the shell goes on', async (t) => {
  const cluster = await startCluster(t, 1, ['--replicas', '1']);
  const dir = await tempDir(t);
  const local = path.join(dir, 'notes.txt');
  await fs.writeFile(local, 'some notes\n');
  const caFile = path.join(cluster.masterDir, 'ca.pem');
  const script = [
    `put ${local} /notes.txt`,
    `put ${local} /notes.txt`,
    `put ${path.join(dir, 'missing.txt')} /other.txt`,
    `get /notes.txt ${path.join(dir, 'no-such-dir', 'x.txt')}`,
    `get /notes.txt ${path.join(dir, 'back.txt')}`,
  ].join('; ');
  const result = await runDfs(['shell', `127.0.0.1:${cluster.master.address.port}`, '--ca', caFile, '--user', 'admin', '-c', script], {
    env: { ...process.env, DFS_PASSWORD: ADMIN_PASSWORD },
  });
  t.equal(result.code, 1, 'some commands failed');
  t.same(result.stderr.trim().split('\n'), [
    'dfs: put: /notes.txt: File exists (put -f replaces it)',
    `dfs: put: ${path.join(dir, 'missing.txt')}: No such file or directory`,
    `dfs: get: ${path.join(dir, 'no-such-dir', 'x.txt')}: No such directory: ${path.join(dir, 'no-such-dir')}`,
  ]);
  t.equal(await fs.readFile(path.join(dir, 'back.txt'), 'utf8'), 'some notes\n', 'the last get still ran and verified the bytes');
  t.same((await fs.readdir(dir)).sort(), ['back.txt', 'notes.txt'], 'no temporary files left behind');
});
