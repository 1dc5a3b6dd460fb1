// The shell's and the explorer's pure parts (parsing, globs, completion, history, listings, JSON, the explorer's
// model, escaping for the terminal), one module each, run in one test process: a process per small file cost
// more than the tests in it.

import './shell-commands';
import './shell-complete';
import './shell-files';
import './shell-glob';
import './shell-history';
import './shell-json';
import './shell-navigation';
import './shell-parse';
import './shell-repl';
import './shell-run';
import './shell-trust';
import './shell-walk';
import './printable';
import './tui-model';
