// Users on the master: scrypt password hashes, sessions bound to tokens, and the rate limit on
// failed logins. The catalog stores users; this module decides who someone is.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { LOGIN_FAILURES_MAX, LOGIN_RETRY_AFTER_MS, LOGIN_FAILURE_WINDOW_MS, LOGIN_LIMITER_KEYS_MAX, LOGIN_SOURCE_BACKOFF_MS_MAX, LOGIN_SOURCE_FAILURES_FREE, LOGIN_SOURCE_FORGET_MS, LOGIN_USER_FAILURES_MAX, LOGIN_USER_FAILURE_WINDOW_MS, PASSWORD_HASHES_IN_FLIGHT_MAX, PASSWORD_HASHES_QUEUED_MAX, SCRYPT_COST, SESSION_IDLE_MS, SESSIONS_MAX, SESSIONS_PER_SOURCE_MAX, SESSIONS_PER_USER_MAX, SESSION_TTL_MS } from '../limits';
import { DfsError } from '../wire/errors';

export const ADMIN_USER = 'admin';
export const SHARED_USER = 'shared';

export interface Secret {
  salt: Buffer;
  hash: Buffer;
}

export interface Session {
  userId: number;
  user: string;
  admin: boolean;
  expiresMs: number;
}

const HASH_BYTES = 32;

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, HASH_BYTES, { N: SCRYPT_COST, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/**
 * Password hashing, bounded: scrypt runs on libuv's thread pool, which the journal's fsyncs need too, so at most
 * PASSWORD_HASHES_IN_FLIGHT_MAX hashes run at once and PASSWORD_HASHES_QUEUED_MAX wait; past that the request is
 * refused as busy before any work. A check for a user that does not exist hashes against a dummy secret: the
 * answer takes as long as for a real user, so its time does not tell which names exist.
 */
export class PasswordHasher {
  private inFlight = 0;
  private readonly queue: (() => void)[] = [];
  private readonly dummy: Secret = { salt: randomBytes(16), hash: randomBytes(HASH_BYTES) };

  async hash(password: string): Promise<Secret> {
    const salt = randomBytes(16);
    return { salt, hash: await this.bounded(() => derive(password, salt)) };
  }

  /** Whether `password` is the secret's; for an absent secret, false after the same work. */
  async matches(secret: Secret | undefined, password: string): Promise<boolean> {
    const against = secret ?? this.dummy;
    const candidate = await this.bounded(() => derive(password, against.salt));
    return secret !== undefined && candidate.length === secret.hash.length && timingSafeEqual(candidate, secret.hash);
  }

  private async bounded<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= PASSWORD_HASHES_IN_FLIGHT_MAX) {
      if (this.queue.length >= PASSWORD_HASHES_QUEUED_MAX) throw new DfsError('RATE_LIMITED', 'the master is busy checking passwords; try again in a moment', { retryAfterMs: LOGIN_RETRY_AFTER_MS });
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.inFlight++;
    }
    try {
      return await work();
    } finally {
      // A waiter takes this slot over; only when none waits does the count go down.
      const next = this.queue.shift();
      if (next) next();
      else this.inFlight--;
    }
  }
}

interface SessionRecord extends Session {
  source: string;
  /** The absolute end: use extends the idle time up to this. */
  endMs: number;
}

/**
 * Sessions live in the master's memory: a restart logs everyone out, and clients log in again. Bounded three
 * ways, and never at another user's cost: a user past SESSIONS_PER_USER_MAX loses their own oldest session; an
 * address past SESSIONS_PER_SOURCE_MAX loses its oldest session of the same user, or the login is refused; a
 * full table loses the same user's oldest session, or refuses. A session unused for SESSION_IDLE_MS ends.
 */
export class Sessions {
  /** In order of last use: the first are the stalest. */
  private readonly byToken = new Map<string, SessionRecord>();
  private readonly byUser = new Map<number, Set<string>>();
  private readonly bySource = new Map<string, Set<string>>();

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.byToken.size;
  }

  open(userId: number, user: string, admin: boolean, source: string): string {
    this.sweep();
    const mine = this.byUser.get(userId) ?? new Set<string>();
    const fromSource = this.bySource.get(source) ?? new Set<string>();
    if (mine.size >= SESSIONS_PER_USER_MAX) this.end(first(mine));
    if (fromSource.size >= SESSIONS_PER_SOURCE_MAX) {
      let ownHere: string | undefined;
      for (const token of fromSource) {
        if (this.byToken.get(token)?.userId !== userId) continue;
        ownHere = token;
        break;
      }
      if (ownHere === undefined) throw new DfsError('RATE_LIMITED', 'too many sessions from this address; close some or try again later');
      this.end(ownHere);
    }
    if (this.byToken.size >= SESSIONS_MAX) {
      if (mine.size === 0) throw new DfsError('RATE_LIMITED', 'the master holds as many sessions as it can; try again later');
      this.end(first(mine));
    }
    const token = randomBytes(24).toString('base64url');
    const nowMs = this.now();
    this.byToken.set(token, { userId, user, admin, source, expiresMs: nowMs + SESSION_IDLE_MS, endMs: nowMs + SESSION_TTL_MS });
    this.byUser.set(userId, mine.add(token));
    this.bySource.set(source, fromSource.add(token));
    return token;
  }

  /** The session of a token, its idle time renewed; SESSION_EXPIRED when it ended. */
  resume(token: string): Session {
    const session = this.byToken.get(token);
    const nowMs = this.now();
    if (!session || session.expiresMs < nowMs) {
      this.end(token);
      throw new DfsError('SESSION_EXPIRED', 'session expired or unknown: log in again');
    }
    session.expiresMs = Math.min(session.endMs, nowMs + SESSION_IDLE_MS);
    this.byToken.delete(token);
    this.byToken.set(token, session); // most recently used last
    return session;
  }

  /** Ends every session of a user, e.g. after a password change elsewhere. */
  closeUser(userId: number, except?: string): void {
    for (const token of [...(this.byUser.get(userId) ?? [])]) if (token !== except) this.end(token);
  }

  private end(token: string | undefined): void {
    const session = token === undefined ? undefined : this.byToken.get(token);
    if (token === undefined || !session) return;
    this.byToken.delete(token);
    forget(this.byUser, session.userId, token);
    forget(this.bySource, session.source, token);
  }

  /** Ends sessions whose time is up; the stalest come first, so the walk stops at the first live one. */
  private sweep(): void {
    const nowMs = this.now();
    for (const [token, session] of this.byToken) {
      if (session.expiresMs >= nowMs) break;
      this.end(token);
    }
  }
}

function first<T>(set: ReadonlySet<T>): T | undefined {
  return set.values().next().value;
}

function forget<K>(index: Map<K, Set<string>>, key: K, token: string): void {
  const tokens = index.get(key);
  tokens?.delete(token);
  if (tokens?.size === 0) index.delete(key);
}

/** One login try, counted before its password is checked; settled as a success or left as a failure. */
export interface LoginAttempt {
  user: string;
  source: string;
  /** Answered (right, wrong, or not checked): no longer counted as being checked. */
  settled?: boolean;
}

/**
 * Failed logins in three books, each bounded (LOGIN_LIMITER_KEYS_MAX keys: the expired go first, then the
 * oldest): per user and address (LOGIN_FAILURES_MAX per LOGIN_FAILURE_WINDOW_MS), per user from anywhere
 * (LOGIN_USER_FAILURES_MAX per LOGIN_USER_FAILURE_WINDOW_MS), and per address for any user (free at first, then
 * exponential back-off). A try counts as a failure from the moment it is made, so guesses in flight all count.
 */
export class LoginLimiter {
  private readonly perUserSource = new Map<string, number[]>();
  private readonly perUser = new Map<string, number[]>();
  private readonly perSource = new Map<string, { failures: number; lastMs: number }>();
  /** Tries per address whose password is still being checked: counted as failed, so parallel guesses gain nothing,
   * but a refusal they cause says so rather than naming a lockout that may never come. */
  private readonly checking = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  /** RATE_LIMITED if a book refuses; else the try is counted (as failed until it succeeds). */
  attempt(user: string, source: string): LoginAttempt {
    const nowMs = this.now();
    const waitMs = Math.max(this.sourceWaitMs(source, nowMs), this.windowWaitMs(this.perUserSource, `${user}\0${source}`, LOGIN_FAILURES_MAX, LOGIN_FAILURE_WINDOW_MS, nowMs));
    const named = JSON.stringify(user).slice(0, 40);
    const inFlight = this.checking.get(source) ?? 0;
    if (waitMs > 0 && inFlight > 0) {
      throw new DfsError('RATE_LIMITED', `${inFlight} login(s) from this address are still being checked; try again once they are answered`, { retryAfterMs: LOGIN_RETRY_AFTER_MS });
    }
    if (waitMs > 0) throw new DfsError('RATE_LIMITED', `too many failed logins for ${named} from this address; try again in ${Math.ceil(waitMs / 1000)} s`);
    const userWaitMs = this.windowWaitMs(this.perUser, user, LOGIN_USER_FAILURES_MAX, LOGIN_USER_FAILURE_WINDOW_MS, nowMs);
    if (userWaitMs > 0) throw new DfsError('RATE_LIMITED', `too many failed logins for ${named}; try again in ${Math.ceil(userWaitMs / 1000)} s`);
    record(this.perUserSource, `${user}\0${source}`, nowMs, LOGIN_FAILURE_WINDOW_MS);
    record(this.perUser, user, nowMs, LOGIN_USER_FAILURE_WINDOW_MS);
    const bySource = this.perSource.get(source);
    const failures = bySource && nowMs - bySource.lastMs < LOGIN_SOURCE_FORGET_MS ? bySource.failures : 0;
    this.perSource.delete(source);
    this.perSource.set(source, { failures: failures + 1, lastMs: nowMs });
    bound(this.perSource, (entry) => nowMs - entry.lastMs >= LOGIN_SOURCE_FORGET_MS);
    this.checking.set(source, inFlight + 1);
    return { user, source };
  }

  /** The right password: this user and address start afresh, and the try is taken back from the other books. */
  succeeded(attempt: LoginAttempt): void {
    this.withdraw(attempt);
    this.perUserSource.delete(`${attempt.user}\0${attempt.source}`);
  }

  /** A wrong password, or a try that ended some other way: it stays counted as a failure, and is no longer being
   * checked. Idempotent. */
  failed(attempt: LoginAttempt): void {
    this.settle(attempt);
  }

  /** A try that checked no password (the master was too busy): it does not count. */
  withdraw(attempt: LoginAttempt): void {
    this.settle(attempt);
    this.perUserSource.get(`${attempt.user}\0${attempt.source}`)?.pop();
    this.perUser.get(attempt.user)?.pop();
    const bySource = this.perSource.get(attempt.source);
    if (bySource) bySource.failures = Math.max(0, bySource.failures - 1);
  }

  private settle(attempt: LoginAttempt): void {
    if (attempt.settled === true) return;
    attempt.settled = true;
    const inFlight = (this.checking.get(attempt.source) ?? 1) - 1;
    if (inFlight > 0) this.checking.set(attempt.source, inFlight);
    else this.checking.delete(attempt.source);
  }

  /** How long logins for `user` are still refused, from anywhere (the user's own book) or from one of the addresses
   * it failed from (the longest); 0 if none is. */
  lockedForMs(user: string): number {
    const nowMs = this.now();
    let waitMs = this.windowWaitMs(this.perUser, user, LOGIN_USER_FAILURES_MAX, LOGIN_USER_FAILURE_WINDOW_MS, nowMs);
    const prefix = `${user}\0`;
    for (const key of this.perUserSource.keys()) {
      if (key.startsWith(prefix)) waitMs = Math.max(waitMs, this.windowWaitMs(this.perUserSource, key, LOGIN_FAILURES_MAX, LOGIN_FAILURE_WINDOW_MS, nowMs));
    }
    return waitMs;
  }

  /** Forgets the user's failures (the admin's unlock); an address's own back-off, which is not the user's, stays. */
  unlock(user: string): void {
    this.perUser.delete(user);
    const prefix = `${user}\0`;
    for (const key of [...this.perUserSource.keys()]) if (key.startsWith(prefix)) this.perUserSource.delete(key);
  }

  /** How long the address must still wait: none for its first failures, then 1 s, 2 s, 4 s … since its last. */
  private sourceWaitMs(source: string, nowMs: number): number {
    const entry = this.perSource.get(source);
    if (!entry || nowMs - entry.lastMs >= LOGIN_SOURCE_FORGET_MS || entry.failures < LOGIN_SOURCE_FAILURES_FREE) return 0;
    const backoffMs = Math.min(LOGIN_SOURCE_BACKOFF_MS_MAX, 1000 * 2 ** Math.min(30, entry.failures - LOGIN_SOURCE_FAILURES_FREE));
    return Math.max(0, entry.lastMs + backoffMs - nowMs);
  }

  /** How long until the oldest of `max` failures in the window leaves it; 0 below `max`. */
  private windowWaitMs(book: Map<string, number[]>, key: string, max: number, windowMs: number, nowMs: number): number {
    const recent = (book.get(key) ?? []).filter((at) => at > nowMs - windowMs);
    if (recent.length < max) return 0;
    return (recent[recent.length - max] ?? nowMs) + windowMs - nowMs;
  }
}

/** Adds a failure at `nowMs` to a key's window (kept most recent last in the map's order), bounded. */
function record(book: Map<string, number[]>, key: string, nowMs: number, windowMs: number): void {
  const recent = (book.get(key) ?? []).filter((at) => at > nowMs - windowMs);
  book.delete(key);
  book.set(key, [...recent, nowMs]);
  bound(book, (times) => times.every((at) => at <= nowMs - windowMs));
}

/** Keeps a book within LOGIN_LIMITER_KEYS_MAX keys: past it, the expired go, then the least recently touched, down
 * to three quarters of it, so the walk is paid once per many insertions. */
function bound<V>(book: Map<string, V>, expired: (value: V) => boolean): void {
  if (book.size <= LOGIN_LIMITER_KEYS_MAX) return;
  for (const [key, value] of book) if (expired(value)) book.delete(key);
  const keep = Math.floor((LOGIN_LIMITER_KEYS_MAX * 3) / 4);
  for (const key of book.keys()) {
    if (book.size <= keep) break;
    book.delete(key);
  }
}
