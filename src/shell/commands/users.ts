// Who you are and passwords: whoami, passwd, useradd. Passwords come from the environment
// (DFS_PASSWORD, DFS_NEW_PASSWORD) for scripts, else from a hidden prompt at the terminal.

import { isDfsError } from '../../wire/errors';
import type { ShellCommand, ShellContext } from '../context';
import { CommandError } from '../errors';
import { expectOperands, parseFlags } from '../parse';

function noTerminal(what: string, settings: string): CommandError {
  return new CommandError(`no terminal to ask for ${what}: set ${settings} to run this in a script`);
}

/** A new password, typed twice at the terminal or taken from DFS_NEW_PASSWORD. */
async function newPassword(ctx: ShellContext, label: string): Promise<string> {
  const fromEnv = ctx.env.DFS_NEW_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!ctx.prompt) throw noTerminal(`a new password for ${label}`, 'DFS_NEW_PASSWORD');
  const first = await ctx.prompt.hidden(`New password for ${label}: `);
  if (first === '') throw new CommandError('empty password; nothing changed');
  const second = await ctx.prompt.hidden('Retype the new password: ');
  if (first !== second) throw new CommandError('the passwords do not match; nothing changed');
  return first;
}

async function currentPassword(ctx: ShellContext): Promise<string | undefined> {
  if (ctx.passwordless) return undefined;
  if (ctx.env.DFS_NEW_PASSWORD !== undefined && ctx.env.DFS_NEW_PASSWORD !== '') return ctx.env.DFS_PASSWORD;
  if (!ctx.prompt) throw noTerminal('the current password', 'DFS_PASSWORD and DFS_NEW_PASSWORD');
  return ctx.prompt.hidden(`Current password for ${ctx.identity.user}: `);
}

export const whoami: ShellCommand = {
  name: 'whoami',
  usage: 'whoami',
  summary: 'print the user you are logged in as',
  completes: 'nothing',
  async run(args, ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    ctx.identity = await ctx.api.whoami();
    out.stdout(`${ctx.identity.user}\n`);
  },
};

export const passwd: ShellCommand = {
  name: 'passwd',
  usage: 'passwd',
  summary: 'change your password',
  details: [
    'Asks for the current password (unless you have none), then the new one twice.',
    'In scripts: DFS_PASSWORD holds the current password and DFS_NEW_PASSWORD the new one.',
  ],
  completes: 'nothing',
  async run(args, ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    const current = await currentPassword(ctx);
    const next = await newPassword(ctx, ctx.identity.user);
    await ctx.api.passwd(current, next);
    ctx.passwordless = false;
    out.stdout(`password changed for ${ctx.identity.user}\n`);
  },
};

export const useradd: ShellCommand = {
  name: 'useradd',
  usage: 'useradd NAME',
  summary: 'add a user (admin only)',
  details: ['The password is asked twice at the terminal, or taken from DFS_NEW_PASSWORD in scripts.'],
  completes: 'nothing',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, 1);
    const user = operands[0] ?? '';
    if (!ctx.identity.admin) {
      throw new CommandError(`only an admin can add users (you are ${ctx.identity.user}); log in with --user admin`);
    }
    try {
      await ctx.api.useradd(user, await newPassword(ctx, user));
    } catch (error) {
      throw isDfsError(error, 'EXISTS') ? new CommandError(`user ${user} already exists`) : error;
    }
    out.stdout(`added user ${user}\n`);
  },
};
