// Request/response over one connection: answers find their requests by id, errors arrive typed
// and never leak internals, bad input is refused with the right code while the connection lives
// on (or, for bad framing, is closed with a notice), and bodies of any size stream intact with
// bounded buffering. Most cases run over an in-memory pair; those about sockets also over TCP.

import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { BODY_BUFFER_BYTES, FRAME_BYTES_MAX, KIB, MIB, PRINCIPAL_REQUESTS_IN_FLIGHT_MAX } from '../../src/limits';
import { FileRegion } from '../../src/streams';
import { Channel, service, type OutgoingBody, type Peer } from '../../src/wire/channel';
import { DfsError, type ErrorCode } from '../../src/wire/errors';
import { encodeFrame } from '../../src/wire/frame';
import type { RequestOf } from '../../src/wire/messages';
import { tempDir } from '../helpers/binary';
import { duplexPair } from '../helpers/duplex-pair';
import { connect, describe, digest, errorOf, generated, heartbeat, join, outcome, pong, rawPeer, TRANSPORTS, until, type Connected, type Generated, type Handler, type Teardown } from '../helpers/channel-harness';

t.test('channel: a ping is answered, and either side may ask (memory and TCP)', async (t) => {
  for (const transport of TRANSPORTS) {
    const seen: Peer[] = [];
    const { left, right } = await connect(t, {
      transport,
      handler: async (request) => {
        seen.push(request.peer);
        return { data: { role: 'master', version: '1.2.3' } };
      },
      leftHandler: async () => ({ data: { role: 'node', version: '9' } }),
    });
    const response = await left.request('ping', {});
    t.same(response.data, { role: 'master', version: '1.2.3' }, `${transport}: left asks right`);
    t.equal(response.body, undefined, `${transport}: no body`);
    t.equal(response.bodyBytes, 0);
    t.same(seen, [{ kind: 'anonymous' }], `${transport}: the handler sees the peer the channel was given`);
    t.same((await right.request('ping', {})).data, { role: 'node', version: '9' }, `${transport}: right asks left`);
  }
});

t.test('channel: concurrent requests answered out of order are matched by id', async (t) => {
  const gates = new Map<string, () => void>();
  const { left } = await connect(t, {
    handler: async (request) => {
      if (request.type !== 'join') throw new DfsError('BAD_REQUEST', 'join only');
      const { secret } = request.data;
      await new Promise<void>((resolve) => gates.set(secret, resolve));
      return { data: { nodeId: `n-${secret}`, certPem: `cert ${secret}`, caPem: 'ca' } };
    },
  });
  const secrets = Array.from({ length: 12 }, (_, index) => `s${index}`);
  const answered: string[] = [];
  const requests = secrets.map(async (secret) => {
    const response = await left.request('join', join(secret));
    answered.push(secret);
    return response.data;
  });
  t.ok(await until(() => gates.size === secrets.length), 'all requests reached the handler');
  for (const secret of [...secrets].reverse()) {
    gates.get(secret)?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const results = await Promise.all(requests);
  t.same(answered, [...secrets].reverse(), 'answers arrived in reverse order');
  t.same(
    results,
    secrets.map((secret) => ({ nodeId: `n-${secret}`, certPem: `cert ${secret}`, caPem: 'ca' })),
    'each request got its own answer',
  );
});

t.test("channel: a handler's DfsError reaches the requester with its code and message", async (t) => {
  const { left, closes } = await connect(t, {
    handler: async () => {
      throw new DfsError('NOT_FOUND', 'no such file: /a/b');
    },
  });
  const result = await outcome(left.request('ping', {}));
  const error = errorOf(result);
  t.ok(error, describe(result));
  t.equal(error?.code, 'NOT_FOUND');
  t.equal(error?.message, 'no such file: /a/b');
  t.equal(errorOf(await outcome(left.request('ping', {})))?.code, 'NOT_FOUND', 'the connection is still usable');
  t.same(closes, { left: [], right: [] }, 'neither side closed');
});

t.test("channel: a handler's plain Error reaches the requester as INTERNAL without its text; the channel emits 'bug'", async (t) => {
  const { left, right, closes } = await connect(t, {
    handler: async () => {
      throw new TypeError('cannot read secret hunter2 of undefined');
    },
  });
  const bugs: unknown[] = [];
  right.on('bug', (error: unknown) => bugs.push(error));
  const result = await outcome(left.request('ping', {}));
  const error = errorOf(result);
  t.equal(error?.code, 'INTERNAL', describe(result));
  t.notMatch(error?.message ?? '', /hunter2|TypeError|undefined/, 'the internal text stays inside');
  t.equal(bugs.length, 1, "one 'bug' event");
  t.match(bugs[0], { message: 'cannot read secret hunter2 of undefined' }, "the 'bug' event carries the original error");
  t.same(closes, { left: [], right: [] }, 'neither side closed');
});

t.test('channel: request data failing the schema is refused with BAD_REQUEST naming the field', async (t) => {
  let calls = 0;
  const { left } = await connect(t, {
    handler: async () => {
      calls++;
      return { data: { nodeId: 'n1', certPem: 'c', caPem: 'c' } };
    },
  });
  const cases: Array<[string, unknown, RegExp]> = [
    ['empty secret', { ...join('s'), secret: '' }, /join\.secret/],
    ['numeric secret', { ...join('s'), secret: 5 }, /join\.secret: expected a string/],
    ['missing csrPem', { ...join('s'), csrPem: undefined }, /join\.csrPem/],
    ['empty host', { ...join('s'), host: '' }, /join\.host/],
    ['secret over 256 characters', { ...join('s'), secret: 's'.repeat(257) }, /join\.secret/],
    ['not an object', 'join me', /join: expected an object/],
    ['null', null, /join: expected an object/],
  ];
  for (const [name, data, field] of cases) {
    // The cast is the point: a peer is not bound by our types.
    const result = await outcome(left.request('join', data as RequestOf<'join'>));
    const error = errorOf(result);
    t.equal(error?.code, 'BAD_REQUEST', `${name}: ${describe(result)}`);
    t.match(error?.message ?? '', field, `${name}: names the field`);
  }
  t.equal(calls, 0, 'the handler never saw invalid data');
  const valid = await left.request('join', { ...join('s'), extra: 'dropped' } as RequestOf<'join'>);
  t.equal(valid.data.nodeId, 'n1', 'valid data still reaches the handler');
});

t.test('channel: an unknown message type is refused with BAD_REQUEST and the connection keeps working', async (t) => {
  const [rawSocket, channelSocket] = duplexPair();
  const handled: string[] = [];
  const channel = new Channel(channelSocket, {
    peer: { kind: 'anonymous' },
    service: service('node', async (request) => {
      handled.push(request.type);
      return { data: { role: 'node', version: 'v' } };
    }),
  });
  t.teardown(() => channel.close());
  const raw = rawPeer(rawSocket);
  const names = ['nope', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'PING', ''];
  for (const [index, name] of names.entries()) {
    raw.send({ k: 'q', id: 100 + index, t: name, d: {} });
    t.match(await raw.next(), { k: 'e', id: 100 + index, e: { code: 'BAD_REQUEST', message: /unknown message type/ } }, JSON.stringify(name));
  }
  raw.send({ k: 'q', id: 200, t: 'nope', d: {} }, randomBytes(300 * KIB));
  t.match(await raw.next(), { k: 'e', id: 200, e: { code: 'BAD_REQUEST' } }, 'an unknown type with a body');
  raw.send({ k: 'q', id: 201, t: 'ping', d: {} });
  t.same(await raw.next(), { k: 'r', id: 201, d: { role: 'node', version: 'v' } }, 'a ping after them is answered');
  t.same(handled, ['ping'], 'only the ping reached the handler');
  t.equal(channel.closed, false);
});

t.test('channel: a node-only message from an anonymous peer is UNAUTHENTICATED; from a node it is handled', async (t) => {
  const handled: Peer[] = [];
  const handler: Handler = async (request) => {
    handled.push(request.peer);
    return request.type === 'ping' ? pong(request) : { data: {} };
  };
  for (const leftPeer of [{ kind: 'anonymous' }, { kind: 'master' }] as const) {
    const { left } = await connect(t, { handler, leftPeer });
    const result = await outcome(left.request('node.heartbeat', heartbeat()));
    t.equal(errorOf(result)?.code, 'UNAUTHENTICATED', `${leftPeer.kind}: ${describe(result)}`);
    t.same((await left.request('ping', {})).data, { role: 'master', version: 'test' }, `${leftPeer.kind}: connection still open`);
  }
  t.same(handled, [{ kind: 'anonymous' }, { kind: 'master' }], 'only the pings reached the handler');
  const { left } = await connect(t, { handler, leftPeer: { kind: 'node', nodeId: 'n7' } });
  t.same((await left.request('node.heartbeat', heartbeat())).data, {}, 'a node may send it');
  t.same(handled[2], { kind: 'node', nodeId: 'n7' });
});

t.test('channel: a message the role does not serve is refused with BAD_REQUEST before its handler', async (t) => {
  const handled: string[] = [];
  const { right } = await connect(t, {
    handler: pong,
    leftHandler: async (request) => {
      handled.push(request.type);
      return { data: { role: 'node', version: 'n' } };
    },
  });
  // The left side serves as a node: join and heartbeats are for the master.
  for (const [type, result] of [
    ['join', await outcome(right.request('join', join('s'), { timeoutMs: 1_000 }))],
    ['node.heartbeat', await outcome(right.request('node.heartbeat', heartbeat(), { timeoutMs: 1_000 }))],
  ] as const) {
    t.equal(errorOf(result)?.code, 'BAD_REQUEST', `${type}: ${describe(result)}`);
    t.match(errorOf(result)?.message ?? '', /served by the master/, `${type}: says who serves it`);
  }
  t.same((await right.request('ping', {})).data, { role: 'node', version: 'n' }, 'a ping, served by any role, is answered');
  t.same(handled, ['ping'], 'only the ping reached the handler');
});

t.test('channel: a handler that never answers → TIMEOUT after timeoutMs; its late answer is dropped', async (t) => {
  let release: (() => void) | undefined;
  let calls = 0;
  const { left, closes } = await connect(t, {
    handler: async () => {
      if (calls++ > 0) {
        // Answer only after the late answer below has gone out, so it arrives while this one is pending.
        await new Promise((resolve) => setTimeout(resolve, 10));
        return { data: { role: 'master', version: 'on time' } };
      }
      await new Promise<void>((resolve) => (release = resolve));
      return { data: { role: 'master', version: 'late' } };
    },
  });
  const started = Date.now();
  const result = await outcome(left.request('ping', {}, { timeoutMs: 100 }));
  const elapsed = Date.now() - started;
  t.equal(errorOf(result)?.code, 'TIMEOUT', describe(result));
  t.match(errorOf(result)?.message ?? '', /ping.*100 ms/, 'says what timed out and after how long');
  t.ok(elapsed >= 95, `not before the timeout (${elapsed} ms)`);
  // The late answer arrives while the next request is pending: it must not be taken for it.
  release?.();
  t.same((await left.request('ping', {}, { timeoutMs: 1_000 })).data, { role: 'master', version: 'on time' }, 'the next request gets its own answer');
  t.same(closes, { left: [], right: [] });
});

t.test('channel: a peer that accepts no requests answers BAD_REQUEST', async (t) => {
  const { right } = await connect(t, { handler: pong });
  const result = await outcome(right.request('ping', {}, { timeoutMs: 1_000 }));
  t.equal(errorOf(result)?.code, 'BAD_REQUEST', describe(result));
  t.match(errorOf(result)?.message ?? '', /accepts no requests/);
});

t.test('channel: closing fails pending requests with the reason, and later requests at once', async (t) => {
  const { left, closes } = await connect(t, { handler: () => new Promise(() => undefined) });
  const pending = outcome(left.request('ping', {}));
  await new Promise((resolve) => setImmediate(resolve));
  const reason = new DfsError('UNAVAILABLE', 'shutting down');
  left.close(reason);
  t.equal((await pending as { error: unknown }).error, reason, 'the pending request fails with the reason');
  t.equal(errorOf(await outcome(left.request('ping', {})))?.message, 'shutting down', 'a later request fails with it too');
  t.ok(await until(() => closes.right.length === 1), 'the other side closes');
  t.equal(closes.right[0]?.code, 'UNAVAILABLE');
  t.same(closes.left, [reason], "one 'close' event with the reason");
});

// ---------------------------------------------------------------------------------------------
// Bad framing: the receiver closes with BAD_FRAME and tells the sender why.

t.test('channel: garbage bytes close the receiving channel with BAD_FRAME and the sender learns it (memory and TCP)', async (t) => {
  const garbage: Array<[string, Buffer]> = [
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['a TLS ClientHello start', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])],
    ['a 4 GiB frame header', Buffer.from('4446010000ffffffff0000000000000000', 'hex').subarray(0, 16)],
    ['a payload that is not JSON', encodeFrame(Buffer.from('{not json'))],
    ['an envelope without an id', encodeFrame(Buffer.from('{"k":"q","t":"ping","d":{}}'))],
    ['an envelope of an unknown kind', encodeFrame(Buffer.from('{"k":"x","id":1}'))],
    ['a request with id 0', encodeFrame(Buffer.from('{"k":"q","id":0,"t":"ping","d":{}}'))],
    ['JSON null', encodeFrame(Buffer.from('null'))],
  ];
  for (const transport of TRANSPORTS) {
    for (const [name, bytes] of garbage) {
      const { left, leftSocket, closes } = await connect(t, { transport, handler: () => new Promise(() => undefined) });
      const pending = outcome(left.request('ping', {}, { timeoutMs: 5_000 }));
      await new Promise((resolve) => setImmediate(resolve));
      leftSocket.write(bytes);
      const result = await pending;
      t.equal(errorOf(result)?.code, 'BAD_FRAME', `${transport}, ${name}: the sender's pending request: ${describe(result)}`);
      t.ok(await until(() => closes.right.length > 0 && closes.left.length > 0), `${transport}, ${name}: both sides closed`);
      t.equal(closes.right[0]?.code, 'BAD_FRAME', `${transport}, ${name}: receiver closed with BAD_FRAME`);
      t.equal(closes.left[0]?.code, 'BAD_FRAME', `${transport}, ${name}: sender closed with the notice's BAD_FRAME`);
      t.equal(errorOf(await outcome(left.request('ping', {})))?.code, 'BAD_FRAME', `${transport}, ${name}: later requests fail with it`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Bodies.

/** A handler that hashes the request body and answers with the hash (64 hex characters fit `version`). */
const hashing: Handler = async (request) => {
  if (!request.body) return { data: { role: 'node', version: `none ${request.bodyBytes}` } };
  const { sha256, bytes } = await digest(request.body);
  return { data: { role: 'node', version: bytes === request.bodyBytes ? sha256 : `got ${bytes} of ${request.bodyBytes}` } };
};

t.test('channel: request bodies of 0 bytes, 1 byte and 32 MiB arrive intact (SHA-256; memory and TCP)', async (t) => {
  for (const transport of TRANSPORTS) {
    const { left, closes } = await connect(t, { transport, handler: hashing });
    const empty = await left.request('ping', {}, { body: { stream: Readable.from([]), bytes: 0 } });
    t.equal(empty.data.version, 'none 0', `${transport}: a 0-byte body reaches the handler as no body`);
    for (const bytes of [1, 32 * MIB]) {
      const body = generated(bytes);
      const response = await left.request('ping', {}, { body: body.body });
      t.equal(response.data.version, body.sha256, `${transport}: ${bytes} bytes, same SHA-256`);
    }
    t.same(closes, { left: [], right: [] }, `${transport}: nothing closed`);
  }
});

t.test('channel: a response carries a body (handler returns {data, body})', async (t) => {
  for (const transport of TRANSPORTS) {
    const bodies = new Map<string, Generated>();
    const { left } = await connect(t, {
      transport,
      handler: async (request) => {
        if (request.type !== 'join') throw new DfsError('BAD_REQUEST', 'join only');
        const body = bodies.get(request.data.secret);
        return { data: { nodeId: 'n1', certPem: 'c', caPem: 'c' }, ...(body ? { body: body.body } : {}) };
      },
    });
    for (const bytes of [1, 5 * MIB + 3]) {
      const body = generated(bytes, 64 * KIB);
      bodies.set(`b${bytes}`, body);
      const response = await left.request('join', join(`b${bytes}`));
      t.equal(response.bodyBytes, bytes, `${transport}: announced ${bytes} bytes`);
      t.ok(response.body, `${transport}: a body stream`);
      if (response.body) t.same(await digest(response.body), { sha256: body.sha256, bytes }, `${transport}: ${bytes} bytes intact`);
    }
    const plain = await left.request('join', join('none'));
    t.equal(plain.body, undefined, `${transport}: no body when the handler gives none`);
  }
});

t.test('channel: back-pressure — a reader that pauses keeps the bytes in flight bounded (byte counts)', async (t) => {
  const chunkBytes = 256 * KIB;
  const totalBytes = 24 * MIB;
  for (const transport of TRANSPORTS) {
    const sent = generated(totalBytes, chunkBytes);
    const peaks = { inFlight: 0, bodyBuffered: 0, socketBuffered: 0, senderBuffered: 0, pauses: 0 };
    let received = { sha256: '', bytes: 0 };
    const connected: { value?: Connected } = {};
    const { left } = (connected.value = await connect(t, {
      transport,
      handler: async (request) => {
        const body = request.body;
        if (!body) throw new DfsError('BAD_REQUEST', 'no body');
        const hash = createHash('sha256');
        let consumed = 0;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          // Stop reading until the sender has stopped producing; then see what piled up.
          for (let last = -1; last !== sent.produced(); ) {
            last = sent.produced();
            await new Promise((resolve) => setTimeout(resolve, 3));
          }
          const rightSocket = connected.value?.rightSocket;
          const leftSocket = connected.value?.leftSocket;
          peaks.pauses++;
          // What the reader holds (`chunk`) is read; everything else produced is still in flight.
          peaks.inFlight = Math.max(peaks.inFlight, sent.produced() - consumed - chunk.length);
          peaks.bodyBuffered = Math.max(peaks.bodyBuffered, body.readableLength);
          peaks.socketBuffered = Math.max(peaks.socketBuffered, rightSocket?.readableLength ?? 0);
          peaks.senderBuffered = Math.max(peaks.senderBuffered, leftSocket?.writableLength ?? 0);
          hash.update(chunk);
          consumed += chunk.length;
        }
        received = { sha256: hash.digest('hex'), bytes: consumed };
        return { data: { role: 'node', version: 'read' } };
      },
    }));
    await left.request('ping', {}, { body: sent.body });
    t.comment(`${transport}: ${JSON.stringify(peaks)}`);
    t.same(received, { sha256: sent.sha256, bytes: totalBytes }, `${transport}: every byte arrived, in order`);
    t.ok(peaks.pauses >= 8, `${transport}: the reader paused ${peaks.pauses} times`);
    t.ok(peaks.bodyBuffered <= BODY_BUFFER_BYTES + 2 * chunkBytes, `${transport}: body buffer peaked at ${peaks.bodyBuffered} bytes (limit ${BODY_BUFFER_BYTES} + 2 chunks)`);
    t.ok(peaks.socketBuffered <= 2 * chunkBytes, `${transport}: receiving socket buffer peaked at ${peaks.socketBuffered} bytes`);
    t.ok(peaks.senderBuffered <= 2 * chunkBytes, `${transport}: sending socket buffer peaked at ${peaks.senderBuffered} bytes`);
    if (transport === 'memory') {
      // Without a kernel in between, everything produced and not yet read is in our buffers.
      t.ok(peaks.inFlight <= BODY_BUFFER_BYTES + 6 * chunkBytes, `memory: produced minus read peaked at ${peaks.inFlight} bytes of ${totalBytes}`);
    } else {
      t.ok(peaks.inFlight < totalBytes / 2, `tcp: the sender waited (produced minus read peaked at ${peaks.inFlight} of ${totalBytes})`);
    }
  }
});

t.test('channel: a body shorter or longer than announced closes the channel and fails the request', async (t) => {
  const cases: Array<[string, OutgoingBody, RegExp]> = [
    ['500 of 1000 bytes', { stream: Readable.from([Buffer.alloc(500, 1)]), bytes: 1000 }, /ended after 500 of 1000/],
    ['nothing of 10 bytes', { stream: Readable.from([]), bytes: 10 }, /ended after 0 of 10/],
    ['20 bytes announced as 10', { stream: Readable.from([Buffer.alloc(20, 2)]), bytes: 10 }, /longer than the announced 10/],
  ];
  for (const [name, body, message] of cases) {
    const bodyErrors: unknown[] = [];
    const { left, closes } = await connect(t, {
      handler: async (request) => {
        if (request.body) await digest(request.body).catch((error: unknown) => bodyErrors.push(error));
        return { data: { role: 'node', version: 'v' } };
      },
    });
    const result = await outcome(left.request('ping', {}, { body, timeoutMs: 5_000 }));
    const error = errorOf(result);
    t.ok(error, `${name}: the request fails with a DfsError: ${describe(result)}`);
    t.match(error?.message ?? '', message, name);
    t.ok(left.closed, `${name}: the sender closed the connection (its framing is broken)`);
    t.ok(await until(() => closes.right.length > 0), `${name}: the receiver closed too`);
    t.equal(closes.right[0]?.code, 'UNAVAILABLE', `${name}: receiver closed with UNAVAILABLE`);
    if (bodyErrors.length > 0) t.match(bodyErrors[0], { code: 'UNAVAILABLE' }, `${name}: the receiver's body stream errored`);
  }
});

t.test('channel: a source longer than announced never delivers a whole body (its last chunk is held back until the source is known to end)', async (t) => {
  for (const transport of TRANSPORTS) {
    for (const [name, chunks, bytes] of [
      ['a file that grew (1 MiB announced, 3 chunks of 512 KiB)', [Buffer.alloc(512 * KIB, 1), Buffer.alloc(512 * KIB, 2), Buffer.alloc(512 * KIB, 3)], MIB],
      ['exactly the announced bytes, then one more', [Buffer.alloc(1000, 1), Buffer.alloc(1, 2)], 1000],
    ] as const) {
      const received: { handed: number; complete: number; failed: number } = { handed: 0, complete: 0, failed: 0 };
      const { left, closes } = await connect(t, {
        transport,
        handler: async (request) => {
          if (!request.body) return { data: { role: 'node', version: 'v' } };
          received.handed++;
          await digest(request.body).then(() => received.complete++, () => received.failed++);
          return { data: { role: 'node', version: 'v' } };
        },
      });
      const result = await outcome(left.request('ping', {}, { body: { stream: Readable.from(chunks), bytes }, timeoutMs: 5_000 }));
      t.match(errorOf(result)?.message ?? '', /longer than the announced/, `${transport}, ${name}: the request fails`);
      // Once the receiver has closed, no body can start; once every body it handed out has ended, none can complete.
      t.ok(await until(() => closes.right.length > 0 && received.complete + received.failed === received.handed), `${transport}, ${name}: the receiver closed and every body it handed out ended`);
      t.equal(received.complete, 0, `${transport}, ${name}: the receiver never saw a whole body`);
    }
  }
  const empty = await connect(t, { handler: async () => ({ data: { role: 'node', version: 'v' } }) });
  const announcedEmpty = await outcome(empty.left.request('ping', {}, { body: { stream: Readable.from([Buffer.alloc(10)]), bytes: 0 }, timeoutMs: 5_000 }));
  t.match(errorOf(announcedEmpty)?.message ?? '', /longer than the announced 0 bytes/, 'a body announced empty that is not: refused before its frame is sent');
  t.notOk(empty.left.closed, 'and the connection goes on (nothing was sent)');
  t.same((await empty.left.request('ping', {})).data, { role: 'node', version: 'v' }, 'the next request works');
});

t.test("channel: the peer closing mid-body errors the receiver's body stream with UNAVAILABLE (memory and TCP)", async (t) => {
  for (const transport of TRANSPORTS) {
    const sent = generated(32 * MIB);
    const connected: { value?: Connected } = {};
    const bodyResult: { read: number; error?: unknown } = { read: 0 };
    const { left, closes } = (connected.value = await connect(t, {
      transport,
      handler: async (request) => {
        try {
          for await (const chunk of request.body as AsyncIterable<Buffer>) {
            bodyResult.read += chunk.length;
            if (bodyResult.read >= 2 * MIB) connected.value?.leftSocket.destroy();
          }
        } catch (error) {
          bodyResult.error = error;
        }
        return { data: { role: 'node', version: 'v' } };
      },
    }));
    const result = await outcome(left.request('ping', {}, { body: sent.body, timeoutMs: 5_000 }));
    t.equal(errorOf(result)?.code, 'UNAVAILABLE', `${transport}: the sender's request: ${describe(result)}`);
    t.ok(await until(() => bodyResult.error !== undefined), `${transport}: the body stream ended with an error`);
    t.ok(bodyResult.error instanceof DfsError, `${transport}: a DfsError`);
    t.match(bodyResult.error, { code: 'UNAVAILABLE' }, `${transport}: UNAVAILABLE`);
    t.ok(bodyResult.read < 32 * MIB, `${transport}: read ${bodyResult.read} bytes before the cut`);
    t.equal(closes.right[0]?.code, 'UNAVAILABLE', `${transport}: the receiver closed with UNAVAILABLE`);
  }
});

t.test('channel: a handler that ignores a body does not stop the frames after it', async (t) => {
  const { left, closes } = await connect(t, {
    handler: async (request) => {
      if (request.type === 'join') return { data: { nodeId: 'ignored', certPem: 'c', caPem: 'c' } };
      return hashing(request);
    },
  });
  for (const bytes of [1, 3 * MIB, 10 * MIB]) {
    const ignored = generated(bytes);
    const response = await left.request('join', join('s'), { body: ignored.body, timeoutMs: 5_000 });
    t.equal(response.data.nodeId, 'ignored', `${bytes} bytes: the request with the ignored body is answered`);
    const pings = await Promise.all([1, 2, 3].map(() => outcome(left.request('ping', {}, { timeoutMs: 5_000 }))));
    const answers = pings.map((result) => ('value' in result ? result.value.data : describe(result)));
    t.same(answers, [1, 2, 3].map(() => ({ role: 'node', version: 'none 0' })), `${bytes} bytes: requests after it are answered`);
    const next = generated(MIB + 1);
    t.equal((await left.request('ping', {}, { body: next.body, timeoutMs: 5_000 })).data.version, next.sha256, `${bytes} bytes: the next body arrives intact`);
  }
  t.same(closes, { left: [], right: [] });
});

t.test('channel: a handler that destroys a body part-way does not stop the frames after it', async (t) => {
  const { left, closes } = await connect(t, {
    handler: async (request) => {
      if (request.type !== 'join') return hashing(request);
      const body = request.body;
      if (body) {
        // Wait until the body's buffer is full, so the channel has paused the socket for it.
        await until(() => body.readableLength >= BODY_BUFFER_BYTES);
        body.destroy();
      }
      return { data: { nodeId: 'destroyed', certPem: 'c', caPem: 'c' } };
    },
  });
  const dropped = generated(8 * MIB);
  const first = await outcome(left.request('join', join('s'), { body: dropped.body, timeoutMs: 1_000 }));
  t.same('value' in first ? first.value.data : describe(first), { nodeId: 'destroyed', certPem: 'c', caPem: 'c' }, 'the request with the destroyed body is answered');
  const ping = await outcome(left.request('ping', {}, { timeoutMs: 1_000 }));
  t.same('value' in ping ? ping.value.data : describe(ping), { role: 'node', version: 'none 0' }, 'a request after it is answered');
  t.same(closes, { left: [], right: [] });
});

// ---------------------------------------------------------------------------------------------
// Messages too large for a frame: refused with an error, never a crash or a leak.

t.test('channel: a request too large for a frame is refused at once and leaves no timer behind', async (t) => {
  const { left } = await connect(t, { handler: pong });
  const timers = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
  const before = timers();
  const huge = await outcome(left.request('join', { ...join('s'), csrPem: 'x'.repeat(FRAME_BYTES_MAX) }, { timeoutMs: 60_000 }));
  t.equal(errorOf(huge)?.code, 'BAD_REQUEST', `oversized: ${describe(huge)}`);
  const negative = await outcome(left.request('ping', {}, { body: { stream: Readable.from([]), bytes: -1 }, timeoutMs: 60_000 }));
  t.equal(errorOf(negative)?.code, 'BAD_REQUEST', `negative body length: ${describe(negative)}`);
  t.equal(timers() - before, 0, 'no request timer is left running');
  t.same((await left.request('ping', {})).data, { role: 'master', version: 'test' }, 'the channel still works');
});

t.test('channel: a reply too large for a frame reaches the requester as an error, with no unhandled rejection', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.prependListener('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  const { left, right } = await connect(t, {
    handler: async () => ({ data: { role: 'master', version: 'x'.repeat(FRAME_BYTES_MAX) } }),
  });
  const bugs: unknown[] = [];
  right.on('bug', (error: unknown) => bugs.push(error));
  const result = await outcome(left.request('ping', {}, { timeoutMs: 1_000 }));
  await new Promise((resolve) => setTimeout(resolve, 10));
  const code: ErrorCode | undefined = errorOf(result)?.code;
  t.equal(code, 'INTERNAL', `answered with INTERNAL, not left to time out: ${describe(result)}`);
  t.same(unhandled.map((reason) => (reason instanceof Error ? reason.message : String(reason))), [], 'no unhandled rejection');
  t.equal(bugs.length, 1, "the oversized reply is reported as a 'bug'");
});

// ---------------------------------------------------------------------------------------------
// A body's error never escapes as an uncaught exception: whether its reader has not attached yet, reads
// it, or has let it go, the peer's reset ends that transfer with an error the reader can see, not the process.

t.test('channel: the peer resetting mid-body before the handler reads it, after it let go, or while nobody reads it: no uncaught error; a late reader sees UNAVAILABLE (memory and TCP)', async (t) => {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown): void => {
    uncaught.push(error);
  };
  // tap's own handler would fail the test anyway; this one records what would have killed a role.
  process.prependListener('uncaughtException', onUncaught);
  t.teardown(() => process.off('uncaughtException', onUncaught));
  for (const transport of TRANSPORTS) {
    for (const reader of ['late', 'detached', 'never'] as const) {
      const connected: { value?: Connected } = {};
      const seen: { error?: unknown; bodyRead: number; handled: boolean } = { bodyRead: 0, handled: false };
      const { left } = (connected.value = await connect(t, {
        transport,
        handler: async (request) => {
          const body = request.body;
          if (!body) return { data: { role: 'node', version: 'no body' } };
          if (reader === 'detached') {
            // Reads a little, stops iterating (which lets go of the body), then the peer resets.
            for await (const chunk of body as AsyncIterable<Buffer>) {
              seen.bodyRead += chunk.length;
              break;
            }
          }
          // The peer goes away while nobody listens to the body (a role awaiting a disk or a lock).
          connected.value?.leftSocket.destroy(new Error('read ECONNRESET'));
          await new Promise((resolve) => setTimeout(resolve, 50)); // a role busy elsewhere (over TCP the reset is seen only once the paused body is read)
          if (reader === 'late') {
            try {
              for await (const chunk of body as AsyncIterable<Buffer>) seen.bodyRead += chunk.length;
            } catch (error) {
              seen.error = error;
            }
          }
          seen.handled = true;
          return { data: { role: 'node', version: 'v' } };
        },
      }));
      const result = await outcome(left.request('ping', {}, { body: generated(16 * MIB).body, timeoutMs: 5_000 }));
      t.ok(errorOf(result), `${transport}, reader ${reader}: the sender's request failed: ${describe(result)}`);
      t.ok(await until(() => seen.handled), `${transport}, reader ${reader}: the handler ran to its end after the reset`);
      if (reader === 'late') t.match(seen.error, { code: 'UNAVAILABLE' }, `${transport}: the late reader sees the interruption as UNAVAILABLE`);
    }
  }
  t.same(uncaught.map((error) => (error instanceof Error ? error.message : String(error))), [], 'no uncaught exception');
});

t.test('channel: an outgoing body is the channel\'s once handed over: one that errors while queued, or that cannot be sent, is destroyed, never an uncaught error', async (t) => {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown): void => {
    uncaught.push(error);
  };
  process.prependListener('uncaughtException', onUncaught);
  t.teardown(() => process.off('uncaughtException', onUncaught));
  const { left } = await connect(t, { handler: hashing });
  // Queued behind a large body, the second one fails before the channel reads it.
  const large = generated(16 * MIB);
  const failing = new Readable({ read() {} });
  const first = outcome(left.request('ping', {}, { body: large.body, timeoutMs: 5_000 }));
  const second = outcome(left.request('ping', {}, { body: { stream: failing, bytes: 10 }, timeoutMs: 5_000 }));
  failing.destroy(new Error('read EIO'));
  t.same('value' in (await first) ? 'answered' : describe(await first), 'answered', 'the body ahead of it is sent and answered');
  const secondError = errorOf(await second);
  t.ok(secondError, `the request whose body failed fails: ${describe(await second)}`);
  // A closed channel destroys the body it cannot send.
  const unsent = generated(MIB);
  left.close();
  t.ok(errorOf(await outcome(left.request('ping', {}, { body: unsent.body }))), 'a request on a closed channel fails');
  t.ok(unsent.body.stream.destroyed, 'and its body is destroyed, not left open');
  // A destroyed stream emits 'error' (if any) and then 'close': once both have closed, an error without a listener would have been thrown.
  for (const stream of [failing, unsent.body.stream]) if (!stream.closed) await once(stream, 'close');
  t.same(uncaught.map((error) => (error instanceof Error ? error.message : String(error))), [], 'no uncaught exception');
});

t.test('channel: one principal\'s flood waits its turn (at most PRINCIPAL_REQUESTS_IN_FLIGHT_MAX running over all its connections) while another principal goes straight in', async (t) => {
  let running = 0;
  let most = 0;
  const release: (() => void)[] = [];
  const handler: Handler = async (request) => {
    if (request.channel.remoteHost === '10.9.9.9') {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => release.push(resolve));
      running--;
    }
    return { data: { role: 'master', version: request.channel.remoteHost } };
  };
  const open = async (remoteHost: string): Promise<Channel> => {
    const [near, far] = duplexPair();
    const client = new Channel(near, { peer: { kind: 'master' }, label: 'server' });
    const server = new Channel(far, { peer: { kind: 'anonymous' }, label: 'client', remoteHost, service: service('master', handler) });
    t.teardown(() => {
      client.close();
      server.close();
    });
    return client;
  };
  const flooders = await Promise.all([1, 2, 3].map(() => open('10.9.9.9')));
  const flood = flooders.flatMap((client) => Array.from({ length: 200 }, () => client.request('ping', {}, { timeoutMs: 20_000 })));
  t.ok(await until(() => running === PRINCIPAL_REQUESTS_IN_FLIGHT_MAX), `the flood's first ${PRINCIPAL_REQUESTS_IN_FLIGHT_MAX} run`);
  const other = await open('10.1.1.1');
  t.same((await other.request('ping', {}, { timeoutMs: 1_000 })).data, { role: 'master', version: '10.1.1.1' }, 'another address is answered while the flood waits');
  t.equal(most, PRINCIPAL_REQUESTS_IN_FLIGHT_MAX, 'the flood ran no more than that at once, over its three connections, while another was served');
  // Let the flood drain: every waiting request runs as a turn frees up.
  const drained = (async () => {
    while (release.length > 0 || running > 0) {
      for (const resolve of release.splice(0)) resolve();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  const answers = await Promise.all(flood);
  await drained;
  t.equal(answers.length, 600, 'all 600 were answered in the end');
  t.equal(most, PRINCIPAL_REQUESTS_IN_FLIGHT_MAX, `never more than ${PRINCIPAL_REQUESTS_IN_FLIGHT_MAX} ran at once`);
});

/** A file of `bytes` random bytes, open for reading, and the SHA-256 of its bytes from `start` on. */
async function regionFile(t: Teardown, bytes: number, start: number): Promise<{ handle: FileHandle; sha256: string }> {
  const file = path.join(await tempDir(t), 'blob');
  const bytesOf = randomBytes(bytes);
  await fs.writeFile(file, bytesOf);
  const handle = await fs.open(file, 'r');
  t.teardown(() => handle.close().catch(() => undefined));
  return { handle, sha256: createHash('sha256').update(bytesOf.subarray(start)).digest('hex') };
}

t.test('channel: a file region body is read into two buffers used in turn, sent intact, and its file closed', async (t) => {
  for (const transport of TRANSPORTS) {
    const start = 1000;
    const bytes = 5 * MIB + 3;
    const { handle, sha256 } = await regionFile(t, start + bytes, start);
    const region = new FileRegion(handle, start, bytes, MIB);
    const buffers = new Set<ArrayBufferLike>();
    const readInto = region.readInto.bind(region);
    region.readInto = (buffer) => (buffers.add(buffer.buffer), readInto(buffer));
    const closed = once(region, 'close');
    const { left } = await connect(t, {
      transport,
      handler: async () => ({ data: { nodeId: 'n1', certPem: 'c', caPem: 'c' }, body: { stream: region, bytes } }),
    });
    const response = await left.request('join', join('region'));
    t.ok(response.body, `${transport}: a body stream`);
    if (response.body) t.same(await digest(response.body), { sha256, bytes }, `${transport}: ${bytes} bytes from byte ${start} on, intact`);
    t.equal(buffers.size, 2, `${transport}: 6 chunks read into 2 buffers, not a fresh one each`);
    await closed;
    t.equal(handle.fd, -1, `${transport}: the file is closed once sent`);
  }
});

t.test('channel: a file region whose file ends early never delivers a whole body; a failed read fails the region', async (t) => {
  const { handle } = await regionFile(t, 3 * MIB, 0);
  const received = { complete: 0, failed: 0 };
  const { left, closes } = await connect(t, {
    handler: async (request) => {
      if (request.body) await digest(request.body).then(() => received.complete++, () => received.failed++);
      return { data: { role: 'node', version: 'v' } };
    },
  });
  const short = new FileRegion(handle, 0, 4 * MIB, MIB);
  const result = await outcome(left.request('ping', {}, { body: { stream: short, bytes: 4 * MIB }, timeoutMs: 5_000 }));
  t.match(errorOf(result)?.message ?? '', /ended after 3145728 of 4194304 bytes/, 'the request fails: the file held 3 of the 4 MiB announced');
  t.ok(await until(() => closes.right.length > 0 && received.failed === 1), 'the receiver closed, its body failed');
  t.equal(received.complete, 0, 'no whole body arrived');
  t.ok(short.destroyed, 'the region is let go');

  const { handle: gone } = await regionFile(t, MIB, 0);
  await gone.close();
  const broken = new FileRegion(gone, 0, MIB, MIB);
  const failures: Error[] = [];
  broken.on('error', (error) => failures.push(error));
  const next = await connect(t, { handler: async () => ({ data: { role: 'node', version: 'v' } }) });
  t.ok(errorOf(await outcome(next.left.request('ping', {}, { body: { stream: broken, bytes: MIB }, timeoutMs: 5_000 }))), 'a region that cannot be read fails its request');
  t.ok(await until(() => failures.length === 1), 'and the region itself errors, as a stream read through would (a node reports it)');
  t.match(failures[0], { code: 'EBADF' });
});

t.test('a file region read as a plain stream gives its bytes and closes its file', async (t) => {
  const { handle, sha256 } = await regionFile(t, 3 * MIB + 5, 7);
  const region = new FileRegion(handle, 7, 3 * MIB - 2, MIB);
  t.same(await digest(region), { sha256, bytes: 3 * MIB - 2 }, 'from byte 7 to the end');
  t.equal(handle.fd, -1, 'closed at its end');
});
