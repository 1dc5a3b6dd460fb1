// Trust's units, one module each, in one test process (a process per file cost more than a second of CPU): the
// cluster CA and certificates (ca.ts), tickets (ticket.ts), users, passwords and the login limiter (users.ts).

import './ca';
import './ticket';
import './users';
