// The history file: where it lives (DFS_HISTORY), what is written (oldest first, capped at
// SHELL_HISTORY_LINES_MAX, no passwd lines, no repeats, no lines typed with a leading space),
// and that a missing file is an empty history while an unwritable one only warns, once.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { tempDir } from '../helpers/binary';
import { SHELL_HISTORY_LINES_MAX } from '../../src/limits';
import { HistoryFile, historyFilePath, isRememberable } from '../../src/shell/history';

t.test('history path: DFS_HISTORY, else ~/.dfs_history', async (t) => {
  t.equal(historyFilePath({ DFS_HISTORY: '/tmp/h' }), '/tmp/h');
  t.equal(historyFilePath({}), path.join(os.homedir(), '.dfs_history'));
  t.equal(historyFilePath({ DFS_HISTORY: '' }), path.join(os.homedir(), '.dfs_history'));
});

t.test('history: which lines are kept', async (t) => {
  t.ok(isRememberable('ls -l'));
  t.notOk(isRememberable(''));
  t.notOk(isRememberable('   '));
  t.notOk(isRememberable(' ls secret-thing'), 'a leading space keeps a line out');
  t.notOk(isRememberable('passwd'));
  t.notOk(isRememberable('ls; passwd'));
  t.ok(isRememberable('ls passwords'), 'only the word passwd counts');
});

t.test('history: lines written oldest first with mode 0600, repeats and passwd skipped', async (t) => {
  const file = path.join(await tempDir(t, 'dfs-history-'), 'history');
  const history = await HistoryFile.open(file, (message) => t.fail(message));
  t.same(history.entries(), []);
  for (const line of ['ls', 'ls', 'cd docs', 'passwd', 'pwd']) await history.remember(line);
  t.equal(await fs.readFile(file, 'utf8'), 'ls\ncd docs\npwd\n');
  t.equal((await fs.stat(file)).mode & 0o777, 0o600);
  const reopened = await HistoryFile.open(file, (message) => t.fail(message));
  t.same(reopened.entries(), ['ls', 'cd docs', 'pwd']);
  t.same(reopened.newestFirst(), ['pwd', 'cd docs', 'ls'], 'readline wants the newest first');
});

t.test('history: capped at the last SHELL_HISTORY_LINES_MAX lines, on load and on write', async (t) => {
  const file = path.join(await tempDir(t, 'dfs-history-'), 'history');
  const lines = Array.from({ length: SHELL_HISTORY_LINES_MAX + 50 }, (_, index) => `ls ${index}`);
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  const history = await HistoryFile.open(file, (message) => t.fail(message));
  t.equal(history.entries().length, SHELL_HISTORY_LINES_MAX);
  t.equal(history.entries()[0], 'ls 50');
  await history.remember('the newest');
  const written = (await fs.readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
  t.equal(written.length, SHELL_HISTORY_LINES_MAX);
  t.equal(written[0], 'ls 51');
  t.equal(written.at(-1), 'the newest');
});

t.test('history: an unwritable file warns once and the session goes on', async (t) => {
  const file = path.join(await tempDir(t, 'dfs-history-'), 'missing-dir', 'history');
  const warnings: string[] = [];
  const history = await HistoryFile.open(file, (message) => warnings.push(message));
  await history.remember('ls');
  await history.remember('pwd');
  t.equal(warnings.length, 1);
  t.match(warnings[0], /^cannot write history .*missing-dir\/history: .*\(history is kept for this session only\)$/);
  t.same(history.entries(), ['ls', 'pwd']);
});
