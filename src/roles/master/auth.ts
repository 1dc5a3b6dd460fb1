// Login, sessions and user management on the master (SPEC §2).

import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { Incoming, Reply } from '../../net/channel';
import { DfsError } from '../../net/errors';
import type { Catalog } from '../../store/catalog';
import { writeFileAtomic } from '../../store/files';
import type { Log } from '../../log';
import { MASTER_FILES } from './identity';
import { requireAdmin, requireSession, type MasterState } from './state';
import { ADMIN_USER, hashPassword, passwordMatches, SHARED_USER } from './users';

const WRONG_LOGIN = 'wrong user name or password';

export async function login(state: MasterState, request: Incoming<'auth.login'>): Promise<Reply<'auth.login'>> {
  const { user, password } = request.data;
  const source = request.channel.remoteHost;
  state.logins.check(user, source);
  const record = state.catalog.getUser(user);
  const accepted =
    record !== undefined &&
    (record.hash === null || record.salt === null
      ? true // the shared user: no password to check
      : password !== undefined && (await passwordMatches({ salt: record.salt, hash: record.hash }, password)));
  if (!record || !accepted) {
    state.logins.failed(user, source);
    state.log.warn(`failed login for ${JSON.stringify(user).slice(0, 40)} from ${source}`);
    throw new DfsError('UNAUTHENTICATED', WRONG_LOGIN);
  }
  state.logins.succeeded(user, source);
  const token = state.sessions.open(record.id, record.name, record.admin);
  state.channelTokens.set(request.channel, token);
  return { data: { token, user: record.name, admin: record.admin } };
}

export async function resume(state: MasterState, request: Incoming<'auth.resume'>): Promise<Reply<'auth.resume'>> {
  const session = state.sessions.resume(request.data.token);
  state.channelTokens.set(request.channel, request.data.token);
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
  const source = request.channel.remoteHost;
  state.logins.check(record.name, source);
  const { oldPassword, newPassword } = request.data;
  if (oldPassword === undefined || !(await passwordMatches({ salt: record.salt, hash: record.hash }, oldPassword))) {
    state.logins.failed(record.name, source);
    throw new DfsError('UNAUTHENTICATED', 'the current password is wrong');
  }
  await state.catalog.setPassword(record.id, await hashPassword(newPassword));
  // Whoever knew the old password is logged out everywhere but here.
  state.sessions.closeUser(record.id, state.channelTokens.get(request.channel));
  state.log.info(`${record.name} changed their password`);
  return { data: {} };
}

export async function useradd(state: MasterState, request: Incoming<'auth.useradd'>): Promise<Reply<'auth.useradd'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'useradd');
  await state.catalog.createUser(request.data.user, await hashPassword(request.data.password), false);
  state.log.info(`${session.user} added user ${request.data.user}`);
  return { data: {} };
}

/** The admin and shared users exist from the first start on (SPEC §2). */
export async function ensureBuiltinUsers(catalog: Catalog, dataDir: string, log: Log): Promise<void> {
  if (!catalog.getUser(ADMIN_USER)) {
    const password = process.env.DFS_ADMIN_PASSWORD || (await createAdminPasswordFile(dataDir, log));
    await catalog.createUser(ADMIN_USER, await hashPassword(password), true);
  }
  if (!catalog.getUser(SHARED_USER)) await catalog.createUser(SHARED_USER, null, false);
}

async function createAdminPasswordFile(dataDir: string, log: Log): Promise<string> {
  const file = path.join(dataDir, MASTER_FILES.adminPassword);
  // A start that died before the admin user was journaled left the file: keep what was shown.
  const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
  const password = existing?.trim() || randomBytes(12).toString('base64url');
  if (!existing) await writeFileAtomic(file, `${password}\n`, 0o600);
  log.info(`admin password (shown once, also in ${file}): ${password}`);
  return password;
}
