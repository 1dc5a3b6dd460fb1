// Whether a put or copy fits its owner's quotas: bytes are the files' sizes (as du counts them, not their
// replicas), files their number; uploads still in progress count as if they were done.

import { formatSize } from '../../units';

export interface QuotaState {
  /** The user's files and bytes now, in the catalog. */
  used: { files: number; bytes: number };
  /** What the user's uploads in progress would add. */
  booked: { files: number; bytes: number };
  quota: { files: number | null; bytes: number | null };
}

/** Why adding `files` new files and `bytes` bytes (negative when a file is replaced by a smaller one) passes a quota;
 * undefined when it does not. Nothing that shrinks the user's usage is ever refused. */
export function quotaRefusal(state: QuotaState, adding: { files: number; bytes: number }): string | undefined {
  const { used, booked, quota } = state;
  const bytes = used.bytes + booked.bytes;
  if (quota.bytes !== null && adding.bytes > 0 && bytes + adding.bytes > quota.bytes) {
    return `quota exceeded (${formatSize(bytes)}/${formatSize(quota.bytes)})`;
  }
  const files = used.files + booked.files;
  if (quota.files !== null && adding.files > 0 && files + adding.files > quota.files) return `file quota exceeded (${files}/${quota.files} files)`;
  return undefined;
}
