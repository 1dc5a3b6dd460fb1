// `tui`: the full-screen explorer on the shell's own session (same login, same working directory to
// start from); q returns to the prompt.

import type { ShellCommand } from '../context';
import { CommandError } from '../errors';
import { expectOperands, parseFlags } from '../parse';

export const tui: ShellCommand = {
  name: 'tui',
  usage: 'tui',
  summary: 'open the full-screen explorer (q comes back here)',
  details: ['Browse, get, put (whole directories too, from the local pane: Tab), copy, move and delete in a full-screen view;', 'D shows the cluster; ? lists the keys.'],
  operands: 'nothing',
  async run(args, ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    const { stdin, stdout } = process;
    if (out.columns === undefined || !stdin.isTTY || !stdout.isTTY) throw new CommandError('needs a terminal');
    const { runTui } = await import('../../tui/app.js');
    await runTui({ api: ctx.api, identity: ctx.identity, master: ctx.master, cwd: ctx.cwd, input: stdin, output: stdout });
  },
};
