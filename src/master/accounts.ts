// The admin's tools for users (list with usage, reset a password, delete, unlock, quotas) and everyone's df.
// Logging in and a user's own password are auth.ts's.

import type { Incoming, Reply } from '../wire/channel';
import { DfsError } from '../wire/errors';
import type { UserRecord } from './catalog/catalog';
import { checkNewPassword } from './auth';
import { clusterTotals } from './membership';
import { requireAdmin, requireSession, type MasterState } from './state';
import { scheduleDeletions } from './transfers';
import { ADMIN_USER, SHARED_USER, type Session } from './users';

/** A user's files, bytes and quotas as the wire carries them (an absent quota: none). */
function usageOf(state: MasterState, user: UserRecord): { files: number; bytes: number; quotaBytes?: number; quotaFiles?: number } {
  const { files, bytes } = state.catalog.usage(user.id);
  return { files, bytes, ...(user.quotaBytes !== null ? { quotaBytes: user.quotaBytes } : {}), ...(user.quotaFiles !== null ? { quotaFiles: user.quotaFiles } : {}) };
}

/** The user an admin request names: NOT_FOUND if there is none. */
function namedUser(state: MasterState, name: string): UserRecord {
  const user = state.catalog.getUser(name);
  if (!user) throw new DfsError('NOT_FOUND', `no user ${name}`);
  return user;
}

/** The built-in users are never deleted, and nobody deletes themselves (they would lose the session doing it). */
function checkDeletable(session: Session, user: UserRecord): void {
  if (user.name === ADMIN_USER || user.name === SHARED_USER) throw new DfsError('FORBIDDEN', `the ${user.name} user cannot be deleted`);
  if (user.id === session.userId) throw new DfsError('FORBIDDEN', 'you cannot delete yourself');
}

export async function users(state: MasterState, request: Incoming<'auth.users'>): Promise<Reply<'auth.users'>> {
  requireAdmin(requireSession(state, request), 'users');
  const page = state.catalog.usersAfter(request.data.after);
  return {
    data: {
      users: page.users.map((user) => ({ user: user.name, admin: user.admin, ...usageOf(state, user), lockedForMs: state.logins.lockedForMs(user.name) })),
      ...(page.next !== undefined ? { next: page.next } : {}),
    },
  };
}

export async function reset(state: MasterState, request: Incoming<'auth.reset'>): Promise<Reply<'auth.reset'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'passwd for another user');
  const user = namedUser(state, request.data.user);
  if (user.name === SHARED_USER) throw new DfsError('FORBIDDEN', `the ${SHARED_USER} user has no password: everyone may use it`);
  checkNewPassword(request.data.password);
  await state.catalog.setPassword(user.id, await state.passwords.hash(request.data.password));
  // Whoever knew the old password is out; an admin resetting their own keeps this session.
  state.sessions.closeUser(user.id, state.channelTokens.get(request.channel));
  state.log.info(`${session.user} set a new password for ${user.name}; their sessions ended`);
  return { data: {} };
}

export async function userdel(state: MasterState, request: Incoming<'auth.userdel'>): Promise<Reply<'auth.userdel'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'userdel');
  const user = namedUser(state, request.data.user);
  checkDeletable(session, user);
  let deleted: { files: number; blobIds: string[] };
  try {
    deleted = await state.catalog.deleteUser(user.id, request.data.withFiles);
  } catch (error) {
    if (error instanceof DfsError && error.code === 'NOT_EMPTY') throw new DfsError('NOT_EMPTY', `${user.name} owns ${user.files} file(s): delete them first, or use userdel -r to delete them too`);
    throw error;
  }
  state.sessions.closeUser(user.id);
  state.logins.unlock(user.name); // a new user of that name starts afresh
  if (deleted.blobIds.length > 0) scheduleDeletions(state);
  state.log.info(`${session.user} deleted user ${user.name}${request.data.withFiles ? ` and their ${deleted.files} file(s)` : ''}`);
  return { data: { files: deleted.files } };
}

export async function unlock(state: MasterState, request: Incoming<'auth.unlock'>): Promise<Reply<'auth.unlock'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'unlock');
  const user = namedUser(state, request.data.user);
  const wasLocked = state.logins.lockedForMs(user.name) > 0;
  state.logins.unlock(user.name);
  state.log.info(`${session.user} cleared the failed logins of ${user.name}${wasLocked ? ' (locked out until now)' : ''}`);
  return { data: { wasLocked } };
}

export async function quota(state: MasterState, request: Incoming<'auth.quota'>): Promise<Reply<'auth.quota'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'quota');
  const user = namedUser(state, request.data.user);
  const { bytes, files } = request.data;
  await state.catalog.setQuota(user.id, { bytes: bytes ?? null, files: files ?? null });
  state.log.info(`${session.user} set ${user.name}'s quota to ${bytes ?? 'no limit on'} bytes and ${files ?? 'no limit on'} files`);
  return { data: {} };
}

export async function df(state: MasterState, request: Incoming<'cluster.df'>): Promise<Reply<'cluster.df'>> {
  const session = requireSession(state, request);
  const user = state.catalog.getUserById(session.userId);
  if (!user) throw new DfsError('UNAUTHENTICATED', 'user no longer exists');
  return { data: { total: clusterTotals(state), user: { user: user.name, ...usageOf(state, user) } } };
}
