// Ctrl-R in the interactive shell, as bash's reverse-i-search: each character typed narrows the search to the
// newest history line containing the query; Ctrl-R again goes to the next older one. The REPL draws `prompt` and
// `line`, and ends the search (Enter runs the line, another key edits it, Ctrl-G or Ctrl-C gives the old line back).

export class HistorySearch {
  private query = '';
  /** Index in the history (newest first) of the line shown; -1 before any match. */
  private index = -1;
  private failed = false;

  constructor(private readonly history: readonly string[]) {}

  /** Adds a character to the query and finds the newest line holding it (from the one shown, as bash does). */
  type(text: string): void {
    this.query += text;
    this.find(Math.max(this.index, 0));
  }

  backspace(): void {
    this.query = this.query.slice(0, -1);
    this.find(0);
  }

  /** Ctrl-R again: the next older line holding the query. */
  older(): void {
    this.find(this.index + 1);
  }

  /** The history line found, or '' before a match. */
  get line(): string {
    return this.index < 0 ? '' : (this.history[this.index] ?? '');
  }

  get prompt(): string {
    return `(${this.failed ? 'failed ' : ''}reverse-i-search)\`${this.query}': `;
  }

  private find(from: number): void {
    for (let index = from; index < this.history.length; index++) {
      if ((this.history[index] ?? '').includes(this.query)) {
        this.index = index;
        this.failed = false;
        return;
      }
    }
    this.failed = this.query !== '';
  }
}
