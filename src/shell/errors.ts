// How shell commands fail and how failures read: usage errors (shown with the usage line), the
// errno texts people know from coreutils for DfsError codes, and the `dfs: CMD: PATH: reason` form.

import { printable } from '../printable';
import { DfsError, Interrupted, type ErrorCode } from '../wire/errors';
import type { ShellOutput } from './context';

/** Bad options or operands; the registry prints the message and the command's usage line. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure the shell detected itself (a refused operand, mismatched passwords); shown as is. */
export class CommandError extends Error {
  override name = 'CommandError';
}

/** The command already reported what went wrong (one line per failed operand); it just failed. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
  constructor(readonly failures: number) {
    super(`${failures} operand(s) failed`);
  }
}

const ERRNO_TEXTS: Partial<Record<ErrorCode, string>> = {
  NOT_FOUND: 'No such file or directory',
  EXISTS: 'File exists',
  NOT_EMPTY: 'Directory not empty',
  NOT_A_DIRECTORY: 'Not a directory',
  IS_A_DIRECTORY: 'Is a directory',
  FORBIDDEN: 'Permission denied',
};

/** An operand parsed by the one helper for its kind (parseSize, parseCount): what it refuses is a usage error,
 * shown with the command's usage line. */
export function usageParse<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Runs a request whose failures with these codes are best told by the master's own reason (it names the user or
 * node, and what to do), not by the errno text the code has for files ("No such file or directory"). */
export async function withReasons<T>(codes: readonly ErrorCode[], request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (error instanceof DfsError && codes.includes(error.code)) throw new CommandError(error.message);
    throw error;
  }
}

/** The reason part of an error line: an errno text for the familiar codes, else the message. */
export function reasonOf(error: unknown): string {
  if (error instanceof DfsError) return ERRNO_TEXTS[error.code] ?? error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Writes `dfs: CMD: SUBJECT: reason` (or `dfs: CMD: reason` without a subject) to stderr. */
export function reportError(out: ShellOutput, command: string, subject: string | undefined, error: unknown): void {
  const prefix = subject === undefined ? `dfs: ${command}` : `dfs: ${command}: ${printable(subject)}`;
  out.stderr(`${prefix}: ${printable(reasonOf(error))}\n`);
}

/**
 * Runs `work` for every operand like coreutils: a failing operand is reported and the rest still
 * run; afterwards the command fails if any did. Ctrl-C (Interrupted) stops them all.
 */
export async function forEachOperand(
  out: ShellOutput,
  command: string,
  operands: readonly string[],
  work: (operand: string) => Promise<void>,
): Promise<void> {
  let failures = 0;
  for (const operand of operands) {
    try {
      await work(operand);
    } catch (error) {
      if (error instanceof Interrupted) throw error;
      if (!(error instanceof CommandFailed)) reportError(out, command, operand, error);
      failures++;
    }
  }
  if (failures > 0) throw new CommandFailed(failures);
}
