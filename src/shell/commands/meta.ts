// Commands about the shell itself: help, exit, quit. help reads the command table it is given,
// so it never imports the registry that lists it.

import type { ShellCommand } from '../context';
import { CommandError } from '../errors';
import { expectOperands, parseFlags } from '../parse';

/** `help CMD` text: usage, summary, details. */
export function commandHelp(command: ShellCommand): string {
  const details = (command.details ?? []).map((line) => `  ${line}\n`).join('');
  return `usage: ${command.usage}\n  ${command.summary}\n${details}`;
}

const USAGE_COLUMN_CHARS = 30;

/** The command list shown by `help` (and by `dfs shell --help`); long usages put the summary below. */
export function commandList(commands: readonly ShellCommand[]): string {
  return commands
    .map((command) =>
      command.usage.length < USAGE_COLUMN_CHARS
        ? `  ${command.usage.padEnd(USAGE_COLUMN_CHARS)}${command.summary}\n`
        : `  ${command.usage}\n  ${''.padEnd(USAGE_COLUMN_CHARS)}${command.summary}\n`,
    )
    .join('');
}

export function helpCommand(commands: () => readonly ShellCommand[]): ShellCommand {
  return {
    name: 'help',
    usage: 'help [CMD]',
    summary: 'list the commands, or explain one',
    operands: 'commands',
    async run(args, _ctx, out) {
      const { operands } = parseFlags(args, '');
      expectOperands(operands, 0, 1);
      const name = operands[0];
      if (name === undefined) {
        out.stdout(
          'Commands (PATH is absolute, relative to the working directory, or ~/… from your root;\n' +
            'separate commands with ";", quote names with spaces):\n' +
            `${commandList(commands())}` +
            `  ${'!COMMAND'.padEnd(USAGE_COLUMN_CHARS)}run COMMAND on this machine (the rest of the line, in /bin/sh)\n` +
            'Type "help CMD" for details.\n',
        );
        return;
      }
      const command = commands().find((candidate) => candidate.name === name);
      if (!command) throw new CommandError(`no such command: ${name} (type help for the list)`);
      out.stdout(commandHelp(command));
    },
  };
}

function exitCommand(name: string): ShellCommand {
  return {
    name,
    usage: name,
    summary: 'leave the shell (Ctrl-D too)',
    operands: 'nothing',
    async run(args, ctx) {
      expectOperands(parseFlags(args, '').operands, 0, 0);
      ctx.exitRequested = true;
    },
  };
}

export const exit = exitCommand('exit');
export const quit = exitCommand('quit');
