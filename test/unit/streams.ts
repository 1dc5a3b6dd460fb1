// Back-pressure waits leave nothing behind: a download to a slow pipe waits for 'drain' thousands of times, and each
// wait used to leave a 'close' and an 'error' listener on the output (Node warned of a leak after ten, on the
// user's terminal, and memory grew with the file).

import { PassThrough, Writable } from 'node:stream';
import t from 'tap';
import { OutputClosed, streamSink } from '../../src/client/transfer';
import { drained } from '../../src/streams';

/** A writable that takes a byte at a time and finishes each write a turn later: every write fills it. */
function slowOutput(): Writable {
  return new Writable({ highWaterMark: 1, write: (_chunk, _encoding, callback) => setImmediate(callback) });
}

const listeners = (stream: Writable): number[] => ['drain', 'close', 'error'].map((name) => stream.listenerCount(name));

t.test('200 writes into a full output through streamSink: no listener is left on it', async (t) => {
  const output = slowOutput();
  const before = listeners(output);
  const sink = streamSink(output, 'the pipe');
  for (let index = 0; index < 200; index++) await sink.write(Buffer.from('chunk'));
  t.same(listeners(output), before, 'drain, close and error listeners as before');
});

t.test('a write resolves only once the output wrote the chunk out: the download may then hand it on', async (t) => {
  const written: string[] = [];
  const output = new Writable({ highWaterMark: 1 << 20, write: (chunk: Buffer, _encoding, callback) => setTimeout(() => (written.push(chunk.toString()), callback()), 5) });
  const sink = streamSink(output, 'the pipe');
  await sink.write(Buffer.from('first'));
  t.same(written, ['first'], 'written out before the write resolved, though the output had room to buffer it');
  await sink.write(Buffer.from('second'));
  t.same(written, ['first', 'second']);
});

t.test('an output closed while full ends the wait, and the next write says it is closed', async (t) => {
  const output = slowOutput();
  output.on('error', () => undefined); // the shell's own listener
  const sink = streamSink(output, 'the pipe');
  const waiting = sink.write(Buffer.from('more than one byte'));
  output.destroy(Object.assign(new Error('broken pipe'), { code: 'EPIPE' }));
  await t.rejects(waiting, OutputClosed);
  await t.rejects(sink.write(Buffer.from('x')), OutputClosed);
});

t.test('an output that fails without being destroyed (stdout > /dev/full) fails the write with its own error', async (t) => {
  const full = new Writable({
    autoDestroy: false,
    highWaterMark: 1,
    write: (_chunk, _encoding, callback) => callback(Object.assign(new Error('No space left on device'), { code: 'ENOSPC' })),
  });
  full.on('error', () => undefined); // the shell's own listener
  const sink = streamSink(full, 'standard output');
  await t.rejects(sink.write(Buffer.from('bytes')), { name: 'LocalFileError', message: 'standard output: No space left on device' });
  await t.rejects(sink.write(Buffer.from('more')), { message: 'standard output: No space left on device' }, 'and so does the next');
});

t.test('drained: by drain, by close, by error, or at once when destroyed; each removes its listeners', async (t) => {
  for (const end of ['drain', 'close', 'error'] as const) {
    const stream = new PassThrough();
    const waiting = drained(stream);
    stream.emit(end, end === 'error' ? new Error('x') : undefined);
    t.equal((await waiting)?.message, end === 'error' ? 'x' : undefined, end === 'error' ? 'with the error' : 'with no error');
    t.same(listeners(stream), [0, 0, 0], `after ${end}`);
  }
  const gone = new PassThrough();
  gone.destroy();
  await drained(gone);
  t.equal(gone.listenerCount('close'), 0, 'a destroyed stream resolves at once (its close may be past)');
});
