// Who you are, passwords, and the admin's user tools: whoami, passwd, useradd, users, userdel, unlock, quota.
// Passwords come from the environment (DFS_PASSWORD, DFS_NEW_PASSWORD) for scripts, else from a hidden prompt
// at the terminal.

import type { UserInfo } from '../../client/api';
import { formatSize, parseCount, parseSize } from '../../units';
import { isDfsError } from '../../wire/errors';
import type { ShellCommand, ShellContext } from '../context';
import { CommandError, usageParse, withReasons } from '../errors';
import { formatTable } from '../format';
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
  operands: 'nothing',
  async run(args, ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    ctx.identity = await ctx.api.whoami();
    out.stdout(`${ctx.identity.user}\n`);
  },
};

export const passwd: ShellCommand = {
  name: 'passwd',
  usage: 'passwd [NAME]',
  summary: 'change your password, or (the admin) set another user\'s',
  details: [
    'Asks for the current password (unless you have none), then the new one twice.',
    'In scripts: DFS_PASSWORD holds the current password and DFS_NEW_PASSWORD the new one.',
    'The admin may name another user: their new password is asked twice (or taken from DFS_NEW_PASSWORD),',
    'no current one, and every session of theirs ends.',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 0, 1);
    const name = operands[0];
    if (name !== undefined && name !== ctx.identity.user) {
      if (!ctx.identity.admin) throw new CommandError(`only an admin can set another user's password (you are ${ctx.identity.user})`);
      await ctx.api.resetPassword(name, await newPassword(ctx, name));
      out.stdout(`password set for ${name}; their sessions have ended\n`);
      return;
    }
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
  operands: 'nothing',
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

/** "4m 10s" for how long logins stay refused; "-" when they are not. */
function lockText(ms: number): string {
  if (ms <= 0) return '-';
  const seconds = Math.ceil(ms / 1000);
  return seconds >= 60 ? `locked ${Math.floor(seconds / 60)}m ${seconds % 60}s` : `locked ${seconds}s`;
}

function limitText(used: string, limit: number | undefined, show: (value: number) => string): string {
  return limit === undefined ? `${used}` : `${used}/${show(limit)}`;
}

/** The master's reasons for NOT_FOUND and NOT_EMPTY name the user and what to do. */
const aboutUser = <T>(request: () => Promise<T>): Promise<T> => withReasons(['NOT_FOUND', 'NOT_EMPTY'], request);

export const users: ShellCommand = {
  name: 'users',
  usage: 'users',
  summary: 'list users: files, bytes, quotas, failed-login lockout (admin only)',
  details: [
    'FILES and SIZE are what each user owns (SIZE counts each file once, as du does, not its replicas),',
    'shown against the quota when there is one. LOGINS says how long failed logins still lock them out.',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    const rows = (await ctx.api.users()).map((user: UserInfo) => [
      user.user,
      user.admin ? 'admin' : 'user',
      limitText(String(user.files), user.quotaFiles, String),
      limitText(formatSize(user.bytes), user.quotaBytes, formatSize),
      lockText(user.lockedForMs),
    ]);
    out.stdout(formatTable([['USER', 'ROLE', 'FILES', 'SIZE', 'LOGINS'], ...rows], ['left', 'left', 'right', 'right', 'left']));
  },
};

export const userdel: ShellCommand = {
  name: 'userdel',
  usage: 'userdel [-r] NAME',
  summary: 'delete a user; -r deletes their files too (admin only)',
  details: [
    'A user who owns files (or directories) is kept unless -r is given; with it their files go and the',
    'copies on the nodes are deleted. Their sessions end. admin and shared cannot be deleted.',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    const { flags, operands } = parseFlags(args, 'r');
    expectOperands(operands, 1, 1);
    const name = operands[0] ?? '';
    const { files } = await aboutUser(() => ctx.api.userdel(name, flags.has('r')));
    out.stdout(flags.has('r') ? `deleted user ${name} and their ${files} file(s)\n` : `deleted user ${name}\n`);
  },
};

export const unlock: ShellCommand = {
  name: 'unlock',
  usage: 'unlock NAME',
  summary: 'clear a user\'s failed logins, ending a lockout (admin only)',
  operands: 'nothing',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, 1);
    const name = operands[0] ?? '';
    out.stdout((await aboutUser(() => ctx.api.unlock(name))) ? `${name} may log in again\n` : `${name} was not locked out\n`);
  },
};

/** SIZE or FILES of quota: a number (with a size suffix for SIZE), or `none`. */
function quotaLimit(text: string | undefined, parse: (text: string) => number): number | undefined {
  if (text === undefined || text === 'none') return undefined;
  return usageParse(() => parse(text));
}

export const quota: ShellCommand = {
  name: 'quota',
  usage: 'quota NAME SIZE|none [FILES|none]',
  summary: 'limit a user\'s bytes and number of files (admin only)',
  details: [
    'SIZE counts the bytes of the user\'s files once each, as du does (not their replicas); 10G, 500M, 1T.',
    'A put or cp past a quota fails before any byte moves: dfs: put: PATH: quota exceeded (used/limit).',
    '`quota NAME none` removes both limits. `users` shows usage against quotas; `df` your own.',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 2, 3);
    const [name = '', sizeText, filesText] = operands;
    const bytes = quotaLimit(sizeText, parseSize);
    const files = quotaLimit(filesText, (text) => parseCount(text, 'file count', 0, Number.MAX_SAFE_INTEGER));
    await aboutUser(() => ctx.api.setQuota(name, { ...(bytes !== undefined ? { bytes } : {}), ...(files !== undefined ? { files } : {}) }));
    const parts = [bytes === undefined ? 'no byte limit' : `${formatSize(bytes)}`, files === undefined ? 'no file limit' : `${files} files`];
    out.stdout(`quota for ${name}: ${parts.join(', ')}\n`);
  },
};
