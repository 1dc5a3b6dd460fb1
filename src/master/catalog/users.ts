// Users as the catalog keeps them: name, admin flag, password salt and hash (null for a user without
// a password, `shared`), quotas, and an own namespace whose root is made with the user (and goes with it).
// Hashing and checking passwords is the master's (src/master/users.ts, auth.ts).

import { SECRET_BYTES_MAX, USER_NAME_BYTES_MAX, USERS_PAGE_MAX } from '../../limits';
import { DfsError } from '../../wire/errors';
import { ROOT } from '../../paths';
import type { CatalogCore } from './core';
import type { Namespace } from './namespace';
import { freeReplicas } from './replicas';
import { bytes, DIR, integer, SQL, text } from './schema';
import type { SqlRow } from './sqljs';

export interface UserRecord {
  id: number;
  name: string;
  admin: boolean;
  /** Both null for a user without a password (`shared`). */
  salt: Buffer | null;
  hash: Buffer | null;
  createdMs: number;
  /** Files the user owns (directories apart). */
  files: number;
  /** Limits on the bytes of the user's files (their sizes, not counting replicas) and on their number; null: none. */
  quotaBytes: number | null;
  quotaFiles: number | null;
}

export interface Quota {
  bytes: number | null;
  files: number | null;
}


const USER_NAME = /^[a-z_][a-z0-9_.-]*$/;

export class Users {
  constructor(
    private readonly core: CatalogCore,
    private readonly namespace: Namespace,
  ) {}

  getUser(name: string): UserRecord | undefined {
    this.core.checkOpen();
    const row = this.core.db.first(SQL.user, [name]);
    return row && toUser(row);
  }

  getUserById(id: number): UserRecord | undefined {
    this.core.checkOpen();
    const row = this.core.db.first(SQL.userById, [id]);
    return row && toUser(row);
  }

  listUsers(): UserRecord[] {
    this.core.checkOpen();
    return this.core.db.all(SQL.users, []).map(toUser);
  }

  /** A page of users in name order, after `after`; `next` resumes the walk when there are more. */
  usersAfter(after: string | undefined): { users: UserRecord[]; next: string | undefined } {
    this.core.checkOpen();
    const users = this.core.db.all(SQL.usersAfter, [after ?? '', USERS_PAGE_MAX + 1]).map(toUser);
    const more = users.length > USERS_PAGE_MAX;
    if (more) users.length = USERS_PAGE_MAX;
    return { users, next: more ? users[users.length - 1]?.name : undefined };
  }

  /** A new user with an empty root directory. EXISTS if the name is taken. */
  async createUser(name: string, secret: { salt: Buffer; hash: Buffer } | null, admin: boolean): Promise<UserRecord> {
    checkUserName(name);
    checkSecret(secret);
    return this.core.mutate((recorder) => {
      if (this.core.db.first(SQL.user, [name])) throw new DfsError('EXISTS', `user ${name} already exists`);
      const id = integer(this.core.db.first(SQL.maxUserId, [])?.[0]) + 1;
      const now = this.core.timestamp();
      recorder.run(SQL.insertUser, [id, name, secret?.salt ?? null, secret?.hash ?? null, admin ? 1 : 0, now]);
      this.namespace.insertEntry(recorder, { owner: id, parent: -id, path: ROOT, kind: DIR, size: 0, now, blobId: null, sha256: null });
      return { id, name, admin, salt: secret?.salt ?? null, hash: secret?.hash ?? null, createdMs: now, files: 0, quotaBytes: null, quotaFiles: null };
    });
  }

  /** Sets (or with null, removes) a user's password. */
  async setPassword(userId: number, secret: { salt: Buffer; hash: Buffer } | null): Promise<void> {
    checkSecret(secret);
    await this.core.mutate((recorder) => {
      if (!this.core.db.first(SQL.userById, [userId])) throw new DfsError('NOT_FOUND', `no user with id ${userId}`);
      recorder.run(SQL.setPassword, [userId, secret?.salt ?? null, secret?.hash ?? null]);
    });
  }

  /** The user's files and their bytes (their sizes, as du counts them: the size of the user's root). */
  usage(userId: number): { files: number; bytes: number } {
    this.core.checkOpen();
    const row = this.core.db.first(SQL.userUsage, [userId]);
    if (!row) throw new DfsError('NOT_FOUND', `no user with id ${userId}`);
    return { files: integer(row[0]), bytes: integer(row[1]) };
  }

  async setQuota(userId: number, quota: Quota): Promise<void> {
    for (const limit of [quota.bytes, quota.files]) {
      if (limit !== null && (!Number.isSafeInteger(limit) || limit < 0)) throw new DfsError('BAD_REQUEST', `a quota is a whole number of at least 0, not ${limit}`);
    }
    await this.core.mutate((recorder) => {
      if (!this.core.db.first(SQL.userById, [userId])) throw new DfsError('NOT_FOUND', `no user with id ${userId}`);
      recorder.run(SQL.setQuota, [userId, quota.bytes, quota.files]);
    });
  }

  /**
   * Deletes a user and their root. NOT_EMPTY while they own anything else, unless `withFiles`: then every entry of
   * theirs goes too, and the blobs of their files are to be deleted (returned). The id is never given again.
   */
  async deleteUser(userId: number, withFiles: boolean): Promise<{ files: number; blobIds: string[] }> {
    return this.core.mutate((recorder) => {
      const user = this.core.db.first(SQL.userById, [userId]);
      if (!user) throw new DfsError('NOT_FOUND', `no user with id ${userId}`);
      if (!withFiles && this.core.db.first(SQL.ownerHasFiles, [userId])) throw new DfsError('NOT_EMPTY', `user ${text(user[1])} owns files`);
      const blobIds = new Set<string>();
      this.core.db.each(SQL.ownerBlobs, [userId], (row) => {
        blobIds.add(text(row[0]));
      });
      const files = integer(user[6]);
      this.namespace.forgetEntries(recorder.run(SQL.deleteOwnerEntries, [userId]));
      recorder.run(SQL.deleteUser, [userId]);
      recorder.run(SQL.rememberUserId, [userId]);
      freeReplicas(recorder, [...blobIds]);
      return { files, blobIds: [...blobIds] };
    });
  }
}

function toUser(row: SqlRow): UserRecord {
  return {
    id: integer(row[0]),
    name: text(row[1]),
    admin: row[2] === 1,
    salt: bytes(row[3]),
    hash: bytes(row[4]),
    createdMs: integer(row[5]),
    files: integer(row[6]),
    quotaBytes: row[7] === null ? null : integer(row[7]),
    quotaFiles: row[8] === null ? null : integer(row[8]),
  };
}

function checkUserName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > USER_NAME_BYTES_MAX || !USER_NAME.test(name)) {
    throw new DfsError('BAD_REQUEST', `invalid user name "${String(name)}": 1-${USER_NAME_BYTES_MAX} of a-z 0-9 _ . - , not starting with a digit, "." or "-"`);
  }
}

function checkSecret(secret: { salt: Buffer; hash: Buffer } | null): void {
  if (secret === null) return;
  for (const part of [secret.salt, secret.hash]) {
    if (!(part instanceof Uint8Array) || part.length === 0 || part.length > SECRET_BYTES_MAX) {
      throw new DfsError('BAD_REQUEST', `a password salt and hash must be 1-${SECRET_BYTES_MAX} bytes`);
    }
  }
}
