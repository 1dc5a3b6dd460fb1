// The one error type that crosses the wire: a code from a closed set and a human message.
// Anything else thrown inside a handler is a bug and reaches the peer only as INTERNAL.

export const ERROR_CODES = [
  'BAD_REQUEST', // malformed message or argument
  'BAD_FRAME', // the byte stream is not dfs framing; the connection is closed
  'UNAUTHENTICATED', // no or wrong credentials
  'SESSION_EXPIRED', // the session ended (unused too long, or ended for a newer one): log in again
  'FORBIDDEN', // authenticated, but not allowed
  'NOT_FOUND',
  'EXISTS',
  'NOT_EMPTY',
  'NOT_A_DIRECTORY',
  'IS_A_DIRECTORY',
  'NO_SPACE',
  'QUOTA_EXCEEDED', // the user's quota (bytes or files) would be passed
  'NO_NODES',
  'RATE_LIMITED',
  'TIMEOUT',
  'UNAVAILABLE', // peer unreachable or connection lost
  'CORRUPT', // checksum mismatch
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** The longest retryAfterMs a peer may ask for; more is read as none. */
const RETRY_AFTER_MS_MAX = 60_000;

export class DfsError extends Error {
  /** RATE_LIMITED that passes soon (other work ahead of this one, not a lockout): the peer may ask again after this. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'DfsError';
    this.retryAfterMs = options.retryAfterMs;
  }

  toWire(): { code: ErrorCode; message: string; retryAfterMs?: number } {
    return { code: this.code, message: this.message, ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}) };
  }

  static fromWire(value: unknown): DfsError {
    const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const code = isErrorCode(record.code) ? record.code : 'INTERNAL';
    const message = typeof record.message === 'string' ? record.message : 'unknown error from peer';
    const retry = record.retryAfterMs;
    const retryAfterMs = typeof retry === 'number' && Number.isInteger(retry) && retry > 0 && retry <= RETRY_AFTER_MS_MAX ? retry : undefined;
    return new DfsError(code, message, retryAfterMs === undefined ? {} : { retryAfterMs });
  }

  /** What a peer may see of any thrown value: its code and message if it is ours, else nothing. */
  static wrap(error: unknown): DfsError {
    if (error instanceof DfsError) return error;
    return new DfsError('INTERNAL', 'internal error');
  }
}

export function isDfsError(error: unknown, code?: ErrorCode): error is DfsError {
  return error instanceof DfsError && (code === undefined || error.code === code);
}

/** The person stopped the work (Ctrl-C in the shell): not the cluster's failure, so never retried elsewhere nor
 * reported to the master as a node's fault. */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor() {
    super('interrupted');
  }
}
