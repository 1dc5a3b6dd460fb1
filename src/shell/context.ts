// The shapes every shell command shares: what a command may use (ShellContext), where it writes
// (ShellOutput), how it asks a person something (Prompter), and the command itself (ShellCommand).
// Commands see the cluster only through ClusterApi and write only to the ShellOutput they are given.

import type { ClusterApi, Identity } from '../client/api';

export interface ShellOutput {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Terminal width when stdout is a terminal (ls lays names out in columns), else undefined. */
  readonly columns: number | undefined;
  /** stdout as a byte stream (cat); outputs without one get text. */
  readonly binary?: NodeJS.WritableStream;
}

export interface Prompter {
  /** Asks without echoing what is typed (passwords). Rejects when the person cancels (Ctrl-C). */
  hidden(question: string): Promise<string>;
  /** Asks and shows the answer as it is typed (yes/no questions). */
  visible(question: string): Promise<string>;
}

export interface ShellContext {
  readonly api: ClusterApi;
  /** Who is logged in; refreshed by whoami. */
  identity: Identity;
  /** The master as HOST:PORT, for the prompt. */
  readonly master: string;
  /** Canonical absolute working directory; starts at "/". */
  cwd: string;
  /** True when the login needed no password (the shared user), so passwd asks no current one. */
  passwordless: boolean;
  /** DFS_PASSWORD, DFS_NEW_PASSWORD and friends; the process environment outside tests. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** How to ask the person at the terminal; undefined when there is no terminal to ask. */
  prompt: Prompter | undefined;
  /** Set by exit/quit: the shell stops reading commands. */
  exitRequested: boolean;
  /** Standard input as data for `put -`: only under -c with stdin not a terminal (otherwise it holds the commands,
   * or is the person typing). */
  readonly stdin?: NodeJS.ReadableStream | undefined;
  /** -e: the first command that fails stops the shell (as sh -e), which exits with its status. */
  readonly stopOnError?: boolean;
  /** Runs `!COMMAND` on this machine and resolves with its exit status; the REPL's hands the terminal over. */
  local?: (command: string) => Promise<number>;
}

/**
 * What a command's operands are, for tab completion and glob expansion: remote paths, local paths, put's local
 * sources and remote target (`upload`), get's remote sources and local target (`download`), find's paths (its
 * -name pattern is find's own), command names, or none of these.
 */
export type OperandKind = 'remote' | 'local' | 'upload' | 'download' | 'find' | 'commands' | 'nothing';

export interface ShellCommand {
  name: string;
  /** One line, e.g. "ls [-l] [-h] [PATH…]". */
  usage: string;
  /** A few words for the command list. */
  summary: string;
  /** Longer help for `help CMD`, lines without trailing newline. */
  details?: readonly string[];
  operands: OperandKind;
  run(args: string[], ctx: ShellContext, out: ShellOutput): Promise<void>;
}
