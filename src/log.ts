// Logging for long-running roles: one line per event on stderr, stdout kept for what scripts read.

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLog(role: string, write: (line: string) => void = (line) => process.stderr.write(line)): Log {
  const emit = (level: string, message: string): void => write(`${new Date().toISOString()} ${role} ${level} ${message}\n`);
  return {
    info: (message) => emit('info', message),
    warn: (message) => emit('warn', message),
    error: (message) => emit('error', message),
  };
}

export const silentLog: Log = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Warnings that an outsider can repeat at will (failed logins, refused connections) cost one line per kind per
 * interval: the first is logged, the rest counted and summed up in one line when the interval ends. Kinds are a
 * fixed set of names chosen by the code, never by a peer, so this holds a handful of entries.
 */
export class LogThrottle {
  private readonly kinds = new Map<string, { suppressed: number; latest: string; timer: NodeJS.Timeout }>();

  constructor(
    private readonly log: Log,
    private readonly intervalMs: number,
  ) {}

  warn(kind: string, message: string): void {
    const open = this.kinds.get(kind);
    if (open) {
      open.suppressed++;
      open.latest = message;
      return;
    }
    this.log.warn(message);
    const entry = { suppressed: 0, latest: message, timer: setTimeout(() => this.close(kind), this.intervalMs) };
    entry.timer.unref();
    this.kinds.set(kind, entry);
  }

  private close(kind: string): void {
    const entry = this.kinds.get(kind);
    this.kinds.delete(kind);
    if (entry && entry.suppressed > 0) {
      this.log.warn(`${kind}: ${entry.suppressed} more in the last ${Math.round(this.intervalMs / 1000)} s (the latest: ${entry.latest})`);
    }
  }
}
