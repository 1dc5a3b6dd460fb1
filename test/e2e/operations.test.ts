// The operator's tools through real processes, one module each, in one test process (a process per file cost more
// than a second of CPU): backup and restore (backup.ts), the catalog's durability under kill -9 (catalog.ts),
// /metrics and /healthz (metrics.ts), the systemd units (systemd.ts) and `dfs demo` (demo.ts).

import './backup';
import './catalog';
import './metrics';
import './systemd';
import './demo';
