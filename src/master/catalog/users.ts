// Users as the catalog keeps them: name, admin flag, password salt and hash (null for a user without
// a password, `shared`), and an own namespace whose root is made with the user. Hashing and checking
// passwords is the master's (src/master/users.ts, auth.ts).

import { SECRET_BYTES_MAX, USER_NAME_BYTES_MAX } from '../../limits';
import { DfsError } from '../../wire/errors';
import { ROOT } from '../../paths';
import type { CatalogCore } from './core';
import type { Namespace } from './namespace';
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
      return { id, name, admin, salt: secret?.salt ?? null, hash: secret?.hash ?? null, createdMs: now };
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
}

function toUser(row: SqlRow): UserRecord {
  return {
    id: integer(row[0]),
    name: text(row[1]),
    admin: row[2] === 1,
    salt: bytes(row[3]),
    hash: bytes(row[4]),
    createdMs: integer(row[5]),
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
