// Running seeds of the simulation (see world.ts) under tap. The seeds are split into shards, one test file
// each (seeds-K.test.ts), so that tap runs them side by side with the other test files.
// DFS_SIM_SEEDS=N runs N seeds in all (default 200) from DFS_SIM_FIRST_SEED (default 1); DFS_SIM_MINUTES sets
// each run's virtual minutes of faults (default 10); DFS_SIM_SEED=S replays seed S alone (sim.test.ts).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { silentLog } from '../../src/log';
import { loadOrCreateMasterIdentity, type MasterIdentity } from '../../src/master/identity';
import { simulate, type SimResult } from './world';

export const SHARDS = 4;
export const single = process.env.DFS_SIM_SEED;
export const minutes = Number(process.env.DFS_SIM_MINUTES ?? 10);
export const firstSeed = Number(process.env.DFS_SIM_FIRST_SEED ?? 1);
const seeds = Number(process.env.DFS_SIM_SEEDS ?? 200);

/** The master's CA and keys, made once per test file (the simulated master loads them from its disk). */
export async function simIdentity(t: Test): Promise<MasterIdentity> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dfs-sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return loadOrCreateMasterIdentity(dir, ['127.0.0.1'], silentLog);
}

/** A run's one-line summary as a test comment. */
export function report(t: Test, result: SimResult): void {
  const faults = Object.entries(result.stats.faults).map(([kind, count]) => `${kind}=${count}`).join(' ');
  t.comment(`seed ${result.seed}: ${result.stats.operations} operations (${result.stats.failedOperations} failed under faults), ${result.stats.files} files, ${result.stats.events} events, ${result.stats.masterStarts} master starts; faults ${faults}; digest ${result.digest}`);
}

/** Shard `shard` (1…SHARDS) of the seeds: a contiguous range, every one of which must keep every invariant. */
export function runShard(shard: number): void {
  if (single !== undefined) return; // a replay runs in sim.test.ts alone
  const per = Math.ceil(seeds / SHARDS);
  const from = firstSeed + (shard - 1) * per;
  const to = Math.min(firstSeed + seeds, from + per);
  if (from >= to) return;
  t.test(`seeds ${from}…${to - 1} of ${minutes} virtual minutes of faults`, async (t) => {
    const identity = await simIdentity(t);
    const failed: number[] = [];
    let operations = 0;
    const started = Date.now();
    for (let seed = from; seed < to; seed++) {
      const result = await simulate({ seed, minutes }, identity);
      operations += result.stats.operations;
      if (result.violations.length > 0) {
        failed.push(seed);
        report(t, result);
        for (const violation of result.violations.slice(0, 10)) t.comment(`seed ${seed}: ${violation}`);
        t.comment(`replay it: DFS_SIM_SEED=${seed} npx tap test/sim/sim.test.ts`);
      }
    }
    t.comment(`${to - from} seeds, ${operations} operations in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.same(failed, [], 'every seed keeps every invariant');
  });
}
