// The master's pure decisions and the small parsers (addresses, settings, node liveness, placement, balance,
// repair plans, replication targets, safe mode, blamed copies, uploads in flight), one module each, run in one test process: a process per
// small file cost more than the tests in it.

import './address';
import './balance';
import './config';
import './nodes';
import './placement';
import './repair-plan';
import './replication';
import './safe-mode';
import './suspects';
import './uploads';
