// The deterministic simulation (see world.ts): a seed replays exactly, and a run without faults needs no
// repair; and its scripted scenarios (scenarios.ts), in the same test process. The seeds of faults run in
// seeds-K.test.ts; DFS_SIM_SEED=S replays seed S here, printing its trace.

import t from 'tap';
import { firstSeed, minutes, report, simIdentity, single } from './seeds';
import { simulate } from './world';
import './scenarios';

t.test('the simulation', async (t) => {
  const identity = await simIdentity(t);

  if (single !== undefined) {
    const result = await simulate({ seed: Number(single), minutes }, identity);
    report(t, result);
    for (const line of result.trace) t.comment(line);
    t.same(result.violations, [], `seed ${single}: no invariant broken`);
    return;
  }

  await t.test('a seed replays exactly', async (t) => {
    const first = await simulate({ seed: firstSeed, minutes: 3 }, identity);
    const again = await simulate({ seed: firstSeed, minutes: 3 }, identity);
    t.equal(again.digest, first.digest, 'the same trace');
    t.same(again.stats, first.stats);
    const other = await simulate({ seed: firstSeed + 1, minutes: 3 }, identity);
    t.not(other.digest, first.digest, 'another seed runs differently');
  });

  await t.test('without faults every operation succeeds and nothing needs repair', async (t) => {
    const result = await simulate({ seed: firstSeed, minutes: 3, faults: false }, identity);
    t.same(result.violations, []);
    t.equal(result.stats.failedOperations, 0, 'nothing fails');
    t.ok(result.stats.operations > 50, `${result.stats.operations} operations ran`);
  });
});
