// Data-plane tickets: a ticket the master signed works once, at the node it names, for the blob, the
// operation and the bytes it names, until it expires; anything forged, truncated, oversized or
// malformed is UNAUTHENTICATED before its claims are believed; the previous key still works after a
// rotation; the nonce memory forgets exactly the expired tickets and refuses rather than forgets
// when full. The clock is injected. Random lifetimes are seeded: DFS_TEST_SEED=<seed> replays.

import { createHmac } from 'node:crypto';
import t, { type Test } from 'tap';
import { TICKET_CHARS_MAX, TICKET_NONCES_MAX, TICKET_TTL_MS_DEFAULT, TICKET_TTL_MS_MAX } from '../../src/limits';
import { isDfsError, type ErrorCode } from '../../src/wire/errors';
import { blobsSubject, chainSubject, createTicketKey, NO_CHAIN, nodeTicketKey, signTicket, TicketVerifier, type TicketClaims, type TicketExpectation, type TicketRequest } from '../../src/trust/ticket';
import { createBlobId, isBlobId } from '../../src/store/blobs';
import { prng, seed } from '../helpers/random';

t.comment(`seed ${seed} (replay with DFS_TEST_SEED=${seed})`);
const random = prng(seed);

const START_MS = 1_700_000_000_000;
const NODE = 'node-1';

interface Setup {
  key: Buffer;
  clock: { nowMs: number };
  verifier: TicketVerifier;
  request: TicketRequest;
  expectation: TicketExpectation;
}

/** The rest of a chain the put tickets here name. */
const CHAIN = chainSubject([{ nodeId: 'node-2', address: '10.0.0.2:7071' }, { nodeId: 'node-3', address: '10.0.0.3:7071' }]);

function setup(keys?: () => Buffer[]): Setup {
  const key = createTicketKey();
  const clock = { nowMs: START_MS };
  const verifier = new TicketVerifier(keys ?? (() => [key]), NODE, () => clock.nowMs);
  const blobId = createBlobId();
  const request: TicketRequest = { blobId, op: 'put', bytesMax: 1000, nodeId: NODE, chain: CHAIN, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs: START_MS };
  return { key, clock, verifier, request, expectation: { blobId, op: 'put', bytes: 1000, chain: CHAIN } };
}

function refused(t: Test, verify: () => unknown, code: ErrorCode, what: string): void {
  try {
    verify();
    t.fail(`${what}: expected ${code}, it was accepted`);
  } catch (error) {
    t.ok(isDfsError(error, code), `${what}: ${code} (got ${(error as Error).message})`);
  }
}

/** A ticket with any payload, correctly MACed: what a buggy master or a stolen key could produce. */
function forge(key: Buffer, payload: unknown): string {
  const text = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${text}.${createHmac('sha256', key).update(text).digest('base64url')}`;
}

function claimsOf(ticket: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(ticket.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

t.test('a valid ticket verifies once and returns its claims', (t) => {
  const { key, verifier, request, expectation } = setup();
  const ticket = signTicket(key, request);
  t.comment(`a ticket is ${ticket.length} characters`);
  t.ok(ticket.length < TICKET_CHARS_MAX / 2, 'well within the length bound');
  const claims: TicketClaims = verifier.verify(ticket, expectation);
  t.same({ ...claims, nonce: '' }, { blobId: request.blobId, op: 'put', bytesMax: 1000, nodeId: NODE, chain: CHAIN, expiresMs: START_MS + TICKET_TTL_MS_DEFAULT, nonce: '' });
  t.match(claims.nonce, /^[A-Za-z0-9_-]{22}$/);
  refused(t, () => verifier.verify(ticket, expectation), 'UNAUTHENTICATED', 'the same ticket again (replay)');
  t.not(signTicket(key, request), signTicket(key, request), 'two tickets for the same transfer differ (nonce)');
  const smaller = signTicket(key, request);
  t.ok(verifier.verify(smaller, { ...expectation, bytes: 0 }), 'fewer bytes than the limit are allowed');
  t.end();
});

t.test('forged, truncated, garbage and oversized tickets are UNAUTHENTICATED', (t) => {
  const { key, verifier, request, expectation } = setup();
  const ticket = signTicket(key, request);
  const [payload = '', mac = ''] = ticket.split('.');
  const flip = (text: string, index: number): string => text.slice(0, index) + (text[index] === 'A' ? 'B' : 'A') + text.slice(index + 1);
  const richer = Buffer.from(JSON.stringify({ ...claimsOf(ticket), bytesMax: 10 ** 12 })).toString('base64url');
  const cases: Array<[string, unknown]> = [
    ['a flipped MAC character', `${payload}.${flip(mac, 5)}`],
    ['the MAC of another key', signTicket(createTicketKey(), request)],
    ['claims rewritten under the old MAC', `${richer}.${mac}`],
    ['a flipped payload character', `${flip(payload, 10)}.${mac}`],
    ['the last character cut', ticket.slice(0, -1)],
    ['cut in half', ticket.slice(0, ticket.length >> 1)],
    ['the payload alone', payload],
    ['the MAC alone', `.${mac}`],
    ['a second MAC appended', `${ticket}.${mac}`],
    ['empty', ''],
    ['missing', undefined],
    ['a number', 42],
    ['an object', { ticket }],
    ['garbage', 'hello.world'],
    ['dots', '...'],
    ['non-ASCII', `${payload}.${mac.slice(0, -1)}é`],
    ['oversized', `${'A'.repeat(TICKET_CHARS_MAX)}.${mac}`],
    ['huge', 'A'.repeat(10 * 1024 * 1024)],
    ['a non-canonical MAC spelling', `${payload}.${mac.slice(0, -1)}${String.fromCharCode(mac.charCodeAt(mac.length - 1) ^ 1)}`],
  ];
  for (const [what, bad] of cases) refused(t, () => verifier.verify(bad, expectation), 'UNAUTHENTICATED', what);
  t.ok(verifier.verify(ticket, expectation), 'the genuine ticket still works after all that');
  t.end();
});

t.test('a correctly signed payload is still checked field by field', (t) => {
  const { key, verifier, request, expectation } = setup();
  const good = claimsOf(signTicket(key, request));
  const cases: Array<[string, unknown]> = [
    ['an extra field', { ...good, admin: true }],
    ['a missing field', { ...good, nonce: undefined }],
    ['another format version', { ...good, v: 1 }],
    ['a malformed chain', { ...good, chain: 'node-2@10.0.0.2:7071' }],
    ['no chain', { ...good, chain: undefined }],
    ['an unknown op', { ...good, op: 'delete' }],
    ['an uppercase blob id', { ...good, blobId: request.blobId.toUpperCase() }],
    ['a path as blob id', { ...good, blobId: '../../../../etc/passwd' }],
    ['a negative byte limit', { ...good, bytesMax: -1 }],
    ['a fractional byte limit', { ...good, bytesMax: 1.5 }],
    ['a byte limit as text', { ...good, bytesMax: '1000' }],
    ['an unsafe byte limit', { ...good, bytesMax: 2 ** 60 }],
    ['a malformed node id', { ...good, nodeId: 'Node 1' }],
    ['an expiry as text', { ...good, expiresMs: String(good.expiresMs) }],
    ['a short nonce', { ...good, nonce: 'abc' }],
    ['an array', [good]],
    ['null', null],
  ];
  for (const [what, payload] of cases) refused(t, () => verifier.verify(forge(key, payload), expectation), 'UNAUTHENTICATED', what);
  t.ok(verifier.verify(forge(key, good), expectation), 'the same route accepts the unaltered claims');
  t.end();
});

t.test('wrong node and expiry are UNAUTHENTICATED; wrong op, blob or byte count are FORBIDDEN', (t) => {
  const { key, clock, verifier, request, expectation } = setup();
  refused(t, () => verifier.verify(signTicket(key, { ...request, nodeId: 'node-2' }), expectation), 'UNAUTHENTICATED', 'a ticket for another node');
  refused(t, () => verifier.verify(signTicket(key, request), { ...expectation, op: 'get' }), 'FORBIDDEN', 'a put ticket used to get');
  refused(t, () => verifier.verify(signTicket(key, { ...request, op: 'replicate' }), expectation), 'FORBIDDEN', 'a replicate ticket used to put');
  refused(t, () => verifier.verify(signTicket(key, request), { ...expectation, blobId: createBlobId() }), 'FORBIDDEN', 'a ticket for another blob');
  refused(t, () => verifier.verify(signTicket(key, request), { ...expectation, bytes: 1001 }), 'FORBIDDEN', 'one byte over the limit');
  refused(t, () => verifier.verify(signTicket(key, request), { ...expectation, bytes: Number.NaN }), 'BAD_REQUEST', 'a transfer size that is not a number');
  const refusedOnce = signTicket(key, request);
  refused(t, () => verifier.verify(refusedOnce, { ...expectation, op: 'get' }), 'FORBIDDEN', 'misused once');
  t.ok(verifier.verify(refusedOnce, expectation), 'a refused attempt does not use up the ticket');
  const expiring = signTicket(key, { ...request, ttlMs: 1000 });
  clock.nowMs = START_MS + 1000;
  refused(t, () => verifier.verify(expiring, expectation), 'UNAUTHENTICATED', 'expired at its expiry instant');
  const lasting = signTicket(key, { ...request, ttlMs: 1000, nowMs: clock.nowMs });
  clock.nowMs += 999;
  t.ok(verifier.verify(lasting, expectation), 'valid a millisecond before expiry');
  const future = signTicket(key, { ...request, ttlMs: TICKET_TTL_MS_MAX, nowMs: clock.nowMs + 10 * TICKET_TTL_MS_MAX });
  refused(t, () => verifier.verify(future, expectation), 'UNAUTHENTICATED', 'a ticket expiring far beyond the longest lifetime');
  t.end();
});

t.test('key rotation: the previous key is accepted until it is dropped', (t) => {
  const oldKey = createTicketKey();
  const newKey = createTicketKey();
  let keys = [oldKey];
  const { verifier, request, expectation } = setup(() => keys);
  const beforeRotation = signTicket(oldKey, request);
  const alsoOld = signTicket(oldKey, request);
  keys = [newKey, oldKey];
  t.ok(verifier.verify(beforeRotation, expectation), 'a ticket signed before the rotation');
  t.ok(verifier.verify(signTicket(newKey, request), expectation), 'a ticket signed with the new key');
  keys = [newKey];
  refused(t, () => verifier.verify(alsoOld, expectation), 'UNAUTHENTICATED', 'the old key after it was dropped');
  keys = [];
  refused(t, () => verifier.verify(signTicket(newKey, request), expectation), 'UNAUTHENTICATED', 'a node without keys');
  t.end();
});

t.test('the master cannot sign a ticket with a bad lifetime, key or claims (a bug, not bad input)', (t) => {
  const { key, request } = setup();
  t.throws(() => signTicket(key, { ...request, ttlMs: 0 }), /ttl/);
  t.throws(() => signTicket(key, { ...request, ttlMs: TICKET_TTL_MS_MAX + 1 }), /ttl/);
  t.throws(() => signTicket(key.subarray(0, 16), request), /key/);
  t.throws(() => signTicket(key, { ...request, blobId: '../x' }), /blob id/);
  t.throws(() => signTicket(key, { ...request, bytesMax: -1 }), /byte limit/);
  t.end();
});

t.test('nonce memory: forgets exactly the expired nonces, in any order of expiry', (t) => {
  const { key, clock, verifier, request, expectation } = setup();
  const expiries: number[] = [];
  for (let index = 0; index < 5000; index++) {
    const ttlMs = 1 + Math.floor(random() * 100_000);
    verifier.verify(signTicket(key, { ...request, ttlMs }), expectation);
    expiries.push(START_MS + ttlMs);
  }
  t.equal(verifier.rememberedNonces, 5000);
  let exact = true;
  for (let step = 0; step <= 100; step++) {
    clock.nowMs = START_MS + step * 1000 + Math.floor(random() * 1000);
    // Each check forgets what expired; the ticket it accepts is then remembered too.
    const probe = signTicket(key, { ...request, ttlMs: 1, nowMs: clock.nowMs });
    verifier.verify(probe, expectation);
    const alive = expiries.filter((expiresMs) => expiresMs > clock.nowMs).length + 1;
    if (verifier.rememberedNonces !== alive) exact = false;
    expiries.push(clock.nowMs + 1);
  }
  t.ok(exact, 'after every check, the remembered nonces are exactly the unexpired tickets');
  t.end();
});

t.test('nonce memory: past TICKET_NONCES_MAX live tickets, new ones are RATE_LIMITED, never an unexpired nonce forgotten', (t) => {
  const { key, clock, verifier, request, expectation } = setup();
  const started = process.hrtime.bigint();
  let first: string | undefined;
  for (let index = 0; index < TICKET_NONCES_MAX; index++) {
    const ticket = signTicket(key, request);
    first ??= ticket;
    verifier.verify(ticket, expectation);
  }
  const microseconds = Number(process.hrtime.bigint() - started) / 1e3 / TICKET_NONCES_MAX;
  t.comment(`sign + verify: ${microseconds.toFixed(1)} µs per ticket`);
  t.equal(verifier.rememberedNonces, TICKET_NONCES_MAX);
  refused(t, () => verifier.verify(signTicket(key, request), expectation), 'RATE_LIMITED', 'one more live ticket');
  refused(t, () => verifier.verify(first, expectation), 'UNAUTHENTICATED', 'the first ticket is still remembered (replay)');
  clock.nowMs = START_MS + TICKET_TTL_MS_DEFAULT;
  t.ok(verifier.verify(signTicket(key, { ...request, nowMs: clock.nowMs }), expectation), 'accepted once the others expired');
  t.equal(verifier.rememberedNonces, 1, 'the expired nonces are forgotten');
  t.end();
});

t.test('a clock stepping back does not revive an expired, forgotten ticket', (t) => {
  const { key, clock, verifier, request, expectation } = setup();
  const ticket = signTicket(key, { ...request, ttlMs: 1000 });
  t.ok(verifier.verify(ticket, expectation));
  clock.nowMs = START_MS + 2000;
  t.ok(verifier.verify(signTicket(key, { ...request, nowMs: clock.nowMs }), expectation), 'a later check forgets the first nonce');
  t.equal(verifier.rememberedNonces, 1);
  clock.nowMs = START_MS + 10;
  refused(t, () => verifier.verify(ticket, expectation), 'UNAUTHENTICATED', 'the first ticket after the clock went back');
  t.end();
});

t.test('a put or replicate ticket covers exactly its blobs, in their order (blobsSubject)', (t) => {
  const { key, verifier } = setup();
  const ids = [createBlobId(), createBlobId(), createBlobId()];
  const subject = blobsSubject(ids);
  t.ok(isBlobId(subject), 'the subject has a blob id\'s shape (the claims stay as they are)');
  t.equal(blobsSubject([...ids]), subject, 'the same blobs give the same subject');
  t.not(blobsSubject([ids[1], ids[0], ids[2]] as string[]), subject, 'another order, another subject');
  t.not(blobsSubject(ids.slice(0, 2)), subject, 'fewer blobs, another subject');
  const put = { blobId: subject, op: 'put', bytesMax: 3000, nodeId: NODE, chain: CHAIN, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs: START_MS } as const;
  refused(t, () => verifier.verify(signTicket(key, put), { blobId: blobsSubject(ids.slice(0, 1)), op: 'put', bytes: 1000, chain: CHAIN }), 'FORBIDDEN', 'for one of its blobs alone');
  refused(t, () => verifier.verify(signTicket(key, put), { blobId: subject, op: 'replicate', bytes: 3000, chain: CHAIN }), 'FORBIDDEN', 'a put ticket used to replicate the same blobs');
  refused(t, () => verifier.verify(signTicket(key, { ...put, op: 'replicate' }), { blobId: subject, op: 'put', bytes: 3000, chain: CHAIN }), 'FORBIDDEN', 'a replicate ticket used to put them');
  refused(t, () => verifier.verify(signTicket(key, put), { blobId: subject, op: 'put', bytes: 3001, chain: CHAIN }), 'FORBIDDEN', 'more bytes than the blobs hold');
  t.ok(verifier.verify(signTicket(key, put), { blobId: subject, op: 'put', bytes: 3000, chain: CHAIN }), 'its own blobs are accepted');
  t.end();
});

t.test('a ticket names the chain its node forwards to: another chain, a longer or a shorter one, is FORBIDDEN', (t) => {
  const { key, verifier, request, expectation } = setup();
  const elsewhere = chainSubject([{ nodeId: 'node-2', address: '203.0.113.9:22' }, { nodeId: 'node-3', address: '10.0.0.3:7071' }]);
  refused(t, () => verifier.verify(signTicket(key, request), { ...expectation, chain: elsewhere }), 'FORBIDDEN', 'a member moved to another address');
  refused(t, () => verifier.verify(signTicket(key, request), { ...expectation, chain: chainSubject([{ nodeId: 'node-2', address: '10.0.0.2:7071' }]) }), 'FORBIDDEN', 'a member left out');
  refused(t, () => verifier.verify(signTicket(key, request), { ...expectation, chain: NO_CHAIN }), 'FORBIDDEN', 'no chain at all');
  t.ok(verifier.verify(signTicket(key, request), expectation), 'the chain the master signed is accepted');
  t.end();
});

t.test('each node has its own key, derived from the cluster key: a node cannot sign for another', (t) => {
  const cluster = createTicketKey();
  const mine = nodeTicketKey(cluster, NODE);
  t.same(nodeTicketKey(cluster, NODE), mine, 'the same node, the same key');
  t.notSame(nodeTicketKey(cluster, 'node-2'), mine, 'another node, another key');
  t.notSame(mine, cluster, 'not the cluster key');
  const clock = { nowMs: START_MS };
  const other = new TicketVerifier(() => [nodeTicketKey(cluster, 'node-2')], 'node-2', () => clock.nowMs);
  const blobId = createBlobId();
  // What node-1 could mint with its key, for node-2's blob:
  const minted = signTicket(mine, { blobId, op: 'get', bytesMax: 10, nodeId: 'node-2', chain: NO_CHAIN, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs: START_MS });
  refused(t, () => other.verify(minted, { blobId, op: 'get', bytes: 10, chain: NO_CHAIN }), 'UNAUTHENTICATED', 'node-2 refuses a ticket node-1 signed');
  const genuine = signTicket(nodeTicketKey(cluster, 'node-2'), { blobId, op: 'get', bytesMax: 10, nodeId: 'node-2', chain: NO_CHAIN, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs: START_MS });
  t.ok(other.verify(genuine, { blobId, op: 'get', bytes: 10, chain: NO_CHAIN }), 'and accepts the master\'s');
  t.end();
});
