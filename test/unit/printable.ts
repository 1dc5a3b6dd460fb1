// Names shown on a terminal never carry a control character: names are shown in bash's $'…' quoting when they hold one.

import t from 'tap';
import { printable } from '../../src/printable';

t.test('safe names are shown as they are', (t) => {
  for (const name of ['report.txt', 'a b', 'naïve café', '日本語', "it's", 'back\\slash', '-dash']) t.equal(printable(name), name, name);
  t.end();
});

t.test('names with controls are quoted $\'…\' with every unsafe character escaped, and no control left', (t) => {
  const cases: Array<[string, string]> = [
    ['a\x1b]0;pwned\x07b', "$'a\\033]0;pwned\\007b'"],
    ['two\nlines', "$'two\\nlines'"],
    ['tab\there', "$'tab\\there'"],
    ['\u202etxt.exe', "$'\\u202etxt.exe'"],
    ["quote'and\\slash\x1b", "$'quote\\'and\\\\slash\\033'"],
    ['\x9b31m', "$'\\23331m'"],
  ];
  for (const [name, shown] of cases) {
    t.equal(printable(name), shown, JSON.stringify(name));
    t.notMatch(printable(name), /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u, `${JSON.stringify(name)}: no control character left`);
    t.equal(printable(printable(name)), printable(name), `${JSON.stringify(name)}: printing twice changes nothing`);
  }
  t.end();
});
