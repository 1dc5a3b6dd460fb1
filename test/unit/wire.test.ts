// The wire's units, one module each, in one test process (a process per file cost more than a second of CPU):
// frames and their fuzzing (frame.ts), channels (channel.ts) and back-pressure waits (streams.ts).

import './frame';
import './channel';
import './streams';
