// Tab completion for the interactive shell: command names for a command's first word; for the others, what the
// word names by the command's operands (expand.ts): remote paths, local paths (put's sources, get's target, lcd),
// or command names (help). Quote-aware: what is added is escaped or quoted the way the word being typed already
// is, so the result parses back to the real name.

import type { ShellContext } from './context';
import { localLister, remoteLister, wordSides } from './expand';
import type { Lister } from './glob';
import { COMMANDS, findCommand } from './registry';
import { scanLine, type Quote } from './parse';

/** readline's completer result: candidates for the end of the line, and the text they replace. */
export type Completion = [string[], string];

interface Candidate {
  /** The whole word once completed, unquoted ("docs/my file.txt"). */
  value: string;
  /** A finished word (a command, a file) gets the closing quote and a space after it. */
  final: boolean;
}

const SPECIAL_UNQUOTED = /[\s'"\\;#]/g;

/** `text` written so that it continues a word whose open quote (if any) is `quote`. */
export function quoteContinuation(text: string, quote: Quote | null): string {
  if (quote === "'") return text.replace(/'/g, "'\\''");
  if (quote === '"') return text.replace(/["\\]/g, (char) => `\\${char}`);
  return text.replace(SPECIAL_UNQUOTED, (char) => `\\${char}`);
}

/** Completes `line` (the text before the cursor). Never throws: no candidates on any failure. */
export async function completeLine(line: string, ctx: ShellContext): Promise<Completion> {
  const scan = scanLine(line);
  if (scan.inComment || scan.danglingEscape) return [[], ''];
  const words = scan.commands.at(-1) ?? [];
  const current = scan.wordAtEnd ? words.at(-1) : undefined;
  const raw = current === undefined ? '' : line.slice(current.start);
  const typed = current?.text ?? '';
  const position = current === undefined ? words.length : words.length - 1;
  const command = findCommand(words[0]?.text ?? '');
  const args = [...words.slice(1, position).map((word) => word.text), typed];
  const side = position === 0 ? 'command' : command === undefined ? 'other' : wordSides(command.operands, args).at(-1);
  let candidates: Candidate[] = [];
  if (side === 'command') candidates = completeCommandName(typed);
  // `~` is the user's root on the cluster; on this machine it is only a name.
  if (side === 'remote') candidates = typed === '~' ? [{ value: '~/', final: false }] : await completeNames(typed, remoteLister(ctx)).catch(() => []);
  if (side === 'local') candidates = await completeNames(typed, localLister).catch(() => []);
  const closing = scan.openQuote ?? '';
  const hits = candidates.map((candidate) => {
    const added = quoteContinuation(candidate.value.slice(typed.length), scan.openQuote);
    return `${raw}${added}${candidate.final ? `${closing} ` : ''}`;
  });
  return [hits, raw];
}

function completeCommandName(typed: string): Candidate[] {
  return COMMANDS.map((command) => command.name)
    .filter((name) => name.startsWith(typed))
    .sort()
    .map((name) => ({ value: name, final: true }));
}

/** Names in the directory part of `typed` that start with its last component (dot names only when it starts with
 * one), as `list` finds them: the cluster's or this machine's, as globs see them. Directories end in '/'. */
async function completeNames(typed: string, list: Lister): Promise<Candidate[]> {
  const slash = typed.lastIndexOf('/');
  const directoryPart = typed.slice(0, slash + 1);
  const prefix = typed.slice(slash + 1);
  const names = (await list(directoryPart)) ?? [];
  return names
    .filter((entry) => entry.name.startsWith(prefix) && (prefix.startsWith('.') || !entry.name.startsWith('.')))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((entry) => ({ value: `${directoryPart}${entry.name}${entry.directory ? '/' : ''}`, final: !entry.directory }));
}
