// How a name reaches a terminal. Names come from other users (everyone shares `shared`) and may hold ESC, BEL,
// newlines or bidi controls: printed raw, one user could move another's cursor, retitle their terminal, hide or
// reorder text. Such a name is shown in bash's $'…' quoting, as GNU ls does (`$'a\033b'`); others as they are.

/** C0 and C1 controls, DEL, and the Unicode controls that reorder or hide text (bidi embeddings, overrides and
 * isolates, marks, line and paragraph separators, the byte order mark). */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/u;

const NAMED: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\\': '\\\\', "'": "\\'" };

/** `text` as is when every character is safe on a terminal; else all of it in $'…' with the unsafe ones escaped. */
export function printable(text: string): string {
  if (!UNSAFE.test(text)) return text;
  let quoted = "$'";
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (NAMED[char] !== undefined) quoted += NAMED[char];
    else if (!UNSAFE.test(char)) quoted += char;
    else if (code < 0x100) quoted += `\\${code.toString(8).padStart(3, '0')}`;
    else quoted += `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return `${quoted}'`;
}

const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

/** JSON text whose strings escape every character printable() would quote (JSON.stringify escapes only C0 controls):
 * machine-readable output that is still safe on a terminal. */
export function printableJson(value: unknown, indent = 2): string {
  // Newlines outside strings are the layout's; inside strings JSON.stringify already wrote \n.
  return JSON.stringify(value, null, indent).replace(UNSAFE_ALL, (char) => char === '\n' ? char : `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}
