// Who someone is, bounded against guessing and floods: the login limiter counts a guess before its
// password is hashed and holds per user and address, per user and per address; its memory stays bounded; the
// password hasher runs few hashes at once and refuses the excess; sessions are capped per user and per address
// and never end another user's session to make room.

import t from 'tap';
import { LOGIN_FAILURES_MAX, LOGIN_RETRY_AFTER_MS, LOGIN_LIMITER_KEYS_MAX, LOGIN_SOURCE_FAILURES_FREE, LOGIN_USER_FAILURES_MAX, LOGIN_USER_FAILURE_WINDOW_MS, PASSWORD_HASHES_IN_FLIGHT_MAX, PASSWORD_HASHES_QUEUED_MAX, SESSION_IDLE_MS, SESSIONS_PER_SOURCE_MAX, SESSIONS_PER_USER_MAX } from '../../src/limits';
import { DfsError } from '../../src/wire/errors';
import { LoginLimiter, PasswordHasher, Sessions, type LoginAttempt } from '../../src/master/users';

function codeOf(run: () => unknown): string {
  try {
    run();
    return 'OK';
  } catch (error) {
    return error instanceof DfsError ? error.code : String(error);
  }
}

t.test('login limiter: guesses in flight count; the 6th concurrent guess for a user from one address is refused before any hash', (t) => {
  const limiter = new LoginLimiter(() => 1_000_000);
  const outcomes = Array.from({ length: 200 }, () => codeOf(() => limiter.attempt('alice', '10.0.0.9')));
  t.equal(outcomes.filter((code) => code === 'OK').length, LOGIN_FAILURES_MAX, `${LOGIN_FAILURES_MAX} guesses get through, none of them settled yet`);
  t.equal(outcomes.filter((code) => code === 'RATE_LIMITED').length, 200 - LOGIN_FAILURES_MAX, 'the rest are refused at once');
  t.end();
});

t.test('login limiter: a refusal caused by tries still being checked says so; once they failed, it names the lockout', (t) => {
  const limiter = new LoginLimiter(() => 1_000_000);
  const tries = Array.from({ length: LOGIN_FAILURES_MAX }, () => limiter.attempt('alice', '10.0.0.9'));
  t.throws(() => limiter.attempt('alice', '10.0.0.9'), { code: 'RATE_LIMITED', message: `${LOGIN_FAILURES_MAX} login(s) from this address are still being checked; try again once they are answered`, retryAfterMs: LOGIN_RETRY_AFTER_MS });
  for (const attempt of tries) {
    limiter.failed(attempt);
    limiter.failed(attempt); // settling twice changes nothing
  }
  t.throws(() => limiter.attempt('alice', '10.0.0.9'), { code: 'RATE_LIMITED', message: /^too many failed logins for "alice" from this address; try again in \d+ s$/, retryAfterMs: undefined }, 'a lockout asks for no retry');
  const wire = DfsError.fromWire(new DfsError('RATE_LIMITED', 'x', { retryAfterMs: 200 }).toWire());
  t.equal(wire.retryAfterMs, 200, 'retryAfterMs crosses the wire');
  for (const bad of [-1, 0, 1.5, 60_001, '200']) t.equal(DfsError.fromWire({ code: 'RATE_LIMITED', message: 'x', retryAfterMs: bad }).retryAfterMs, undefined, `a peer's ${JSON.stringify(bad)} is ignored`);
  t.end();
});

t.test('login limiter: a user guessed at from many addresses is capped, for one short window after the guessing stops', (t) => {
  let nowMs = 1_000_000;
  const limiter = new LoginLimiter(() => nowMs);
  let accepted = 0;
  for (let source = 0; source < 200; source++) {
    for (let guess = 0; guess < LOGIN_FAILURES_MAX; guess++) if (codeOf(() => limiter.attempt('alice', `10.0.${source}.1`)) === 'OK') accepted++;
  }
  t.equal(accepted, LOGIN_USER_FAILURES_MAX, `${LOGIN_USER_FAILURES_MAX} guesses in all, from 200 addresses`);
  t.equal(codeOf(() => limiter.attempt('alice', '192.168.1.1')), 'RATE_LIMITED', 'the real user is out while the window lasts');
  t.equal(codeOf(() => limiter.attempt('bob', '192.168.1.1')), 'OK', 'another user is not');
  nowMs += LOGIN_USER_FAILURE_WINDOW_MS + 1;
  let real: LoginAttempt | undefined;
  t.equal(codeOf(() => (real = limiter.attempt('alice', '192.168.1.1'))), 'OK', 'one window after the guessing stopped, the real user may try again');
  if (real !== undefined) limiter.succeeded(real);
  t.equal(codeOf(() => limiter.attempt('alice', '192.168.1.1')), 'OK', 'and a success counts for nothing');
  t.end();
});

t.test('login limiter: one address spraying user names backs off exponentially', (t) => {
  let nowMs = 1_000_000;
  const limiter = new LoginLimiter(() => nowMs);
  let accepted = 0;
  for (let name = 0; name < 1000; name++) if (codeOf(() => limiter.attempt(`user${name}`, '10.0.0.66')) === 'OK') accepted++;
  t.equal(accepted, LOGIN_SOURCE_FAILURES_FREE, 'the free tries, then nothing at once');
  nowMs += 1_000;
  t.equal(codeOf(() => limiter.attempt('another', '10.0.0.66')), 'OK', 'one more after 1 s');
  nowMs += 1_000;
  t.equal(codeOf(() => limiter.attempt('another2', '10.0.0.66')), 'RATE_LIMITED', 'the next waits 2 s');
  nowMs += 1_000;
  t.equal(codeOf(() => limiter.attempt('another2', '10.0.0.66')), 'OK', 'and gets through after them');
  t.equal(codeOf(() => limiter.attempt('someone', '10.0.0.67')), 'OK', 'another address is not slowed');
  t.end();
});

t.test('login limiter: a try withdrawn (the master was busy) does not count', (t) => {
  const limiter = new LoginLimiter(() => 1_000_000);
  for (let index = 0; index < 20; index++) limiter.withdraw(limiter.attempt('alice', '10.0.0.1'));
  t.equal(codeOf(() => limiter.attempt('alice', '10.0.0.1')), 'OK', 'twenty withdrawn tries leave the budget whole');
  t.end();
});

t.test('login limiter: 600,000 unique names from 600,000 addresses keep its books bounded', (t) => {
  let nowMs = 1_000_000;
  const limiter = new LoginLimiter(() => nowMs);
  for (let index = 0; index < 600_000; index++) {
    limiter.attempt(`u${index}`, `s${index}`);
    if (index % 1000 === 0) nowMs++;
  }
  const books = limiter as unknown as Record<'perUserSource' | 'perUser' | 'perSource', Map<string, unknown>>;
  for (const book of ['perUserSource', 'perUser', 'perSource'] as const) t.ok(books[book].size <= LOGIN_LIMITER_KEYS_MAX, `${book}: ${books[book].size} keys`);
  t.end();
});

t.test('password hasher: a flood gets PASSWORD_HASHES_IN_FLIGHT_MAX running and a short queue; the rest are refused at once', async (t) => {
  const hasher = new PasswordHasher();
  const secret = await hasher.hash('right password');
  const guesses = Array.from({ length: 100 }, () => hasher.matches(secret, 'wrong').then((ok) => (ok ? 'matched' : 'wrong'), (error: unknown) => (error instanceof DfsError ? error.code : String(error))));
  const results = await Promise.all(guesses);
  t.equal(results.filter((result) => result === 'wrong').length, PASSWORD_HASHES_IN_FLIGHT_MAX + PASSWORD_HASHES_QUEUED_MAX, 'those running and queued are checked');
  t.equal(results.filter((result) => result === 'RATE_LIMITED').length, 100 - PASSWORD_HASHES_IN_FLIGHT_MAX - PASSWORD_HASHES_QUEUED_MAX, 'the rest refused');
  t.equal(await hasher.matches(secret, 'right password'), true, 'afterwards the right password matches');
  t.equal(await hasher.matches(undefined, 'right password'), false, 'no secret (an unknown user): never a match');
  t.end();
});

t.test('sessions: capped per user and per address, never at another user\'s cost; unused ones end', (t) => {
  let nowMs = 1_000_000;
  const sessions = new Sessions(() => nowMs);
  const alice = sessions.open(2, 'alice', false, '10.0.0.1');
  for (let index = 0; index < SESSIONS_PER_SOURCE_MAX + 50; index++) sessions.open(3, 'shared', false, '10.0.0.66');
  t.equal(sessions.resume(alice).user, 'alice', 'alice\'s session survives a flood of shared logins');
  t.ok(sessions.size <= SESSIONS_PER_SOURCE_MAX + 1, `${sessions.size} sessions: one address holds at most ${SESSIONS_PER_SOURCE_MAX}`);
  for (let index = 0; index < SESSIONS_PER_SOURCE_MAX; index++) sessions.open(4, 'bob', false, '10.0.1.1');
  t.equal(codeOf(() => sessions.open(3, 'shared', false, '10.0.1.1')), 'RATE_LIMITED', 'an address full of bob\'s sessions refuses a shared login rather than end bob\'s');
  for (let source = 0; source < SESSIONS_PER_USER_MAX / SESSIONS_PER_SOURCE_MAX + 2; source++) {
    for (let index = 0; index < SESSIONS_PER_SOURCE_MAX; index++) sessions.open(3, 'shared', false, `10.1.${source}.1`);
  }
  t.equal(sessions.resume(alice).user, 'alice', 'alice\'s session survives shared logins from many addresses');
  t.ok(sessions.size <= SESSIONS_PER_USER_MAX + SESSIONS_PER_SOURCE_MAX + 1, `${sessions.size} sessions: shared holds at most ${SESSIONS_PER_USER_MAX}`);
  nowMs += SESSION_IDLE_MS - 1;
  t.equal(sessions.resume(alice).user, 'alice', 'a session used within the idle time lives on');
  nowMs += SESSION_IDLE_MS + 1;
  t.equal(codeOf(() => sessions.resume(alice)), 'SESSION_EXPIRED', 'one unused past it has ended');
  sessions.open(5, 'carol', false, '10.9.9.9');
  t.equal(sessions.size, 1, 'and the expired ones are swept when a session opens');
  t.end();
});
