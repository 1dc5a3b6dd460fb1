// Taking the terminal over for a blessed screen, and giving it back exactly as it was.
//
// blessed reads keys from its own input stream: a pass-through fed from the real terminal. It never
// touches process.stdin's own key decoding, which node:readline may have installed already (a
// password prompt, or the shell's REPL when `tui` runs inside the shell); both decoding the same
// stream would deliver every key twice. While the screen is up, whoever listened to the terminal's
// keys and resizes before (the REPL) is detached, and re-attached when the screen is destroyed, with
// raw mode and flow restored.

import { PassThrough } from 'node:stream';
import * as blessed from 'blessed';

/** The terminal blessed reads: raw mode is the real terminal's business (see acquireTerminal). */
class TerminalInput extends PassThrough {
  readonly isTTY = true;
  isRaw = false;

  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    return this;
  }
}

export interface Terminal {
  screen: blessed.Widgets.Screen;
  /** Destroys the screen (leaves the alternate screen, shows the cursor) and restores the terminal. */
  release(): void;
}

type Listener = (...args: unknown[]) => void;

function detach(emitter: NodeJS.EventEmitter, event: string): Listener[] {
  const listeners = emitter.listeners(event) as Listener[];
  for (const listener of listeners) emitter.off(event, listener);
  return listeners;
}

/** An explicit choice only when the locale says UTF-8 or says nothing (then blessed would fall back to
 * the VT100 line-drawing set, which some terminals and tmux's capture show as letters). */
function unicodeTerminal(env: NodeJS.ProcessEnv): boolean | undefined {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  if (locale === '' || /utf-?8/i.test(locale)) return true;
  return undefined;
}

export function acquireTerminal(input: NodeJS.ReadStream, output: NodeJS.WriteStream, title: string): Terminal {
  const wasRaw = input.isRaw;
  const wasPaused = input.isPaused();
  const keypressListeners = detach(input, 'keypress');
  const resizeListeners = detach(output, 'resize');
  const proxy = new TerminalInput();
  const forward = (chunk: Buffer | string): void => {
    proxy.write(chunk);
  };
  input.on('data', forward);
  input.setRawMode(true);
  input.resume();
  const unicode = unicodeTerminal(process.env);
  const screen = blessed.screen({
    // @types/blessed has input and output the wrong way round (Writable / Readable).
    input: proxy as unknown as NonNullable<blessed.Widgets.IScreenOptions['input']>,
    output: output as unknown as NonNullable<blessed.Widgets.IScreenOptions['output']>,
    smartCSR: true,
    fullUnicode: true,
    ...(unicode !== undefined ? { forceUnicode: unicode } : {}),
    autoPadding: true,
    warnings: false,
    title,
  });
  let released = false;
  return {
    screen,
    release: () => {
      if (released) return;
      released = true;
      screen.destroy();
      input.off('data', forward);
      proxy.destroy();
      input.setRawMode(wasRaw);
      if (wasPaused) input.pause();
      for (const listener of resizeListeners) output.on('resize', listener);
      for (const listener of keypressListeners) input.on('keypress', listener);
    },
  };
}
