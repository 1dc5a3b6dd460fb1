// A download under fire: the node serving it, or the client, killed (SIGKILL) or stopped (SIGSTOP,
// then SIGCONT) once a random number of bytes arrived, in seeded trials (DFS_TEST_SEED replays one run;
// DFS_FAULT_ROUNDS sets how many rounds of the 4 cases, default 1; the simulation tries many more). No process but the victim exits; a get either
// succeeds with the file whole (another replica takes over from a killed node) or fails leaving nothing under
// the target name; and the cluster settles back on three whole copies, with no temporary file.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { randomFile, sha256Of } from '../helpers/files';
import { prng, seed } from '../helpers/random';
import { putFile } from '../helpers/client';
import { bytesIn, plan, settle, spawnShell, startFaultCluster, strikeAndRecover } from '../helpers/trials';

const MIB = 1024 * 1024;
const SIZE = 8 * MIB;
const ROUNDS = Number(process.env.DFS_FAULT_ROUNDS ?? 1);
const VICTIMS = ['server', 'client'] as const;

t.comment(`seed ${seed} (DFS_TEST_SEED=${seed} replays these trials)`);

t.test(`get: ${ROUNDS * 4} trials killing or stopping the serving node or the client at random byte offsets`, async (t) => {
  const random = prng(seed);
  const faults = await startFaultCluster(t);
  const local = path.join(faults.work, 'g');
  await randomFile(local, SIZE);
  const sha256 = await sha256Of(local);
  await putFile(faults.admin, local, '/g');
  const expected = new Map([['/g', { size: SIZE, sha256 }]]);
  await settle(t, faults, expected, 'the file to read');
  const outcomes: string[] = [];
  for (const [index, { victim, action, offset }] of plan(VICTIMS, ROUNDS, SIZE, random).entries()) {
    const directory = path.join(faults.work, `get${index}`);
    await fs.mkdir(directory);
    const out = path.join(directory, 'out');
    const server = (await faults.order())[0];
    if (!server) throw new Error('no node to read from');
    const what = `trial ${index + 1}: ${action} the ${victim}${victim === 'server' ? ` (${server})` : ''} at byte ${offset}`;
    const shell = spawnShell(t, faults, `get /g ${out}`);
    const node = victim === 'server' ? server : undefined;
    const { how, run, killedShell } = await strikeAndRecover(t, faults, { what, action, offset, node, shell, progress: () => bytesIn(directory, (name) => name.endsWith('.part')), random });
    const names = await fs.readdir(directory);
    const whole = names.includes('out') && (await sha256Of(out)) === sha256;
    if (names.includes('out')) t.ok(whole, `${what}: the file under the target name is whole`);
    if (!killedShell) {
      t.equal(whole, run.code === 0, `${what}: the get ${run.code === 0 ? 'succeeded and the file is there' : 'failed and left nothing under the target name'}`);
      t.same(names.filter((name) => name !== 'out'), [], `${what}: no temporary file beside the target`);
    }
    await settle(t, faults, expected, what);
    outcomes.push(`${what}: ${how}; get ${killedShell ? 'killed' : run.code === 0 ? 'succeeded' : 'failed'}`);
  }
  t.comment(outcomes.join('\n'));
});
