// `dfs tui [HOST:PORT]`: logs in exactly like `dfs shell` (the same session: master from the argument
// or DFS_MASTER, CA from --ca / DFS_CA / known_masters, user and password), then runs the explorer.
// Exit status: 0 after q, 1 when the login failed, 2 for a bad invocation (no terminal, no master).

import { formatHostPort } from '../wire/address';
import { DfsError } from '../wire/errors';
import { terminalPrompter } from '../shell/prompt';
import { openSession, type Session } from '../shell/session';
import { runTui } from './app';

export interface TuiRoleOptions {
  address: string | undefined;
  caFile: string | undefined;
  user: string | undefined;
}

export async function runTuiRole(options: TuiRoleOptions): Promise<0 | 1 | 2> {
  const { stdin, stdout, stderr } = process;
  if (!stdin.isTTY || !stdout.isTTY) {
    stderr.write('dfs: tui needs a terminal (for scripts use dfs shell -c or stdin)\n');
    return 2;
  }
  let session: Session;
  try {
    session = await openSession({
      command: 'tui',
      address: options.address,
      caFile: options.caFile,
      user: options.user,
      env: process.env,
      prompter: terminalPrompter(stdin, stderr.isTTY ? stderr : stdout),
      interactive: true,
      notice: (text) => stderr.write(text),
    });
  } catch (error) {
    stderr.write(`dfs: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof DfsError && error.code === 'BAD_REQUEST' ? 2 : 1;
  }
  try {
    await runTui({ api: session.api, identity: session.identity, master: formatHostPort(session.address), input: stdin, output: stdout });
    return 0;
  } finally {
    session.api.close();
  }
}
