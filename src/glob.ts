// Glob syntax, read once for both of its users: find -name (the catalog renders it as SQLite GLOB) and the shell's
// wildcards (rendered as a RegExp per path component). `*` any run, `?` one character, `[...]` a set (`[!...]` or
// `[^...]` negated, ranges, POSIX classes like [[:digit:]], a `]` first is a member), a backslash makes the next
// character literal, and a `[` that opens no complete set is literal, as in fnmatch. Case-sensitive.

export type GlobToken =
  | { kind: 'text'; text: string }
  | { kind: 'star' }
  | { kind: 'one' }
  /** Members are inclusive ranges of characters; a single character is a range of one. */
  | { kind: 'set'; negated: boolean; members: (readonly [string, string])[] };

const single = (character: string): readonly [string, string] => [character, character];

const POSIX_CLASSES: Record<string, (readonly [string, string])[]> = {
  alpha: [['a', 'z'], ['A', 'Z']],
  digit: [['0', '9']],
  alnum: [['a', 'z'], ['A', 'Z'], ['0', '9']],
  upper: [['A', 'Z']],
  lower: [['a', 'z']],
  xdigit: [['0', '9'], ['a', 'f'], ['A', 'F']],
  space: [' ', '\t', '\n', '\r', '\f', '\v'].map(single),
  blank: [' ', '\t'].map(single),
  punct: [['!', '/'], [':', '@'], ['[', '`'], ['{', '~']],
};

export function parseGlob(pattern: string): GlobToken[] {
  const tokens: GlobToken[] = [];
  const text = (characters: string): void => {
    const last = tokens.at(-1);
    if (last?.kind === 'text') last.text += characters;
    else tokens.push({ kind: 'text', text: characters });
  };
  for (let index = 0; index < pattern.length; ) {
    const character = pattern[index] as string;
    if (character === '\\' && index + 1 < pattern.length) {
      text(pattern[index + 1] as string);
      index += 2;
    } else if (character === '*' || character === '?') {
      tokens.push({ kind: character === '*' ? 'star' : 'one' });
      index++;
    } else if (character === '[') {
      const set = parseSet(pattern, index);
      if (set === undefined) text('[');
      else tokens.push(set.token);
      index = set?.next ?? index + 1;
    } else {
      text(character);
      index++;
    }
  }
  return tokens;
}

/** Whether the tokens hold a wildcard (else the pattern names one thing). */
export function isWildcard(tokens: readonly GlobToken[]): boolean {
  return tokens.some((token) => token.kind !== 'text');
}

/** The set starting at pattern[start] === '[', or undefined if it is never closed. */
function parseSet(pattern: string, start: number): { token: GlobToken; next: number } | undefined {
  let index = start + 1;
  let negated = false;
  if (pattern[index] === '!' || pattern[index] === '^') {
    negated = true;
    index++;
  }
  const members: (readonly [string, string])[] = [];
  for (let first = true; index < pattern.length && (pattern[index] !== ']' || first); first = false) {
    const close = pattern.startsWith('[:', index) ? pattern.indexOf(':]', index + 2) : -1;
    const named = close > 0 ? POSIX_CLASSES[pattern.slice(index + 2, close)] : undefined;
    if (named !== undefined) {
      members.push(...named);
      index = close + 2;
      continue;
    }
    let from = pattern[index] as string;
    if (from === '\\' && index + 1 < pattern.length) from = pattern[++index] as string;
    index++;
    // a-z: a range, unless the '-' is last in the set.
    if (pattern[index] === '-' && index + 1 < pattern.length && pattern[index + 1] !== ']') {
      let to = pattern[index + 1] as string;
      index += 2;
      if (to === '\\' && index < pattern.length) to = pattern[index++] as string;
      if (from <= to) members.push([from, to]); // [z-a] holds nothing, as in bash
    } else {
      members.push(single(from));
    }
  }
  if (index >= pattern.length) return undefined;
  return { token: { kind: 'set', negated, members }, next: index + 1 };
}
