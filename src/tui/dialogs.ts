// The explorer's modal boxes: a line of input, a yes/no question, a page of text (help), a list to
// pick from (find results) and a transfer's progress. While one is open, `active` is true and the
// explorer's own keys stay quiet; each box takes the keys it needs and closes itself.

import { printable } from '../printable';
import * as blessed from 'blessed';
import { formatSize } from '../units';

type Screen = blessed.Widgets.Screen;
type Key = blessed.Widgets.Events.IKeyEventArg;

const BOX_STYLE = { border: { fg: 'cyan' }, label: { fg: 'cyan', bold: true } };

/** blessed tags are interpreted in content: names (remote or local) are shown literally, control characters escaped. */
export function literal(text: string): string {
  return blessed.escape(printable(text));
}

export interface Progress {
  /** Bytes moved so far of `totalBytes`; redrawn at most every `intervalMs` unless finished. */
  update(bytes: number, totalBytes: number): void;
  close(): void;
}

export class Dialogs {
  private open = 0;

  constructor(private readonly screen: Screen) {}

  /** A box is open: the explorer ignores keys. */
  get active(): boolean {
    return this.open > 0;
  }

  private frame(label: string, height: number, width = Math.min(76, Math.max(30, Number(this.screen.width) - 4))): blessed.Widgets.BoxElement {
    return blessed.box({
      parent: this.screen,
      top: 'center',
      left: 'center',
      width,
      height,
      label: ` ${label} `,
      border: { type: 'line' },
      tags: true,
      style: BOX_STYLE,
    });
  }

  /** Asks for a line of text, `initial` filled in; Enter answers, Escape cancels (undefined). */
  ask(label: string, question: string, initial: string): Promise<string | undefined> {
    this.open++;
    const box = this.frame(label, 6);
    blessed.box({ parent: box, top: 0, left: 1, right: 1, height: 1, tags: true, content: literal(question) });
    blessed.box({ parent: box, top: 3, left: 1, right: 1, height: 1, tags: true, content: '{gray-fg}Enter: OK   Escape: cancel   Ctrl-U: clear{/gray-fg}' });
    const input = blessed.textbox({ parent: box, top: 1, left: 1, right: 1, height: 1, inputOnFocus: false, style: { bg: 'blue', fg: 'white' } });
    input.setValue(initial);
    // Ctrl-U clears the line, as in a shell (blessed's textbox only knows Backspace).
    input.key('C-u', () => {
      input.setValue('');
      this.screen.render();
    });
    return new Promise((resolve) => {
      input.readInput((_error: unknown, value?: string | null) => {
        this.open--;
        box.destroy();
        this.screen.render();
        resolve(typeof value === 'string' ? value : undefined);
      });
      this.screen.render();
    });
  }

  /** A yes/no question: y answers yes; n, Escape or q answer no; other keys are ignored. */
  confirm(label: string, question: string): Promise<boolean> {
    this.open++;
    const box = this.frame(label, 5);
    box.setContent(` ${literal(question)}\n\n {bold}y{/bold} yes   {bold}n{/bold} no`);
    this.screen.render();
    return new Promise((resolve) => {
      const onKey = (ch: string | undefined, key: Key): void => {
        const answer = ch === 'y' || ch === 'Y' ? true : ch === 'n' || ch === 'N' || key.name === 'escape' || ch === 'q' ? false : undefined;
        if (answer === undefined) return;
        this.screen.off('keypress', onKey);
        this.open--;
        box.destroy();
        this.screen.render();
        resolve(answer);
      };
      this.screen.on('keypress', onKey);
    });
  }

  /** A page of text (tags allowed); any key closes it. */
  page(label: string, text: string): Promise<void> {
    this.open++;
    const lines = text.split('\n').length;
    const box = this.frame(label, Math.min(lines + 2, Number(this.screen.height) - 2));
    box.setContent(text);
    this.screen.render();
    return new Promise((resolve) => {
      const onKey = (): void => {
        this.screen.off('keypress', onKey);
        this.open--;
        box.destroy();
        this.screen.render();
        resolve();
      };
      this.screen.on('keypress', onKey);
    });
  }

  /** A list to choose from (items are literal text): Enter picks (its index), Escape or q closes. */
  pick(label: string, items: readonly string[], footer: string): Promise<number | undefined> {
    this.open++;
    const height = Math.min(items.length + 3, Number(this.screen.height) - 2);
    const box = this.frame(label, Math.max(5, height));
    const list = blessed.list({
      parent: box,
      top: 0,
      left: 0,
      right: 0,
      bottom: 1,
      tags: true,
      items: items.map(literal),
      style: { selected: { bg: 'blue', fg: 'white', bold: true } },
    });
    blessed.box({ parent: box, bottom: 0, left: 1, right: 1, height: 1, tags: true, content: `{gray-fg}${literal(footer)}{/gray-fg}` });
    let selected = 0;
    list.select(0);
    this.screen.render();
    return new Promise((resolve) => {
      const close = (answer: number | undefined): void => {
        this.screen.off('keypress', onKey);
        this.open--;
        box.destroy();
        this.screen.render();
        resolve(answer);
      };
      const onKey = (ch: string | undefined, key: Key): void => {
        if (key.name === 'escape' || ch === 'q') return close(undefined);
        if (key.name === 'enter') return close(items.length > 0 ? selected : undefined);
        const page = Math.max(1, Number(list.height) - 1);
        const moves: Record<string, number> = { up: -1, k: -1, down: 1, j: 1, pageup: -page, pagedown: page, home: -items.length, end: items.length };
        const move = moves[key.name ?? ''];
        if (move === undefined || items.length === 0) return;
        selected = Math.min(items.length - 1, Math.max(0, selected + move));
        list.select(selected);
        this.screen.render();
      };
      this.screen.on('keypress', onKey);
    });
  }

  /**
   * A transfer's progress above the status line (not modal: the explorer keeps its keys); once every
   * byte has moved, `finishing` says what is still awaited (a put waits for its replicas).
   */
  progress(label: string, intervalMs: number, finishing: string | undefined, now: () => number = Date.now): Progress {
    const box = blessed.box({
      parent: this.screen,
      bottom: 1,
      left: 0,
      width: '100%',
      height: 3,
      label: ` ${literal(label)} `,
      border: { type: 'line' },
      tags: true,
      style: BOX_STYLE,
    });
    const startMs = now();
    let drawnMs = 0;
    this.screen.render();
    return {
      update: (bytes, totalBytes) => {
        const nowMs = now();
        if (nowMs - drawnMs < intervalMs && bytes < totalBytes) return;
        drawnMs = nowMs;
        const inner = Math.max(10, Number(box.width) - 4);
        const waiting = bytes >= totalBytes && finishing !== undefined;
        box.setContent(progressText(bytes, totalBytes, nowMs - startMs, waiting ? inner - finishing.length - 2 : inner) + (waiting ? `  ${finishing}` : ''));
        this.screen.render();
      },
      close: () => {
        box.destroy();
        this.screen.render();
      },
    };
  }
}

/** "[█████░░░░░]  45%  12M / 48M  3.2M/s  ETA 0:11" in `width` characters. */
export function progressText(bytes: number, totalBytes: number, elapsedMs: number, width: number): string {
  const fraction = totalBytes === 0 ? 1 : Math.min(1, bytes / totalBytes);
  const rate = elapsedMs > 0 ? (bytes / elapsedMs) * 1000 : 0;
  const remaining = rate > 0 ? Math.ceil((totalBytes - bytes) / rate) : undefined;
  const eta = remaining === undefined ? '--:--' : `${Math.floor(remaining / 60)}:${String(remaining % 60).padStart(2, '0')}`;
  const figures = `${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatSize(bytes)} / ${formatSize(totalBytes)}  ${formatSize(Math.round(rate))}/s  ETA ${eta}`;
  const barChars = Math.max(5, width - figures.length - 4);
  const filled = Math.round(fraction * barChars);
  return `[${'█'.repeat(filled)}${'░'.repeat(barChars - filled)}]  ${figures}`;
}
