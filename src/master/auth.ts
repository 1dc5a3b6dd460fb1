// Login, sessions and user management on the master: login (each guess counted by the login limiter, the
// password checked by the password hasher), resuming a session, whoami, passwd and useradd.

import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { Incoming, Reply } from '../wire/channel';
import { DfsError } from '../wire/errors';
import type { Catalog } from './catalog/catalog';
import type { UserRecord } from './catalog/users';
import { writeFileAtomic } from '../store/files';
import type { Log } from '../log';
import { MASTER_FILES } from './identity';
import { requireAdmin, requireSession, type MasterState } from './state';
import { PASSWORD_CHARS_MIN } from '../limits';
import { ADMIN_USER, SHARED_USER, type LoginAttempt, type PasswordHasher } from './users';

const WRONG_LOGIN = 'wrong user name or password';

export async function login(state: MasterState, request: Incoming<'auth.login'>): Promise<Reply<'auth.login'>> {
  const { user, password } = request.data;
  const source = request.channel.remoteHost;
  const attempt = state.logins.attempt(user, source);
  let record: UserRecord;
  try {
    record = await checkLogin(state, attempt, password);
  } finally {
    state.logins.failed(attempt); // whatever ended it (a throw included) ends its check; a success settled it already
  }
  const token = state.sessions.open(record.id, record.name, record.admin, source);
  state.channelTokens.set(request.channel, token);
  request.channel.trust(`user:${record.name}`);
  return { data: { token, user: record.name, admin: record.admin } };
}

/** The user's record if `password` is theirs (none needed for the shared user); UNAUTHENTICATED otherwise. */
async function checkLogin(state: MasterState, attempt: LoginAttempt, password: string | undefined): Promise<UserRecord> {
  const { user, source } = attempt;
  const record = state.catalog.getUser(user);
  let accepted: boolean;
  if (record !== undefined && (record.hash === null || record.salt === null)) {
    accepted = true; // the shared user: no password to check
  } else {
    // An unknown user costs the same hash as a known one: the answer's time must not tell which names exist.
    const secret = record?.salt && record.hash ? { salt: record.salt, hash: record.hash } : undefined;
    accepted = await state.passwords.matches(secret, password ?? '').catch((error: unknown) => {
      state.logins.withdraw(attempt); // refused as busy: no password was checked
      throw error;
    });
  }
  if (!record || !accepted) {
    state.logThrottle.warn('failed logins', `failed login for ${JSON.stringify(user).slice(0, 40)} from ${source}`);
    throw new DfsError('UNAUTHENTICATED', WRONG_LOGIN);
  }
  state.logins.succeeded(attempt);
  return record;
}

export async function resume(state: MasterState, request: Incoming<'auth.resume'>): Promise<Reply<'auth.resume'>> {
  const session = state.sessions.resume(request.data.token);
  state.channelTokens.set(request.channel, request.data.token);
  request.channel.trust(`user:${session.user}`);
  return { data: { user: session.user, admin: session.admin } };
}

export async function whoami(state: MasterState, request: Incoming<'auth.whoami'>): Promise<Reply<'auth.whoami'>> {
  const session = requireSession(state, request);
  return { data: { user: session.user, admin: session.admin } };
}

export async function passwd(state: MasterState, request: Incoming<'auth.passwd'>): Promise<Reply<'auth.passwd'>> {
  const session = requireSession(state, request);
  const record = state.catalog.getUserById(session.userId);
  if (!record) throw new DfsError('UNAUTHENTICATED', 'user no longer exists');
  if (record.hash === null || record.salt === null) throw new DfsError('FORBIDDEN', `the ${SHARED_USER} user has no password`);
  const { oldPassword, newPassword } = request.data;
  checkNewPassword(newPassword);
  const attempt = state.logins.attempt(record.name, request.channel.remoteHost);
  const matches = await state.passwords.matches({ salt: record.salt, hash: record.hash }, oldPassword ?? '').catch((error: unknown) => {
    state.logins.withdraw(attempt);
    throw error;
  });
  if (oldPassword === undefined || !matches) {
    state.logins.failed(attempt);
    throw new DfsError('UNAUTHENTICATED', 'the current password is wrong');
  }
  state.logins.succeeded(attempt);
  await state.catalog.setPassword(record.id, await state.passwords.hash(newPassword));
  // Whoever knew the old password is logged out everywhere but here.
  state.sessions.closeUser(record.id, state.channelTokens.get(request.channel));
  state.log.info(`${record.name} changed their password`);
  return { data: {} };
}

export async function useradd(state: MasterState, request: Incoming<'auth.useradd'>): Promise<Reply<'auth.useradd'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'useradd');
  checkNewPassword(request.data.password);
  await state.catalog.createUser(request.data.user, await state.passwords.hash(request.data.password), false);
  state.log.info(`${session.user} added user ${request.data.user}`);
  return { data: {} };
}

/** A password a user chooses: long enough to resist guessing at the rate logins allow. */
export function checkNewPassword(password: string): void {
  if ([...password].length < PASSWORD_CHARS_MIN) throw new DfsError('BAD_REQUEST', `a password needs at least ${PASSWORD_CHARS_MIN} characters`);
}

/** The admin and shared users exist from the first start on: admin with its password file, shared with no password. */
export async function ensureBuiltinUsers(catalog: Catalog, passwords: PasswordHasher, dataDir: string, log: Log): Promise<void> {
  if (!catalog.getUser(ADMIN_USER)) {
    const given = process.env.DFS_ADMIN_PASSWORD;
    if (given) checkNewPassword(given);
    const password = given || (await createAdminPasswordFile(dataDir, log));
    await catalog.createUser(ADMIN_USER, await passwords.hash(password), true);
  }
  if (!catalog.getUser(SHARED_USER)) await catalog.createUser(SHARED_USER, null, false);
}

async function createAdminPasswordFile(dataDir: string, log: Log): Promise<string> {
  const file = path.join(dataDir, MASTER_FILES.adminPassword);
  // A start that died before the admin user was journaled left the file: keep what was shown.
  const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
  const password = existing?.trim() || randomBytes(12).toString('base64url');
  if (!existing) await writeFileAtomic(file, `${password}\n`, 0o600);
  // Only the file holds it: logs are copied, collected and shown to more people than the admin.
  log.info(`the admin password is in ${file} (mode 0600)`);
  return password;
}
