// Waiting out back-pressure. A writer waits here each time a stream's buffer is full — thousands of times in a
// large transfer — so the wait must leave nothing behind: `Promise.race` over `events.once` keeps the losing
// listeners (and an 'error' listener each) on the stream until it closes, which grows with the file's size.

/** Resolves when the stream drains, closes or fails, whichever comes first (at once if it is destroyed already: its
 * close may have been emitted before), with every listener it added removed: with the error if it failed (a stream
 * writing to a file may fail without being destroyed), else undefined. It never rejects. */
export function drained(stream: NodeJS.EventEmitter & { destroyed?: boolean }): Promise<Error | undefined> {
  return new Promise((resolve) => {
    if (stream.destroyed === true) {
      resolve(undefined);
      return;
    }
    const done = (error?: unknown): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve(error instanceof Error ? error : undefined);
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
