// Seeded fault trials against real processes, one module each, in one test process (a process per file cost
// more than a second of CPU): a put's chain member or client killed or stopped at a random byte (chain-faults.ts),
// and the same for a get's serving node or client (read-faults.ts). DFS_TEST_SEED=N replays both.

import './chain-faults';
import './read-faults';
