// The interactive shell's history file: ~/.dfs_history (env DFS_HISTORY), oldest line first,
// the last SHELL_HISTORY_LINES_MAX lines kept, mode 0600. Lines that run passwd, and lines typed
// with a leading space (as bash's ignorespace), are never written.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SHELL_HISTORY_LINES_MAX } from '../limits';

export function historyFilePath(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env.DFS_HISTORY;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : path.join(os.homedir(), '.dfs_history');
}

/** Whether a line may be written to the history file. */
export function isRememberable(line: string): boolean {
  if (line.trim() === '' || /^\s/.test(line)) return false;
  // Conservative on purpose: any mention of passwd keeps the whole line out, even quoted or odd.
  return !/\bpasswd\b/.test(line);
}

export class HistoryFile {
  private writeWarned = false;

  private constructor(
    readonly file: string,
    /** Oldest first. */
    private readonly lines: string[],
    private readonly onWarning: (message: string) => void,
  ) {}

  /** Loads the file (a missing one is an empty history); unreadable files only warn. */
  static async open(file: string, onWarning: (message: string) => void): Promise<HistoryFile> {
    let lines: string[] = [];
    try {
      const text = await fs.readFile(file, 'utf8');
      lines = text.split('\n').filter((line) => line !== '').slice(-SHELL_HISTORY_LINES_MAX);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onWarning(`cannot read history ${file}: ${(error as Error).message}`);
    }
    return new HistoryFile(file, lines, onWarning);
  }

  /** Oldest first. */
  entries(): readonly string[] {
    return this.lines;
  }

  /** Newest first, as readline wants its `history` option. */
  newestFirst(): string[] {
    return [...this.lines].reverse();
  }

  /** Appends a line (unless it must not be kept, or repeats the last one) and rewrites the file. */
  async remember(line: string): Promise<void> {
    if (!isRememberable(line) || line.includes('\n') || this.lines.at(-1) === line) return;
    this.lines.push(line);
    if (this.lines.length > SHELL_HISTORY_LINES_MAX) this.lines.splice(0, this.lines.length - SHELL_HISTORY_LINES_MAX);
    try {
      const temporary = `${this.file}.${process.pid}.tmp`;
      await fs.writeFile(temporary, this.lines.map((entry) => `${entry}\n`).join(''), { mode: 0o600 });
      await fs.rename(temporary, this.file);
    } catch (error) {
      if (!this.writeWarned) this.onWarning(`cannot write history ${this.file}: ${(error as Error).message} (history is kept for this session only)`);
      this.writeWarned = true;
    }
  }
}
