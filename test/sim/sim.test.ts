// The deterministic simulation (see world.ts): many seeds of faults against the real master core and catalog.
// DFS_SIM_SEEDS=N runs N seeds (default 200); DFS_SIM_SEED=S replays seed S alone (its trace printed);
// DFS_SIM_MINUTES sets each run's virtual minutes of faults (default 10).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { silentLog } from '../../src/log';
import { loadOrCreateMasterIdentity } from '../../src/master/identity';
import { simulate, type SimResult } from './world';

const single = process.env.DFS_SIM_SEED;
const seeds = Number(process.env.DFS_SIM_SEEDS ?? 200);
const minutes = Number(process.env.DFS_SIM_MINUTES ?? 10);
const firstSeed = Number(process.env.DFS_SIM_FIRST_SEED ?? 1);

t.test('the simulation', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dfs-sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const identity = await loadOrCreateMasterIdentity(dir, ['127.0.0.1'], silentLog);

  const report = (result: SimResult): void => {
    const faults = Object.entries(result.stats.faults).map(([kind, count]) => `${kind}=${count}`).join(' ');
    t.comment(`seed ${result.seed}: ${result.stats.operations} operations (${result.stats.failedOperations} failed under faults), ${result.stats.files} files, ${result.stats.events} events, ${result.stats.masterStarts} master starts; faults ${faults}; digest ${result.digest}`);
  };

  if (single !== undefined) {
    const result = await simulate({ seed: Number(single), minutes }, identity);
    report(result);
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

  await t.test(`${seeds} seeds of ${minutes} virtual minutes of faults`, async (t) => {
    const failed: number[] = [];
    let operations = 0;
    const started = Date.now();
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
      const result = await simulate({ seed, minutes }, identity);
      operations += result.stats.operations;
      if (result.violations.length > 0) {
        failed.push(seed);
        report(result);
        for (const violation of result.violations.slice(0, 10)) t.comment(`seed ${seed}: ${violation}`);
        t.comment(`replay it: DFS_SIM_SEED=${seed} npx tap test/sim/sim.test.ts`);
      }
    }
    t.comment(`${seeds} seeds, ${operations} operations in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.same(failed, [], 'every seed keeps every invariant');
  });
});
