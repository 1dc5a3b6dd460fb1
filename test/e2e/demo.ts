// `dfs demo` as a user drives it: commands on stdin, files kept under --data across two runs, and
// nothing left running when the shell ends.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { runDfs, tempDir } from '../helpers/binary';

function demoProcesses(dataDir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', dataDir], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

t.test('dfs demo driven on stdin keeps its files across two runs and leaves nothing running', async (t) => {
  const dir = await tempDir(t);
  const dataDir = path.join(dir, 'demo-data');
  const local = path.join(dir, 'photo.bin');
  const bytes = randomBytes(300_000);
  await fs.writeFile(local, bytes);

  const first = await runDfs(['demo', '--data', dataDir], { input: `mkdir /kept\nput ${local} /kept/photo.bin\nls /kept\n`, timeoutMs: 60_000 });
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /^photo\.bin$/m, 'the first run stored the file');
  t.match(first.stderr, /dfs demo: master on 127\.0\.0\.1:\d+ with 3 nodes/, 'the banner names the master');
  t.same(demoProcesses(dataDir), [], 'leaving the shell stopped the master and the nodes');

  const copy = path.join(dir, 'copy.bin');
  const second = await runDfs(['demo', '--data', dataDir], { input: `ls /kept\nget /kept/photo.bin ${copy}\nwhoami\n`, timeoutMs: 60_000 });
  t.equal(second.code, 0, second.stderr);
  t.equal(second.stdout, 'photo.bin\nshared\n', 'the second run finds the file, as the shared user');
  t.same(await fs.readFile(copy), bytes, 'and its bytes');
  t.same(demoProcesses(dataDir), [], 'nothing left running after the second run');
});
