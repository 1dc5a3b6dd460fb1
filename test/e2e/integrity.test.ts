// Hostile bytes and failing disks against real processes, one module each, in one test process (a process per file
// cost more than a second of CPU): clients forging tickets and chains (hostile-data.ts), disks that fill or turn
// read-only (hostile-disk.ts), and the scrubber finding damage nobody read (scrub.ts).

import './hostile-data';
import './hostile-disk';
import './scrub';
