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
