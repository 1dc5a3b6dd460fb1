// The frame codec: what encodeFrame writes, FrameDecoder gives back exactly, however the bytes are
// chunked; anything that is not dfs framing is refused with BAD_FRAME, before any allocation the
// header's lengths would ask for, and the decoder stays refused. Random inputs are seeded: a
// failing run prints its seed, and DFS_TEST_SEED=<seed> replays it.

import { createHash } from 'node:crypto';
import t from 'tap';
import { BODY_BYTES_MAX, FRAME_BYTES_MAX, FRAME_MEMORY_BYTES_MAX, KIB, MIB } from '../../src/limits';
import { DfsError } from '../../src/wire/errors';
import { encodeFrame, FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_VERSION, FrameDecoder, payloadBudget, type FrameSink } from '../../src/wire/frame';
import { prng, seed } from '../helpers/random';
import { thrown } from '../helpers/errors';

t.comment(`seed ${seed} (replay with DFS_TEST_SEED=${seed})`);


type Random = () => number;

function below(random: Random, bound: number): number {
  return Math.floor(random() * bound);
}

function randomBytes(random: Random, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) bytes[index] = below(random, 256);
  return bytes;
}

interface FrameSpec {
  payload: Buffer;
  body: Buffer;
}

interface Decoded {
  payload: Buffer;
  bodyBytes: number;
  body: Buffer[];
  ended: boolean;
}

/** A sink that records frames and bodies and notes every call out of protocol order. */
function recorder(): { sink: FrameSink; frames: Decoded[]; violations: string[] } {
  const frames: Decoded[] = [];
  const violations: string[] = [];
  const open = (): Decoded | undefined => {
    const last = frames[frames.length - 1];
    return last && !last.ended ? last : undefined;
  };
  const sink: FrameSink = {
    frame(payload, bodyBytes) {
      if (open()) violations.push(`frame() while frame ${frames.length - 1}'s body is unfinished`);
      frames.push({ payload: Buffer.from(payload), bodyBytes, body: [], ended: bodyBytes === 0 });
    },
    body(chunk) {
      const current = open();
      if (!current) violations.push('body() outside a body');
      else if (chunk.length === 0) violations.push('empty body chunk');
      else current.body.push(chunk);
    },
    bodyEnd() {
      const current = open();
      if (!current) violations.push('bodyEnd() outside a body');
      else if (Buffer.concat(current.body).length !== current.bodyBytes) violations.push('bodyEnd() before all body bytes');
      else current.ended = true;
    },
  };
  return { sink, frames, violations };
}

function encodeAll(specs: FrameSpec[]): Buffer {
  return Buffer.concat(specs.flatMap(({ payload, body }) => [encodeFrame(payload, body.length), body]));
}

type Delivery = 'one chunk' | 'byte by byte' | 'random chunks';

function chunksOf(bytes: Buffer, delivery: Delivery, random: Random): Buffer[] {
  if (delivery === 'one chunk') return [bytes];
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const size = delivery === 'byte by byte' ? 1 : 1 + below(random, random() < 0.5 ? 24 : 64 * KIB);
    chunks.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

/** A short, comparable summary of bytes: length and SHA-256 prefix. */
function digest(bytes: Buffer): string {
  return `${bytes.length}:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
}

/** The decoded frames in the same shape as the specs, for one t.same. */
function asSpecs(frames: Decoded[]): Array<{ payload: string; body: string; ended: boolean }> {
  return frames.map((frame) => ({ payload: digest(frame.payload), body: digest(Buffer.concat(frame.body)), ended: frame.ended }));
}

function expected(specs: FrameSpec[]): Array<{ payload: string; body: string; ended: boolean }> {
  return specs.map(({ payload, body }) => ({ payload: digest(payload), body: digest(body), ended: true }));
}

/** A 16-byte header with every field chosen by the caller. */
function header(fields: { magic?: number; version?: number; flags?: number; payloadBytes?: number; bodyBytes?: bigint }): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  bytes.writeUInt16BE(fields.magic ?? FRAME_MAGIC, 0);
  bytes.writeUInt8(fields.version ?? FRAME_VERSION, 2);
  bytes.writeUInt8(fields.flags ?? 0, 3);
  bytes.writeUInt32BE(fields.payloadBytes ?? 0, 4);
  bytes.writeBigUInt64BE(fields.bodyBytes ?? 0n, 8);
  return bytes;
}

function describe(error: unknown): string {
  if (error instanceof DfsError) return `DfsError ${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

t.test('frame: the header is "DF", version 1, flags 0, u32 payload length, u64 body length', async (t) => {
  const frame = encodeFrame(Buffer.from('{"k":"q"}'), 2 ** 40 + 7);
  t.equal(frame.length, FRAME_HEADER_BYTES + 9);
  t.equal(frame.subarray(0, 2).toString('latin1'), 'DF');
  t.equal(frame[2], 1);
  t.equal(frame[3], 0);
  t.equal(frame.readUInt32BE(4), 9);
  t.equal(frame.readBigUInt64BE(8), BigInt(2 ** 40 + 7));
  t.equal(frame.subarray(FRAME_HEADER_BYTES).toString(), '{"k":"q"}');
  t.same(encodeFrame(Buffer.alloc(0)), header({}), 'an empty frame is its header alone');
});

t.test('frame: encodeFrame refuses a payload over FRAME_BYTES_MAX and body lengths that are not sizes', async (t) => {
  t.equal(encodeFrame(Buffer.alloc(FRAME_BYTES_MAX)).readUInt32BE(4), FRAME_BYTES_MAX, 'exactly the limit is fine');
  const cases: Array<[string, () => unknown]> = [
    ['payload of FRAME_BYTES_MAX + 1', () => encodeFrame(Buffer.alloc(FRAME_BYTES_MAX + 1))],
    ['body of -1', () => encodeFrame(Buffer.alloc(0), -1)],
    ['body of 1.5', () => encodeFrame(Buffer.alloc(0), 1.5)],
    ['body of NaN', () => encodeFrame(Buffer.alloc(0), Number.NaN)],
    ['body of Infinity', () => encodeFrame(Buffer.alloc(0), Number.POSITIVE_INFINITY)],
    ['body over BODY_BYTES_MAX', () => encodeFrame(Buffer.alloc(0), BODY_BYTES_MAX + 2)],
  ];
  for (const [name, run] of cases) {
    const error = thrown(run);
    t.ok(error instanceof DfsError && error.code === 'BAD_REQUEST', `${name}: ${describe(error)}`);
  }
});

t.test('frame: round trips of 0, 1 and many payload bytes, with bodies of 0, 1 and 100 KiB, however chunked', async (t) => {
  const random = prng(seed);
  const deliveries: Delivery[] = ['one chunk', 'byte by byte', 'random chunks'];
  for (const payloadBytes of [0, 1, 5000, 70 * KIB]) {
    for (const bodyBytes of [0, 1, 100 * KIB]) {
      const spec = { payload: randomBytes(random, payloadBytes), body: randomBytes(random, bodyBytes) };
      for (const delivery of deliveries) {
        const { sink, frames, violations } = recorder();
        const decoder = new FrameDecoder(sink);
        for (const chunk of chunksOf(encodeAll([spec]), delivery, random)) decoder.push(chunk);
        const name = `payload ${payloadBytes} B, body ${bodyBytes} B, ${delivery}`;
        t.same(asSpecs(frames), expected([spec]), name);
        t.equal(frames[0]?.bodyBytes, bodyBytes, `${name}: announced body length`);
        t.same(violations, [], `${name}: sink calls in order`);
        t.ok(decoder.atBoundary, `${name}: ends at a boundary`);
      }
    }
  }
});

t.test('frame: a payload of exactly FRAME_BYTES_MAX decodes', async (t) => {
  const payload = Buffer.alloc(FRAME_BYTES_MAX, 0x5a);
  const { sink, frames } = recorder();
  const decoder = new FrameDecoder(sink);
  const bytes = encodeAll([{ payload, body: Buffer.from('xyz') }]);
  decoder.push(bytes.subarray(0, 1000));
  decoder.push(bytes.subarray(1000));
  t.equal(frames.length, 1);
  t.equal(frames[0]?.payload.length, FRAME_BYTES_MAX);
  t.ok(frames[0]?.payload.equals(payload));
  t.equal(Buffer.concat(frames[0]?.body ?? []).toString(), 'xyz');
});

t.test('frame: many frames back to back decode in order, in one chunk, byte by byte, and in random chunks', async (t) => {
  const random = prng(seed + 1);
  const specs: FrameSpec[] = [];
  for (let index = 0; index < 40; index++) {
    const bodyBytes = [0, 0, 1, 7, 3000][index % 5] ?? 0;
    specs.push({ payload: Buffer.from(JSON.stringify({ k: 'q', id: index + 1, t: 'ping', d: { n: index } })), body: randomBytes(random, bodyBytes) });
  }
  specs.push({ payload: Buffer.alloc(0), body: Buffer.alloc(0) }, { payload: Buffer.alloc(0), body: Buffer.from('!') });
  const stream = encodeAll(specs);
  for (const delivery of ['one chunk', 'byte by byte', 'random chunks'] as const) {
    for (let round = 0; round < (delivery === 'random chunks' ? 25 : 1); round++) {
      const { sink, frames, violations } = recorder();
      const decoder = new FrameDecoder(sink);
      for (const chunk of chunksOf(stream, delivery, random)) decoder.push(chunk);
      if (round === 0) t.same(asSpecs(frames), expected(specs), delivery);
      else if (JSON.stringify(asSpecs(frames)) !== JSON.stringify(expected(specs))) t.fail(`${delivery} round ${round}`);
      if (violations.length > 0) t.same(violations, [], `${delivery} round ${round}`);
    }
  }
});

t.test('frame: atBoundary is true exactly between frames', async (t) => {
  const specs: FrameSpec[] = [
    { payload: Buffer.alloc(0), body: Buffer.alloc(0) },
    { payload: Buffer.from('{}'), body: Buffer.alloc(0) },
    { payload: Buffer.alloc(0), body: Buffer.from('body') },
    { payload: Buffer.from('{"a":1}'), body: Buffer.from('b') },
  ];
  const boundaries = new Set<number>([0]);
  let end = 0;
  for (const { payload, body } of specs) {
    end += FRAME_HEADER_BYTES + payload.length + body.length;
    boundaries.add(end);
  }
  const stream = encodeAll(specs);
  const decoder = new FrameDecoder(recorder().sink);
  const wrong: string[] = [];
  if (!decoder.atBoundary) wrong.push('before any byte');
  for (let offset = 0; offset < stream.length; offset++) {
    decoder.push(stream.subarray(offset, offset + 1));
    if (decoder.atBoundary !== boundaries.has(offset + 1)) wrong.push(`after ${offset + 1} bytes: ${decoder.atBoundary}`);
  }
  t.same(wrong, [], 'boundaries after 0, 16, 34, 54 and 78 bytes and nowhere else');
});

t.test('frame: wrong magic is refused after 2 bytes, before a full header arrives', async (t) => {
  for (const start of ['GE', 'DX', 'XF', '\x16\x03', '\x00\x00']) {
    const { sink, frames } = recorder();
    const decoder = new FrameDecoder(sink);
    const bytes = Buffer.from(start, 'latin1');
    t.equal(thrown(() => decoder.push(bytes.subarray(0, 1))), undefined, `${JSON.stringify(start)}: one byte tells nothing yet`);
    const error = thrown(() => decoder.push(bytes.subarray(1, 2)));
    t.ok(error instanceof DfsError && error.code === 'BAD_FRAME', `${JSON.stringify(start)}: ${describe(error)}`);
    t.equal(frames.length, 0);
  }
  const http = thrown(() => new FrameDecoder(recorder().sink).push(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
  t.ok(http instanceof DfsError && http.code === 'BAD_FRAME', `an HTTP request in one chunk: ${describe(http)}`);
});

t.test('frame: a wrong version, non-zero flags, or an out-of-range body length are refused at the 16th byte', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['version 0', header({ version: 0 })],
    ['version 2', header({ version: 2 })],
    ['version 255', header({ version: 255 })],
    ...[1, 2, 4, 8, 16, 32, 64, 128].map((flags): [string, Buffer] => [`flags ${flags}`, header({ flags })]),
    ['body length 2^53', header({ bodyBytes: 2n ** 53n })],
    ['body length 2^64 - 1', header({ bodyBytes: 2n ** 64n - 1n })],
  ];
  for (const [name, bytes] of cases) {
    const { sink, frames } = recorder();
    const decoder = new FrameDecoder(sink);
    t.equal(thrown(() => decoder.push(bytes.subarray(0, 15))), undefined, `${name}: 15 bytes are not refused yet`);
    const error = thrown(() => decoder.push(bytes.subarray(15)));
    t.ok(error instanceof DfsError && error.code === 'BAD_FRAME', `${name}: ${describe(error)}`);
    t.equal(frames.length, 0, `${name}: nothing reaches the sink`);
  }
  const { sink, frames } = recorder();
  new FrameDecoder(sink).push(header({ bodyBytes: BigInt(BODY_BYTES_MAX) }));
  t.equal(frames[0]?.bodyBytes, BODY_BYTES_MAX, 'a body of BODY_BYTES_MAX is announced, not refused');
});

t.test('frame: a payload length over FRAME_BYTES_MAX is refused at the header, before allocating', async (t) => {
  const allocUnsafe = t.capture(Buffer, 'allocUnsafe', Buffer.allocUnsafe);
  const alloc = t.capture(Buffer, 'alloc', Buffer.alloc);
  const allocUnsafeSlow = t.capture(Buffer, 'allocUnsafeSlow', Buffer.allocUnsafeSlow);
  const sizes = (): number[] =>
    [...allocUnsafe.args(), ...alloc.args(), ...allocUnsafeSlow.args()].map(([size]) => Number(size));
  for (const payloadBytes of [FRAME_BYTES_MAX + 1, 2 ** 31, 0xffffffff]) {
    const { sink, frames } = recorder();
    const decoder = new FrameDecoder(sink);
    const bytes = header({ payloadBytes });
    sizes();
    const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
    t.equal(thrown(() => decoder.push(bytes.subarray(0, 15))), undefined, `${payloadBytes}: 15 bytes are not refused yet`);
    const error = thrown(() => decoder.push(bytes.subarray(15)));
    const grown = process.memoryUsage().arrayBuffers - arrayBuffersBefore;
    t.ok(error instanceof DfsError && error.code === 'BAD_FRAME', `${payloadBytes}: refused at the 16th byte: ${describe(error)}`);
    t.same(sizes().filter((size) => size > KIB), [], `${payloadBytes}: no buffer over 1 KiB was asked for`);
    t.ok(grown < MIB, `${payloadBytes}: array buffers grew by ${grown} bytes, under 1 MiB`);
    t.equal(frames.length, 0);
  }
  // The check is a check, not an accident: a frame at the limit does get its payload buffer.
  new FrameDecoder(recorder().sink).push(header({ payloadBytes: FRAME_BYTES_MAX }));
  t.ok(sizes().includes(FRAME_BYTES_MAX), 'a frame at the limit allocates exactly FRAME_BYTES_MAX');
});

t.test('frame: after a failure the decoder refuses all further input, even valid frames', async (t) => {
  const { sink, frames } = recorder();
  const decoder = new FrameDecoder(sink);
  const first = thrown(() => decoder.push(Buffer.from('XX')));
  t.ok(first instanceof DfsError && first.code === 'BAD_FRAME', describe(first));
  for (const input of [encodeFrame(Buffer.from('{}')), Buffer.from('D'), Buffer.alloc(0)]) {
    const again = thrown(() => decoder.push(input));
    t.ok(again instanceof DfsError && again.code === 'BAD_FRAME', `${input.length} more bytes: ${describe(again)}`);
  }
  t.equal(frames.length, 0, 'the valid frame after the garbage never reaches the sink');

  // A failure in the middle of a chunk: frames before it were delivered, nothing after it is.
  const later = recorder();
  const decoderTwo = new FrameDecoder(later.sink);
  const mixed = Buffer.concat([encodeFrame(Buffer.from('one')), header({ version: 9 }), encodeFrame(Buffer.from('three'))]);
  t.ok(thrown(() => decoderTwo.push(mixed)) instanceof DfsError);
  t.same(later.frames.map((frame) => frame.payload.toString()), ['one']);
  t.ok(thrown(() => decoderTwo.push(encodeFrame(Buffer.from('four')))) instanceof DfsError);
  t.same(later.frames.map((frame) => frame.payload.toString()), ['one'], 'still only the first frame');
});

/**
 * Feeds a byte stream to a fresh decoder in random chunks. Returns what was decoded and the
 * error thrown, if any; an error that is not DfsError BAD_FRAME is returned as `foreign`.
 */
function feed(bytes: Buffer, random: Random): { decoded: Decoded[]; violations: string[]; error: DfsError | undefined; foreign: unknown; atBoundary: boolean } {
  const { sink, frames, violations } = recorder();
  const decoder = new FrameDecoder(sink);
  try {
    for (const chunk of chunksOf(bytes, 'random chunks', random)) {
      try {
        decoder.push(chunk);
      } catch (error) {
        if (error instanceof DfsError && error.code === 'BAD_FRAME') return { decoded: frames, violations, error, foreign: undefined, atBoundary: false };
        return { decoded: frames, violations, error: undefined, foreign: error, atBoundary: false };
      }
    }
    return { decoded: frames, violations, error: undefined, foreign: undefined, atBoundary: decoder.atBoundary };
  } finally {
    // As a channel does when its connection ends: a frame half-read gives its payload budget back.
    decoder.release();
  }
}

function randomStream(random: Random): { specs: FrameSpec[]; bytes: Buffer; ends: number[] } {
  const specs: FrameSpec[] = [];
  for (let count = 1 + below(random, 5); count > 0; count--) {
    specs.push({ payload: randomBytes(random, below(random, 3) === 0 ? 0 : below(random, 200)), body: randomBytes(random, below(random, 2) === 0 ? 0 : below(random, 2000)) });
  }
  const ends: number[] = [];
  let end = 0;
  for (const { payload, body } of specs) {
    end += FRAME_HEADER_BYTES + payload.length + body.length;
    ends.push(end);
  }
  return { specs, bytes: encodeAll(specs), ends };
}

/**
 * Records the largest size asked of Buffer.alloc / allocUnsafe / allocUnsafeSlow until teardown.
 * (t.capture records a stack per call, too slow for thousands of fuzz iterations.)
 */
function watchAllocations(t: { teardown(run: () => void): void }): () => number {
  let largest = 0;
  const methods = ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const;
  for (const method of methods) {
    const original = Buffer[method];
    const watched = function (this: typeof Buffer, ...args: Parameters<typeof original>): Buffer {
      largest = Math.max(largest, Number(args[0]));
      return Reflect.apply(original, this, args) as Buffer;
    };
    Object.defineProperty(Buffer, method, { value: watched, writable: true, configurable: true });
    t.teardown(() => Object.defineProperty(Buffer, method, { value: original, writable: true, configurable: true }));
  }
  return () => largest;
}

t.test('frame: fuzz — random, truncated and mutated streams decode or fail with BAD_FRAME, never worse', async (t) => {
  const random = prng(seed + 2);
  const largest = watchAllocations(t);
  const problems: string[] = [];
  const note = (what: string, iteration: number, detail: string): void => {
    if (problems.length < 10) problems.push(`${what} #${iteration}: ${detail}`);
  };
  const counts = { random: 0, decodedSome: 0, refused: 0, truncated: 0, mutated: 0 };

  for (let iteration = 0; iteration < 3000; iteration++) {
    // Pure noise; noise behind a valid magic, version and flags, so the length fields are random;
    // and noise after a valid header announcing a small frame, so decoding starts before it fails.
    const noise = randomBytes(random, below(random, 300));
    const small = header({ payloadBytes: below(random, 40), bodyBytes: BigInt(below(random, 40)) });
    const prefixes = [Buffer.alloc(0), header({}).subarray(0, 4), small];
    const bytes = Buffer.concat([prefixes[below(random, prefixes.length)] ?? Buffer.alloc(0), noise]);
    const result = feed(bytes, random);
    counts.random++;
    if (result.foreign !== undefined) note('random', iteration, describe(result.foreign));
    if (result.violations.length > 0) note('random', iteration, result.violations.join('; '));
    if (result.error) counts.refused++;
    if (result.decoded.length > 0) counts.decodedSome++;
  }

  for (let iteration = 0; iteration < 2000; iteration++) {
    // A valid stream cut anywhere: never an error; exactly the frames whose payload arrived.
    const { specs, bytes, ends } = randomStream(random);
    const cut = below(random, bytes.length + 1);
    const result = feed(bytes.subarray(0, cut), random);
    counts.truncated++;
    if (result.error || result.foreign !== undefined) note('truncated', iteration, describe(result.error ?? result.foreign));
    const complete = specs.filter(({ body }, index) => (ends[index] ?? 0) - body.length <= cut);
    const decodedPayloads = result.decoded.map((frame) => frame.payload.toString('hex'));
    if (JSON.stringify(decodedPayloads) !== JSON.stringify(complete.map((spec) => spec.payload.toString('hex')))) {
      note('truncated', iteration, `cut at ${cut} of ${bytes.length}: decoded ${decodedPayloads.length} of ${complete.length} frames`);
    }
    const atBoundary = cut === 0 || ends.includes(cut);
    if (result.atBoundary !== atBoundary) note('truncated', iteration, `cut at ${cut}: atBoundary ${result.atBoundary}, expected ${atBoundary}`);
  }

  for (let iteration = 0; iteration < 2000; iteration++) {
    // A valid stream with bytes changed, inserted or dropped: frames wholly before the damage survive.
    const { specs, bytes, ends } = randomStream(random);
    const damaged = Buffer.from(bytes);
    let firstDamage = below(random, bytes.length);
    let mutated: Buffer = damaged;
    const kind = below(random, 3);
    if (kind === 0) {
      for (let count = 1 + below(random, 4); count > 0; count--) {
        const at = below(random, damaged.length);
        damaged[at] = below(random, 256);
        firstDamage = Math.min(firstDamage, at);
      }
    } else if (kind === 1) {
      mutated = Buffer.concat([damaged.subarray(0, firstDamage), randomBytes(random, 1 + below(random, 20)), damaged.subarray(firstDamage)]);
    } else {
      mutated = Buffer.concat([damaged.subarray(0, firstDamage), damaged.subarray(firstDamage + 1 + below(random, 20))]);
    }
    const result = feed(mutated, random);
    counts.mutated++;
    if (result.foreign !== undefined) note('mutated', iteration, describe(result.foreign));
    if (result.violations.length > 0) note('mutated', iteration, result.violations.join('; '));
    const intact = specs.filter((_, index) => (ends[index] ?? 0) <= firstDamage);
    const survived = result.decoded.slice(0, intact.length).map((frame) => frame.payload.toString('hex'));
    if (JSON.stringify(survived) !== JSON.stringify(intact.map((spec) => spec.payload.toString('hex')))) {
      note('mutated', iteration, `damage at ${firstDamage}: the ${intact.length} frames before it did not all decode`);
    }
  }

  t.same(problems, [], `no foreign exceptions, order violations or lost frames (seed ${seed})`);
  t.ok(largest() <= FRAME_BYTES_MAX, `largest allocation ${largest()} bytes is within FRAME_BYTES_MAX`);
  t.ok(counts.refused > 500 && counts.decodedSome > 100, `the noise exercised both outcomes: ${JSON.stringify(counts)}`);
});

t.test('frame: a payload held for a frame still arriving counts against one budget for every connection, and is given back', async (t) => {
  const held = payloadBudget.held; // what earlier tests' abandoned decoders still hold
  const room = Math.floor((FRAME_MEMORY_BYTES_MAX - held) / FRAME_BYTES_MAX);
  t.ok(room >= 1, `room for ${room} frames of 16 MiB`);
  const decoders = Array.from({ length: room }, () => new FrameDecoder(recorder().sink));
  for (const decoder of decoders) decoder.push(header({ payloadBytes: FRAME_BYTES_MAX }));
  t.equal(payloadBudget.held - held, room * FRAME_BYTES_MAX, `${room} frames of 16 MiB arriving hold ${room * 16} MiB`);
  const ninth = new FrameDecoder(recorder().sink);
  t.throws(() => ninth.push(header({ payloadBytes: FRAME_BYTES_MAX })), { code: 'RATE_LIMITED' }, 'one more is refused before anything is allocated');
  for (const decoder of decoders) decoder.release();
  ninth.release();
  t.equal(payloadBudget.held, held, 'released decoders give it all back');
  const small = new FrameDecoder(recorder().sink, { frameBytesMax: () => 64 * KIB });
  t.throws(() => small.push(header({ payloadBytes: 64 * KIB + 1 })), { code: 'BAD_FRAME' }, 'a frame past the peer\'s current limit is refused');
  t.equal(payloadBudget.held, held, 'without taking any budget');
});
