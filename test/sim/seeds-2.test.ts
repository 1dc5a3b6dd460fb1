// Shard 2 of the simulation's seeds (see seeds.ts).

import { runShard } from './seeds';

runShard(2);
