// Addresses and reachability with real processes, one module each, in one test process (a process per file cost
// more than a second of CPU): hosts on a bridge in network namespaces (lan.ts) and nodes clients cannot reach
// (reachability.ts).

import './lan';
import './reachability';
