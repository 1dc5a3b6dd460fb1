// A put's chain under fire: each position of a 3-node chain — first, middle, last — and the
// client, killed (SIGKILL) or stopped (SIGSTOP, then SIGCONT) once a random number of bytes went by, in
// seeded trials (DFS_TEST_SEED replays one run; DFS_FAULT_ROUNDS sets how many rounds of the 8 cases, default 1: the
// deterministic simulation, test/sim, tries these interleavings by the thousand; here real processes show each case once).
// Whatever happens: no process but the victim exits; the put either succeeds with the file whole and its
// copies brought back to 3 by the master, or fails cleanly (a shell that failed by itself leaves no file);
// and the disks settle on exactly the namespace's copies, with no temporary file.

import * as path from 'node:path';
import t from 'tap';
import { randomFile, sha256Of } from '../helpers/files';
import { prng, seed } from '../helpers/random';
import { nodeTemporaryBytes, plan, settle, spawnShell, startFaultCluster, strikeAndRecover } from '../helpers/trials';

const MIB = 1024 * 1024;
const SIZE = 8 * MIB;
const ROUNDS = Number(process.env.DFS_FAULT_ROUNDS ?? 1);
const POSITIONS = ['first', 'middle', 'last', 'client'] as const;

t.comment(`seed ${seed} (DFS_TEST_SEED=${seed} replays these trials)`);

t.test(`put: ${ROUNDS * 8} trials killing or stopping the first, middle or last node of the chain, or the client, at random byte offsets`, async (t) => {
  const random = prng(seed);
  const faults = await startFaultCluster(t);
  const trials = plan(POSITIONS, ROUNDS, SIZE, random);
  const outcomes: string[] = [];
  for (const [index, { victim, action, offset }] of trials.entries()) {
    const remote = `/t${index}`;
    const local = path.join(faults.work, `t${index}`);
    await randomFile(local, SIZE);
    const sha256 = await sha256Of(local);
    const order = await faults.order();
    const first = order[0];
    const node = victim === 'client' ? undefined : order[POSITIONS.indexOf(victim)];
    if (!first || (victim !== 'client' && !node)) throw new Error(`no chain order: ${order.join(', ')}`);
    const what = `trial ${index + 1}: ${action} the ${victim}${node ? ` (${node})` : ''} at byte ${offset}`;
    const shell = spawnShell(t, faults, `put ${local} ${remote}`);
    const watched = node ?? first;
    const { how, run, killedShell } = await strikeAndRecover(t, faults, { what, action, offset, node, shell, progress: () => nodeTemporaryBytes(faults, watched), random });
    const present = (await settle(t, faults, new Map([[remote, { size: SIZE, sha256 }]]), what)).has(remote);
    if (!killedShell) t.equal(present, run.code === 0, `${what}: the put ${run.code === 0 ? 'succeeded, so the file is there' : `failed (${run.stderr.trim()}), so no file is there`}`);
    if (present) await faults.admin.remove(remote, false);
    outcomes.push(`${what}: ${how}; put ${killedShell ? 'killed' : run.code === 0 ? 'succeeded' : 'failed'}, file ${present ? 'there' : 'absent'}`);
  }
  t.comment(outcomes.join('\n'));
  await settle(t, faults, new Map(), 'after the last trial');
});
