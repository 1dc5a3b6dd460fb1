// Asking the person at the terminal, over node:readline: questions whose answers are echoed and
// hidden ones for passwords (the echo is muted, never the question). Used before the REPL runs
// (login, trust on first use) with a short-lived readline, and inside the REPL with its own.

import { createInterface, type Interface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Prompter } from './context';
import { CommandError } from './errors';

/** A terminal output that can stop echoing: readline writes typed characters through it. */
export class MutableOutput extends Writable {
  muted = false;
  readonly isTTY = true;
  private readonly forwardResize = (): void => {
    this.emit('resize');
  };

  constructor(readonly target: NodeJS.WriteStream) {
    super();
    target.on('resize', this.forwardResize);
  }

  get columns(): number {
    return this.target.columns;
  }

  get rows(): number {
    return this.target.rows;
  }

  /** Writes around the mute, for our own text (the newline after a hidden answer). */
  writeThrough(text: string): void {
    this.target.write(text);
  }

  dispose(): void {
    this.target.off('resize', this.forwardResize);
  }

  // The callback runs at once, so every write reaches _write synchronously: whether it is muted
  // is decided when readline writes, never later when a buffered chunk would be flushed.
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.muted) this.target.write(chunk);
    callback();
  }
}

const cancelled = (): CommandError => new CommandError('cancelled');

/** Asks one question on `rl`; Ctrl-C or Ctrl-D cancel it. Answers never stay in `history`. */
export function askOn(rl: Interface, output: MutableOutput, question: string, hidden: boolean, history?: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const controller = new AbortController();
    const finish = (): void => {
      output.muted = false;
      rl.off('SIGINT', onInterrupt);
      rl.off('close', onClose);
      if (hidden) output.writeThrough('\r\n');
    };
    const onInterrupt = (): void => {
      controller.abort();
      finish();
      reject(cancelled());
    };
    const onClose = (): void => {
      finish();
      reject(cancelled());
    };
    rl.on('SIGINT', onInterrupt);
    rl.once('close', onClose);
    rl.question(question, { signal: controller.signal }, (answer) => {
      finish();
      if (history !== undefined && history[0] === answer) history.shift();
      resolve(answer);
    });
    // The question is drawn synchronously by rl.question; only what is typed after it is hidden.
    output.muted = hidden;
  });
}

/** A prompter for the REPL's own readline: answers are taken out of its up-arrow history. */
export function readlinePrompter(rl: Interface, output: MutableOutput, history: string[]): Prompter {
  return {
    hidden: (question) => askOn(rl, output, question, true, history),
    visible: (question) => askOn(rl, output, question, false, history),
  };
}

/** A prompter that opens a readline per question (before the REPL, or in -c mode at a terminal). */
export function terminalPrompter(input: NodeJS.ReadStream, output: NodeJS.WriteStream): Prompter {
  const ask = async (question: string, hidden: boolean): Promise<string> => {
    const mutable = new MutableOutput(output);
    const rl = createInterface({ input, output: mutable, terminal: true, historySize: 0 });
    try {
      return await askOn(rl, mutable, question, hidden);
    } finally {
      rl.close();
      mutable.dispose();
    }
  };
  return { hidden: (question) => ask(question, true), visible: (question) => ask(question, false) };
}
