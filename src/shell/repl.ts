// The interactive shell: node:readline with the prompt `user@HOST:PORT:/cwd$ `, history kept in a
// file across sessions and searched with Ctrl-R, tab completion of commands and paths, Ctrl-C clearing the line (or, while a
// command runs, stopping its transfers: it fails with "interrupted" and the prompt comes back) and
// Ctrl-D (or exit) leaving. Lines run one at a time; lines typed meanwhile wait their turn.

import { printable } from '../printable';
import { createInterface, type Interface } from 'node:readline';
import { SHELL_HISTORY_LINES_MAX } from '../limits';
import { completeLine } from './complete';
import type { ShellContext, ShellOutput } from './context';
import { HistoryFile } from './history';
import { MutableOutput, readlinePrompter } from './prompt';
import { runLine } from './registry';
import { HistorySearch } from './search';
import { spawnLocal } from './commands/local';

export interface ReplOptions {
  ctx: ShellContext;
  /** The terminal, which readline puts into raw mode. */
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  /** Where commands write. */
  out: ShellOutput;
  historyFile: string;
}

export function promptText(ctx: ShellContext): string {
  return `${ctx.identity.user}@${ctx.master}:${printable(ctx.cwd)}$ `;
}

/** Ctrl-C: leave what was typed on screen with ^C after it, and start an empty line below. */
function clearLine(rl: Interface, output: MutableOutput): void {
  rl.write(null, { ctrl: true, name: 'e' });
  output.writeThrough('^C\r\n');
  rl.write(null, { ctrl: true, name: 'u' });
}

function createReadline(options: ReplOptions, output: MutableOutput, history: string[]): Interface {
  return createInterface({
    input: options.input,
    output,
    terminal: true,
    history,
    historySize: SHELL_HISTORY_LINES_MAX,
    tabSize: 4,
    completer: (line: string, callback: (error: Error | null, result: [string[], string]) => void): void => {
      completeLine(line, options.ctx).then(
        (result) => callback(null, result),
        () => callback(null, [[], line]),
      );
    },
  });
}

/** What readline keeps to itself and Ctrl-R needs: its key handler, the line being edited, its redraw. */
interface ReadlineInternals {
  _ttyWrite(text: string | undefined, key: { name?: string; ctrl?: boolean; meta?: boolean } | undefined): void;
  _refreshLine(): void;
  line: string;
  cursor: number;
  history: string[];
}

/** Ctrl-R (search.ts) on top of readline's own keys, which it has no hook for. */
function addHistorySearch(rl: Interface, normalPrompt: () => string, idle: () => boolean): void {
  const internals = rl as unknown as ReadlineInternals;
  const keys = internals._ttyWrite.bind(rl);
  let search: HistorySearch | undefined;
  let before = '';
  const show = (prompt: string, line: string): void => {
    rl.setPrompt(prompt);
    internals.line = line;
    internals.cursor = line.length;
    internals._refreshLine();
  };
  internals._ttyWrite = (text, key) => {
    if (search === undefined) {
      if (key?.ctrl === true && key.name === 'r' && idle()) {
        search = new HistorySearch(internals.history);
        before = internals.line;
        return show(search.prompt, '');
      }
      return keys(text, key);
    }
    if (key?.ctrl === true && key.name === 'r') search.older();
    else if (key?.name === 'backspace') search.backspace();
    else if (key?.ctrl === true && (key.name === 'g' || key.name === 'c')) {
      search = undefined;
      return show(normalPrompt(), before);
    } else if (text !== undefined && text.length === 1 && text >= ' ' && key?.ctrl !== true && key?.meta !== true) search.type(text);
    else {
      // Enter runs the line found; any other key (arrows, Ctrl-A, Esc…) leaves it to be edited, as bash does.
      const found = search.line;
      search = undefined;
      show(normalPrompt(), found);
      if (key?.name !== 'escape') keys(text, key);
      return;
    }
    show(search.prompt, search.line);
  };
}

/** Runs until exit, quit or Ctrl-D; 'failed' if any command failed. */
export async function runRepl(options: ReplOptions): Promise<'ok' | 'failed'> {
  const { ctx, out } = options;
  const history = await HistoryFile.open(options.historyFile, (message) => out.stderr(`dfs: ${message}\n`));
  const readlineHistory = history.newestFirst();
  const output = new MutableOutput(options.output);
  const rl = createReadline(options, output, readlineHistory);
  ctx.prompt = readlinePrompter(rl, output, readlineHistory);
  const runLocal = spawnLocal(out, 'inherit');
  ctx.local = async (command) => {
    // The command gets the terminal as a shell would give it: cooked, and its keys its own.
    rl.pause();
    options.input.setRawMode(false);
    try {
      return await runLocal(command);
    } finally {
      options.input.setRawMode(true);
      rl.resume();
    }
  };
  let busy = false;
  addHistorySearch(rl, () => promptText(ctx), () => !busy);
  rl.on('SIGINT', () => {
    if (!busy) return clearLine(rl, output);
    output.writeThrough('^C\r\n');
    ctx.api.interrupt();
  });
  const admin = ctx.identity.admin ? ' (admin)' : '';
  out.stdout(`Connected to ${ctx.master} as ${ctx.identity.user}${admin}. Type help for the commands; exit or Ctrl-D leaves.\n`);
  let failed = false;
  try {
    rl.setPrompt(promptText(ctx));
    rl.prompt();
    for await (const line of rl) {
      busy = true;
      await history.remember(line);
      try {
        if ((await runLine(line, ctx, out)) !== 'ok') failed = true;
      } finally {
        ctx.api.resume();
      }
      busy = false;
      if (ctx.exitRequested) break;
      rl.setPrompt(promptText(ctx));
      rl.prompt();
    }
    if (!ctx.exitRequested) output.writeThrough('\r\n');
  } finally {
    ctx.prompt = undefined;
    ctx.local = undefined;
    rl.close();
    output.dispose();
  }
  return failed ? 'failed' : 'ok';
}
