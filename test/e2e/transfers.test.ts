// Transfers through the shell against real processes, one module each, in one test process (a process per file
// cost more than a second of CPU): what a put's outcome leaves behind (upload-outcomes.ts), puts of many files at
// once (batch.ts), a user's transfer mistakes (transfer-errors.ts) and put -r/get -r (recursive.ts).

import './upload-outcomes';
import './batch';
import './transfer-errors';
import './recursive';
