import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { ConfigError, envName, parseConfig, Settings } from '../../src/config';

const KNOWN = ['data', 'listen', 'node-timeout'];

t.test('the config file: name = value per line, comments, blank lines, quotes', async (t) => {
  const parsed = parseConfig('# comment\n\n  data = "/var/lib/dfs master" \nlisten=0.0.0.0:7070\r\nnode-timeout = \'30\'\n', 'f', KNOWN);
  t.same([...parsed], [['data', '/var/lib/dfs master'], ['listen', '0.0.0.0:7070'], ['node-timeout', '30']]);
  t.throws(() => parseConfig('data /x\n', 'f', KNOWN), new ConfigError('f:1: expected "name = value", got "data /x"'));
  t.throws(() => parseConfig('\nreplica = 2\n', 'f', KNOWN), new ConfigError('f:2: unknown setting "replica" (known: data, listen, node-timeout)'));
  t.throws(() => parseConfig('data = /a\ndata = /b\n', 'f', KNOWN), new ConfigError('f:2: "data" is set twice'));
});

t.test('a flag beats the environment, which beats the file; an empty variable counts as unset', async (t) => {
  t.equal(envName('node-timeout'), 'DFS_NODE_TIMEOUT');
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'dfs-config-')), 'c');
  writeFileSync(file, 'data = /file\nlisten = 1.2.3.4:1\nnode-timeout = 9\n');
  const flags: Record<string, string> = { data: '/flag' };
  const settings = Settings.load((name) => flags[name], KNOWN, { DFS_CONFIG: file, DFS_DATA: '/env', DFS_LISTEN: '5.6.7.8:2', DFS_NODE_TIMEOUT: '' });
  t.same(['data', 'listen', 'node-timeout'].map((name) => settings.get(name)), ['/flag', '5.6.7.8:2', '9']);
  t.equal(Settings.load(() => undefined, KNOWN, {}).get('data'), undefined, 'nothing anywhere: the default is the caller\'s');
  t.throws(() => Settings.load(() => undefined, KNOWN, { DFS_CONFIG: '/nonexistent/dfs.conf' }), /cannot read the config file \/nonexistent\/dfs.conf/);
});
