// HOST:PORT parsing and printing: hosts, IPv4 and bracketed IPv6 parse; anything else is a
// BAD_REQUEST that quotes the input; printing brackets IPv6 so that what is printed parses back.

import t from 'tap';
import { formatHostPort, isLoopback, isWildcard, parseHostPort } from '../../src/wire/address';
import { DfsError } from '../../src/wire/errors';
import { thrown } from '../helpers/errors';

t.test('address: HOST:PORT, names, IPv4 and bracketed IPv6 parse', async (t) => {
  const cases: Array<[string, number | undefined, { host: string; port: number }]> = [
    ['127.0.0.1:0', undefined, { host: '127.0.0.1', port: 0 }],
    ['localhost:7070', undefined, { host: 'localhost', port: 7070 }],
    ['[::1]:9000', undefined, { host: '::1', port: 9000 }],
    ['[fd00::1:2]:65535', undefined, { host: 'fd00::1:2', port: 65535 }],
    ['master.example:80', 1, { host: 'master.example', port: 80 }],
    ['  localhost:7070 \n', undefined, { host: 'localhost', port: 7070 }],
    ['host:0080', undefined, { host: 'host', port: 80 }],
  ];
  for (const [text, defaultPort, expected] of cases) {
    t.same(parseHostPort(text, defaultPort), expected, JSON.stringify(text));
  }
});

t.test('address: a host without a port takes the default port, and only if there is one', async (t) => {
  t.same(parseHostPort('host', 7070), { host: 'host', port: 7070 });
  t.same(parseHostPort('[::1]', 7070), { host: '::1', port: 7070 });
  t.same(parseHostPort('10.0.0.1', 0), { host: '10.0.0.1', port: 0 }, 'a default of 0 is a default');
  t.same(parseHostPort('host:9', 7070), { host: 'host', port: 9 }, 'an explicit port wins');
  for (const text of ['host', '[::1]']) {
    const error = thrown(() => parseHostPort(text));
    t.ok(error instanceof DfsError && error.code === 'BAD_REQUEST', `${text} with no default: ${String(error)}`);
    t.match((error as Error).message, /missing :PORT/);
  }
  const outOfRange = thrown(() => parseHostPort('host', 70_000));
  t.ok(outOfRange instanceof DfsError && outOfRange.code === 'BAD_REQUEST', 'a default port out of range is refused too');
});

t.test('address: malformed addresses are BAD_REQUEST quoting the input', async (t) => {
  const bad = [
    '',
    '   ',
    ':80',
    'a:99999',
    'a:65536',
    'a:b',
    'a:',
    'a:-1',
    'a:+80',
    'a:1.5',
    'a:1e3',
    'a: 80',
    'a b:80',
    'a:80:90',
    '::1:9000',
    '[::1]:',
    '[::1]x',
    '[::1:80',
    'a:99999999999999999999999',
  ];
  for (const text of bad) {
    const error = thrown(() => parseHostPort(text, 7070));
    t.ok(error instanceof DfsError && error.code === 'BAD_REQUEST', `${JSON.stringify(text)}: ${String(error)}`);
    t.ok(error instanceof Error && error.message.includes(`"${text}"`), `${JSON.stringify(text)}: the message quotes the input`);
  }
});

t.test('address: brackets hold an IPv6 address and nothing else', async (t) => {
  t.same(parseHostPort('[::ffff:10.0.0.1]:80'), { host: '::ffff:10.0.0.1', port: 80 }, 'an IPv4-mapped IPv6 address');
  for (const text of ['[]:80', '[]', '[ ]:80', '[a b]:80', '[:80]:80', '[localhost]:80', '[10.0.0.1]:80', 'a[b]:80']) {
    const error = thrown(() => parseHostPort(text, 7070));
    t.ok(error instanceof DfsError && error.code === 'BAD_REQUEST', `${JSON.stringify(text)}: ${error instanceof Error ? error.message : JSON.stringify(parseHostPort(text, 7070))}`);
  }
});

t.test('address: formatHostPort brackets IPv6, and what it prints parses back', async (t) => {
  const cases: Array<[{ host: string; port: number }, string]> = [
    [{ host: '::1', port: 9000 }, '[::1]:9000'],
    [{ host: 'fd00::1:2', port: 80 }, '[fd00::1:2]:80'],
    [{ host: '::', port: 0 }, '[::]:0'],
    [{ host: '127.0.0.1', port: 7070 }, '127.0.0.1:7070'],
    [{ host: 'localhost', port: 65535 }, 'localhost:65535'],
  ];
  for (const [address, text] of cases) {
    t.equal(formatHostPort(address), text);
    t.same(parseHostPort(formatHostPort(address)), address, `${text} round trips`);
  }
});

t.test('address: wildcard listen hosts are the unspecified addresses and nothing else', async (t) => {
  for (const host of ['0.0.0.0', '::', '']) t.ok(isWildcard(host), JSON.stringify(host));
  for (const host of ['127.0.0.1', '::1', 'localhost', '0.0.0.1']) t.notOk(isWildcard(host), JSON.stringify(host));
});

t.test('loopback hosts: only this machine can dial them', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) t.ok(isLoopback(host), `${host} is loopback`);
  for (const host of ['10.0.0.1', '0.0.0.0', '::', 'example.net', '128.0.0.1', '::ffff:10.0.0.1']) t.notOk(isLoopback(host), `${host} is not`);
});
