// Users on the master: scrypt password hashes, sessions bound to tokens, and the rate limit on
// failed logins. The catalog stores users; this module decides who someone is.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { LOGIN_FAILURES_MAX, LOGIN_FAILURE_WINDOW_MS, SCRYPT_COST, SESSIONS_MAX, SESSION_TTL_MS } from '../../limits';
import { DfsError } from '../../net/errors';

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

export async function hashPassword(password: string): Promise<Secret> {
  const salt = randomBytes(16);
  return { salt, hash: await derive(password, salt) };
}

export async function passwordMatches(secret: Secret, password: string): Promise<boolean> {
  const candidate = await derive(password, secret.salt);
  return candidate.length === secret.hash.length && timingSafeEqual(candidate, secret.hash);
}

/** Sessions live in the master's memory: a restart logs everyone out, and clients log in again. */
export class Sessions {
  private readonly byToken = new Map<string, Session>();

  constructor(private readonly now: () => number) {}

  open(userId: number, user: string, admin: boolean): string {
    if (this.byToken.size >= SESSIONS_MAX) this.evictOldest();
    const token = randomBytes(24).toString('base64url');
    this.byToken.set(token, { userId, user, admin, expiresMs: this.now() + SESSION_TTL_MS });
    return token;
  }

  resume(token: string): Session {
    const session = this.byToken.get(token);
    if (!session || session.expiresMs < this.now()) {
      this.byToken.delete(token);
      throw new DfsError('UNAUTHENTICATED', 'session expired or unknown: log in again');
    }
    return session;
  }

  /** Ends every session of a user, e.g. after a password change elsewhere. */
  closeUser(userId: number, except?: string): void {
    for (const [token, session] of this.byToken) if (session.userId === userId && token !== except) this.byToken.delete(token);
  }

  private evictOldest(): void {
    const oldest = this.byToken.keys().next();
    if (!oldest.done) this.byToken.delete(oldest.value);
  }
}

/** Counts failed logins per user and source address; refuses while too many are recent. */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  check(user: string, source: string): void {
    const recent = this.recent(`${user}\0${source}`);
    if (recent.length < LOGIN_FAILURES_MAX) return;
    const waitS = Math.ceil(((recent[0] ?? 0) + LOGIN_FAILURE_WINDOW_MS - this.now()) / 1000);
    throw new DfsError('RATE_LIMITED', `too many failed logins for ${user}; try again in ${waitS} s`);
  }

  failed(user: string, source: string): void {
    const key = `${user}\0${source}`;
    this.failures.set(key, [...this.recent(key), this.now()]);
  }

  succeeded(user: string, source: string): void {
    this.failures.delete(`${user}\0${source}`);
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - LOGIN_FAILURE_WINDOW_MS;
    const recent = (this.failures.get(key) ?? []).filter((at) => at > cutoff);
    if (recent.length === 0) this.failures.delete(key);
    return recent;
  }
}
