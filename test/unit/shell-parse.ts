// Shell line parsing: `;` separates commands, words split on whitespace with quotes, escapes and
// comments, and flags parse like GNU tools (combined, permuted, `--`); bad lines are refused.

import t from 'tap';
import { UsageError } from '../../src/shell/errors';
import { expectOperands, LineSyntaxError, parseFlags, parseLine, scanLine } from '../../src/shell/parse';

t.test('parse: words and commands', async (t) => {
  const cases: Array<[string, string[][]]> = [
    ['', []],
    ['   ', []],
    ['ls', [['ls']]],
    ['  ls   -l\t/docs  ', [['ls', '-l', '/docs']]],
    ['ls; pwd', [['ls'], ['pwd']]],
    ['ls;pwd', [['ls'], ['pwd']]],
    [';; ls ;;; pwd ;', [['ls'], ['pwd']]],
    ["ls 'my file.txt'", [['ls', 'my file.txt']]],
    ['ls "my file.txt"', [['ls', 'my file.txt']]],
    ['ls my\\ file.txt', [['ls', 'my file.txt']]],
    ["ls 'a;b' \"c;d\" e\\;f", [['ls', 'a;b', 'c;d', 'e;f']]],
    ["ls 'it'\\''s'", [['ls', "it's"]]],
    ['ls "say \\"hi\\" \\\\ \\n"', [['ls', 'say "hi" \\ \\n']]],
    ["ls 'back\\slash'", [['ls', 'back\\slash']]],
    ["ls pre'mid dle'post", [['ls', 'premid dlepost']]],
    ["ls '' \"\"", [['ls', '', '']]],
    ['ls # a comment; pwd', [['ls']]],
    ['# only a comment', []],
    ['ls a#b', [['ls', 'a#b']]],
    ["ls '#not a comment'", [['ls', '#not a comment']]],
    ['ls \\#x', [['ls', '#x']]],
    ['ls; # trailing', [['ls']]],
    ['mkdir -p "a b/c d"; cd "a b" ; ls', [['mkdir', '-p', 'a b/c d'], ['cd', 'a b'], ['ls']]],
    ['ls ünïcødé 日本', [['ls', 'ünïcødé', '日本']]],
  ];
  for (const [line, expected] of cases) t.same(parseLine(line), expected, JSON.stringify(line));
});

t.test('parse: unterminated quotes and a dangling backslash are syntax errors', async (t) => {
  t.throws(() => parseLine("ls 'open"), new LineSyntaxError('unterminated single quote'));
  t.throws(() => parseLine('ls "open'), new LineSyntaxError('unterminated double quote'));
  t.throws(() => parseLine('ls open\\'), LineSyntaxError);
  t.throws(() => parseLine('ls "a\\"'), LineSyntaxError, 'an escaped quote does not close');
  t.same(parseLine("ls '# quoted' # 'unterminated"), [['ls', '# quoted']], 'quotes inside comments do not count');
});

t.test('scan: word offsets, open quotes and whether the last word touches the end', async (t) => {
  const scan = scanLine('ls -l "my fi');
  t.equal(scan.openQuote, '"');
  t.equal(scan.wordAtEnd, true);
  t.same(scan.commands.at(-1)?.map((word) => [word.text, word.start]), [['ls', 0], ['-l', 3], ['my fi', 6]]);
  t.equal(scanLine('ls ').wordAtEnd, false);
  t.equal(scanLine('ls; cd').commands.length, 2);
  t.same(scanLine('ls; cd do').commands[1]?.map((word) => word.start), [4, 7]);
  t.equal(scanLine('ls # x').inComment, true);
  t.equal(scanLine('ls x\\').danglingEscape, true);
  t.equal(scanLine("ls ''").wordAtEnd, true, 'an empty quoted word is a word');
});

t.test('flags: combined, permuted, `--`, lone `-`, unknown ones refused', async (t) => {
  t.same(parseFlags(['-lh', 'a'], 'lh'), { flags: new Set(['l', 'h']), operands: ['a'] });
  t.same(parseFlags(['a', '-l', 'b', '-h'], 'lh'), { flags: new Set(['l', 'h']), operands: ['a', 'b'] });
  t.same(parseFlags(['-l', '--', '-h', '--'], 'lh'), { flags: new Set(['l']), operands: ['-h', '--'] });
  t.same(parseFlags(['-'], ''), { flags: new Set(), operands: ['-'] });
  t.throws(() => parseFlags(['-lx'], 'lh'), new UsageError("invalid option -- 'x'"));
  t.throws(() => parseFlags(['--long'], 'lh'), new UsageError("unrecognized option '--long'"));
});

t.test('operand counts', async (t) => {
  t.doesNotThrow(() => expectOperands([], 0, 1));
  t.throws(() => expectOperands([], 1, Infinity), new UsageError('missing operand'));
  t.throws(() => expectOperands(['a'], 2, 2), new UsageError('expected at least 2 operands'));
  t.throws(() => expectOperands(['a', 'b'], 0, 1), new UsageError("extra operand 'b'"));
  t.throws(() => expectOperands(['a'], 0, 0), new UsageError("extra operand 'a'"));
});
