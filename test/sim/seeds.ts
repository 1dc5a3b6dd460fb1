// Running seeds of the simulation (see world.ts) under tap. The seeds are split into shards, one test file
// each (seeds-K.test.ts), so that tap runs them side by side with the other test files; each shard runs its seeds
// in a child process of its own (shard-runner.ts), free of tap's promise hooks and coverage.
// DFS_SIM_SEEDS=N runs N seeds in all (default 200) from DFS_SIM_FIRST_SEED (default 1); DFS_SIM_MINUTES sets
// each run's virtual minutes of faults (default 10); DFS_SIM_SEED=S replays seed S alone (sim.test.ts).

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { silentLog } from '../../src/log';
import { loadOrCreateMasterIdentity, type MasterIdentity } from '../../src/master/identity';
import { copyClusterIdentity } from '../helpers/binary';
import type { SimResult } from './world';

export const SHARDS = 4;
export const single = process.env.DFS_SIM_SEED;
export const minutes = Number(process.env.DFS_SIM_MINUTES ?? 10);
export const firstSeed = Number(process.env.DFS_SIM_FIRST_SEED ?? 1);
const seeds = Number(process.env.DFS_SIM_SEEDS ?? 200);

/** The master's CA and keys, made once per test file (the simulated master loads them from its disk). */
export async function simIdentity(t: Test): Promise<MasterIdentity> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dfs-sim-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await copyClusterIdentity(dir);
  return loadOrCreateMasterIdentity(dir, ['127.0.0.1'], silentLog);
}

/** A run's one-line summary as a test comment. */
export function report(t: Test, result: Pick<SimResult, 'seed' | 'stats' | 'digest'>): void {
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
    const started = Date.now();
    const results = await runSeeds(from, to);
    const failed = results.filter((result) => result.violations.length > 0);
    for (const result of failed) {
      report(t, result);
      for (const violation of result.violations.slice(0, 10)) t.comment(`seed ${result.seed}: ${violation}`);
      t.comment(`replay it: DFS_SIM_SEED=${result.seed} npx tap test/sim/sim.test.ts`);
    }
    const operations = results.reduce((sum, result) => sum + result.stats.operations, 0);
    t.comment(`${results.length} seeds, ${operations} operations in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.same(results.map((result) => result.seed), Array.from({ length: to - from }, (_, index) => from + index), 'every seed ran');
    t.same(failed.map((result) => result.seed), [], 'every seed keeps every invariant');
  });
}

type SeedResult = Pick<SimResult, 'seed' | 'violations' | 'stats' | 'digest'>;

/** Seeds `from`…`to - 1` in a child process without tap's hooks or coverage (shard-runner.ts), one JSON line each. */
function runSeeds(from: number, to: number): Promise<SeedResult[]> {
  const env = { ...process.env };
  delete env.NODE_V8_COVERAGE;
  delete env.NODE_OPTIONS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', path.join(__dirname, '../helpers/typescript.cjs'), path.join(__dirname, 'shard-runner.ts'), String(from), String(to), String(minutes)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`the shard's runner failed (status ${code}):\n${stderr}`));
      resolve(stdout.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as SeedResult));
    });
  });
}
