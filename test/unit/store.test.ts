// The storage layer's units, one module each, in one test process (a process per file cost more than a second of
// CPU): a node's blob store (blobs.ts) and scrubber (scrub.ts), the master's journal (journal.ts) and catalog
// (catalog.ts). DFS_TEST_SEED=N replays their random cases.

import './blobs';
import './scrub';
import './journal';
import './catalog';
