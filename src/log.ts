// Logging for long-running roles: one line per event on stderr, stdout kept for what scripts read. Lines below the
// chosen level are dropped (--log-level; debug has what happens to each blob); --log-format json writes one JSON
// object per line ({"time","role","level","message"}) for log collectors. Under systemd (JOURNAL_STREAM set: stderr
// goes to the journal) a text line starts with its syslog priority (<7> debug … <3> error), so that
// `journalctl -p warning` shows warnings and errors.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Log {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface LogOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Prefix text lines with their syslog priority (default: when JOURNAL_STREAM is set). */
  journal?: boolean;
  write?: (line: string) => void;
}

const SYSLOG_PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

export function createLog(role: string, options: LogOptions = {}): Log {
  const { level = 'info', format = 'text', journal = process.env.JOURNAL_STREAM !== undefined, write = (line: string) => process.stderr.write(line) } = options;
  const lowest = LOG_LEVELS.indexOf(level);
  const emitter = (at: LogLevel) => (message: string): void => {
    if (LOG_LEVELS.indexOf(at) < lowest) return;
    const time = new Date().toISOString();
    if (format === 'json') write(`${JSON.stringify({ time, role, level: at, message })}\n`);
    else write(`${journal ? `<${SYSLOG_PRIORITY[at]}>` : ''}${time} ${role} ${at} ${message}\n`);
  };
  return { debug: emitter('debug'), info: emitter('info'), warn: emitter('warn'), error: emitter('error') };
}

export const silentLog: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

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
