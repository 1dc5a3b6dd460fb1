// The join token: a secret that proves a node may join, and the digest of the CA that proves to
// the node it reached the right master (like kubeadm's discovery hash). Format: dfs1.<digest>.<secret>

import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { DfsError } from '../wire/errors';

const PREFIX = 'dfs1';

export interface JoinToken {
  caDigest: string;
  secret: string;
}

export function createJoinToken(caDigest: string): JoinToken {
  return { caDigest, secret: randomBytes(32).toString('base64url') };
}

export function formatJoinToken(token: JoinToken): string {
  return `${PREFIX}.${token.caDigest}.${token.secret}`;
}

export function parseJoinToken(text: string): JoinToken {
  const parts = text.trim().split('.');
  const [prefix, caDigest, secret] = parts;
  if (parts.length !== 3 || prefix !== PREFIX || !caDigest || !/^[0-9a-f]{64}$/.test(caDigest) || !secret || !/^[A-Za-z0-9_-]{16,256}$/.test(secret)) {
    throw new DfsError('BAD_REQUEST', 'malformed join token: expected dfs1.<ca-digest>.<secret>, as written to the master\'s join-token file');
  }
  return { caDigest, secret };
}

/** Constant-time comparison, so the secret cannot be guessed byte by byte from timings. */
export function secretMatches(expected: string, offered: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(offered).digest();
  return timingSafeEqual(a, b);
}
