// Runs a range of seeds outside tap and prints one JSON line per seed (seeds.ts reads them). Outside tap because
// tap's test domains hook every promise (async_hooks) and its coverage instruments every function: together about a
// third of a seed's CPU, spent on code sim.test.ts and scenarios.test.ts already cover.
// Usage: node --require ./test/helpers/typescript.cjs test/sim/shard-runner.ts FROM TO MINUTES

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { silentLog } from '../../src/log';
import { loadOrCreateMasterIdentity } from '../../src/master/identity';
import { copyClusterIdentity } from '../helpers/binary';
import { simulate } from './world';

async function main(): Promise<void> {
  const [from, to, minutes] = process.argv.slice(2).map(Number) as [number, number, number];
  const dir = await mkdtemp(path.join(tmpdir(), 'dfs-sim-'));
  try {
    await copyClusterIdentity(dir); // two RSA keys not made again for every shard
    const identity = await loadOrCreateMasterIdentity(dir, ['127.0.0.1'], silentLog);
    for (let seed = from; seed < to; seed++) {
      const { violations, stats, digest } = await simulate({ seed, minutes }, identity);
      process.stdout.write(`${JSON.stringify({ seed, violations, stats, digest })}\n`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
