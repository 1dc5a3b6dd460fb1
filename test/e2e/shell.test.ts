// `dfs shell` through the built executable against a real master: -c lines, scripts on stdin,
// users and isolation as the shell shows them, and the interactive shell in a real terminal
// (tmux): prompt, tab completion of commands and remote paths, help, history across sessions,
// exit, and trust on first use of the cluster CA.

import t, { type Test } from 'tap';
import { createHash, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { formatHostPort } from '../../src/wire/address';
import { ADMIN_PASSWORD, runDfs, startCluster, tempDir, type RunResult, type TestCluster } from '../helpers/binary';
import { openTerminal, type Terminal } from '../helpers/terminal';

/** A master to point shells at, and a private DFS_HOME so nothing outside the test is read or written. */
interface Target {
  cluster: TestCluster;
  /** HOST:PORT of the master. */
  address: string;
  caFile: string;
  home: string;
}

async function startTarget(t: Test): Promise<Target> {
  const cluster = await startCluster(t, 0);
  return {
    cluster,
    address: formatHostPort(cluster.master.address),
    caFile: path.join(cluster.masterDir, 'ca.pem'),
    home: await tempDir(t, 'dfs-shell-home-'),
  };
}

/** This process's environment without any DFS_* setting, plus `extra`: nothing leaks in from outside. */
function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('DFS_')) env[key] = value;
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) env[key] = value;
  return env;
}

interface ShellRun {
  user?: string;
  password?: string;
  newPassword?: string;
  /** -c "…"; without it the commands come from `input` on stdin. */
  command?: string;
  input?: string;
  /** Replaces `--ca CAFILE`. */
  caArgs?: string[];
  env?: Record<string, string>;
}

/** `dfs shell ADDR --ca CA [--user U] [-c …]` with stdin a pipe (never a terminal). */
function shell(target: Target, run: ShellRun): Promise<RunResult> {
  const args = ['shell', target.address, ...(run.caArgs ?? ['--ca', target.caFile])];
  if (run.user !== undefined) args.push('--user', run.user);
  if (run.command !== undefined) args.push('-c', run.command);
  const env = cleanEnv({ DFS_HOME: target.home, DFS_PASSWORD: run.password, DFS_NEW_PASSWORD: run.newPassword, ...run.env });
  return runDfs(args, { env, input: run.input ?? '' });
}

const admin = (target: Target, command: string): Promise<RunResult> => shell(target, { user: 'admin', password: ADMIN_PASSWORD, command });

/** `stat`'s Modified line: local "YYYY-MM-DD HH:MM" and the ISO time. */
const MODIFIED = /^Modified: {2}(\d{4}-\d\d-\d\d \d\d:\d\d) \((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\)$/m;

function localMinute(epochMs: number): string {
  const date = new Date(epochMs);
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

t.test('-c runs every command in order, reports failures as dfs: CMD: PATH: reason, and exits 0, 1 or 2', async (t) => {
  const target = await startTarget(t);
  const run = await admin(target, 'mkdir -p /a/b; cd /a; mkdir c; ls; pwd; tree /; du -s /; find / -name b; stat /a; whoami');
  t.equal(run.stderr, '', 'nothing on stderr');
  t.equal(run.code, 0, 'every command succeeded: exit 0');
  const modified = MODIFIED.exec(run.stdout);
  t.ok(modified, 'stat shows the modification time in both forms');
  const modifiedMs = Date.parse(modified?.[2] ?? '');
  t.ok(Math.abs(Date.now() - modifiedMs) < 120_000, `the mtime ${modified?.[2]} is the time of the mkdir`);
  t.equal(modified?.[1], localMinute(modifiedMs), 'the short form is the same time in local time');
  t.equal(
    run.stdout.replace(MODIFIED, 'Modified:  <time>'),
    [
      'b', // ls in /a (not a terminal: one name per line)
      'c',
      '/a', // pwd
      '/', // tree /
      '└── a',
      '    ├── b',
      '    └── c',
      '',
      '3 directories, 0 files',
      '0\t/', // du -s /
      '/a/b', // find / -name b
      '    Path:  /a', // stat /a
      '    Kind:  directory',
      '    Size:  0 bytes',
      'Modified:  <time>',
      'admin', // whoami
      '',
    ].join('\n'),
    'the exact output of every command, in order',
  );

  const failing = await admin(target, 'mkdir /x; ls /nope; mkdir /y; ls /');
  t.equal(failing.stderr, 'dfs: ls: /nope: No such file or directory\n', 'the failure, exactly, on stderr');
  t.equal(failing.stdout, 'a\nx\ny\n', 'the commands before and after the failure ran');
  t.equal(failing.code, 1, 'one failed command: exit 1');

  const unknown = await admin(target, 'frobnicate; pwd');
  t.equal(unknown.stderr, 'dfs: frobnicate: command not found (type help for the list)\n');
  t.equal(unknown.stdout, '/\n', 'the shell went on after an unknown command');
  t.equal(unknown.code, 1);

  const unparsable = await admin(target, 'mkdir /z; ls "/x');
  t.equal(unparsable.stderr, 'dfs: syntax error: unterminated double quote\n');
  t.equal(unparsable.code, 2, 'a -c line that does not parse is a usage error: exit 2');
  t.equal((await admin(target, 'ls /')).stdout, 'a\nx\ny\n', 'nothing of the unparsable line ran (no /z)');

  const usage: Array<[string, ShellRun & { address?: boolean }, RegExp]> = [
    ['no master address', { address: false, user: 'admin', password: ADMIN_PASSWORD, command: 'pwd' }, /^dfs: no master given: dfs shell HOST:PORT or DFS_MASTER\n$/],
    ['-c without its value', { caArgs: ['--ca', target.caFile, '-c'] }, /^dfs: option `-c <commands>` value is missing/],
    ['an unknown option', { caArgs: ['--ca', target.caFile, '--frobnicate'], command: 'pwd' }, /^dfs: Unknown option `--frobnicate`/],
    ['a missing CA file', { caArgs: ['--ca', path.join(target.home, 'nope.pem')], command: 'pwd' }, /^dfs: cannot use CA file .*nope\.pem: ENOENT/],
  ];
  for (const [what, options, message] of usage) {
    const result =
      options.address === false
        ? await runDfs(['shell', '--ca', target.caFile, '--user', 'admin', '-c', 'pwd'], { env: cleanEnv({ DFS_HOME: target.home, DFS_PASSWORD: ADMIN_PASSWORD }) })
        : await shell(target, options);
    t.equal(result.code, 2, `${what}: exit 2`);
    t.match(result.stderr, message, `${what}: says what is wrong`);
    t.equal(result.stdout, '', `${what}: no output`);
  }

  // cac (mri) turns number-like option values into numbers; main.ts reads back what was typed.
  const blank = await shell(target, { user: 'admin', password: ADMIN_PASSWORD, command: '' });
  t.equal(blank.code, 2, '-c "": exit 2');
  t.match(blank.stderr, /^dfs: -c needs the commands to run/, '-c "": says what is wrong');

  const noCa = await shell(target, { caArgs: [], user: 'admin', password: ADMIN_PASSWORD, command: 'mkdir /untrusted' });
  t.equal(noCa.code, 1, 'no CA and no terminal to ask: exit 1');
  t.match(noCa.stderr, /^dfs: no CA to verify the master 127\.0\.0\.1:\d+ with: pass --ca FILE \(or set DFS_CA\)/, 'no CA: says to pass --ca');
  t.same(await fs.readdir(target.home), [], 'without a terminal nothing is trusted or remembered');
  const viaEnv = await shell(target, { caArgs: [], user: 'admin', password: ADMIN_PASSWORD, env: { DFS_CA: target.caFile }, command: 'ls /' });
  t.equal(viaEnv.stdout, 'a\nx\ny\n', 'DFS_CA works like --ca (and /untrusted was never made)');
  t.equal(viaEnv.code, 0);
});

t.test('commands on stdin (not a terminal): no prompt, comments and blank lines skipped, exit stops, status 0 or 1', async (t) => {
  const target = await startTarget(t);
  const script = ['# set up a project', 'mkdir -p /s/t', '', 'cd /s', '   ', 'pwd', 'ls', '  whoami   # who runs this', 'exit', 'mkdir /never'].join('\n');
  const run = await shell(target, { user: 'admin', password: ADMIN_PASSWORD, input: `${script}\n` });
  t.equal(run.stderr, '');
  t.equal(run.stdout, '/s\nt\nadmin\n', 'only the commands\' output: no banner, no prompt');
  t.equal(run.code, 0);
  t.equal((await admin(target, 'ls /')).stdout, 's\n', 'nothing after exit ran (no /never)');

  const failing = await shell(target, { user: 'admin', password: ADMIN_PASSWORD, input: 'ls /nope\nmkdir /after\nls /\n' });
  t.equal(failing.stderr, 'dfs: ls: /nope: No such file or directory\n');
  t.equal(failing.stdout, 'after\ns\n', 'the lines after a failure still ran');
  t.equal(failing.code, 1, 'a failed line: exit 1');

  const syntax = await shell(target, { user: 'admin', password: ADMIN_PASSWORD, input: 'mkdir "/open\ncd /s; pwd\n' });
  t.equal(syntax.stderr, 'dfs: syntax error: unterminated double quote\n');
  t.equal(syntax.stdout, '/s\n', 'the next line still ran');
  t.equal(syntax.code, 1, 'a line that does not parse fails the script: exit 1');

  const crlf = await shell(target, { user: 'admin', password: ADMIN_PASSWORD, input: 'cd /s/t\r\npwd' });
  t.equal(crlf.stderr, '', 'CRLF line ends are fine');
  t.equal(crlf.stdout, '/s/t\n', 'a last line without a newline runs');
  t.equal(crlf.code, 0);

  const empty = await shell(target, { user: 'admin', password: ADMIN_PASSWORD, input: '' });
  t.same([empty.code, empty.stdout, empty.stderr], [0, '', ''], 'an empty script logs in, does nothing, exits 0');
});

t.test('users through the shell: useradd, isolation in every command, wrong passwords, the shared user', async (t) => {
  const target = await startTarget(t);
  const added = await shell(target, { user: 'admin', password: ADMIN_PASSWORD, newPassword: 'alice-pw', command: 'useradd alice' });
  t.same([added.code, added.stdout, added.stderr], [0, 'added user alice\n', ''], 'admin adds alice with DFS_NEW_PASSWORD');
  t.equal((await shell(target, { user: 'admin', password: ADMIN_PASSWORD, newPassword: 'bob-password', command: 'useradd bob' })).code, 0, 'admin adds bob');
  const again = await shell(target, { user: 'admin', password: ADMIN_PASSWORD, newPassword: 'long-enough', command: 'useradd alice' });
  t.same([again.code, again.stderr], [1, 'dfs: useradd: user alice already exists\n'], 'a user cannot be added twice');
  const noNewPassword = await admin(target, 'useradd carol');
  t.equal(noNewPassword.code, 1, 'useradd without a terminal and without DFS_NEW_PASSWORD fails');
  t.match(noNewPassword.stderr, /^dfs: useradd: no terminal to ask for a new password for carol: set DFS_NEW_PASSWORD/);

  const alice = (command: string): Promise<RunResult> => shell(target, { user: 'alice', password: 'alice-pw', command });
  const bob = (input: string): Promise<RunResult> => shell(target, { user: 'bob', password: 'bob-password', input });
  const made = await alice('whoami; mkdir -p /secret-plans/deep-vault/q3-budget; mkdir alice-notes');
  t.same([made.code, made.stdout, made.stderr], [0, 'alice\n', ''], 'alice logs in and makes her tree');
  const aliceTree = ['/', '├── alice-notes', '└── secret-plans', '    └── deep-vault', '        └── q3-budget', '', '4 directories, 0 files', ''].join('\n');
  t.equal((await alice('tree /')).stdout, aliceTree, 'alice sees her tree');
  const aliceNames = ['secret-plans', 'deep-vault', 'q3-budget', 'alice-notes', 'alice'];

  // Browsing: bob never types alice's names, and none may show up.
  const browse = ['ls', 'ls -l /', 'ls -lh ~', 'cd /', 'find /', 'find / -type d', "find . -name '*'", 'du /', 'du -sh /', 'tree', 'tree /', 'stat /', 'cd ~; pwd'].join('\n');
  const bobMade = await bob('mkdir -p /bobs/stuff\nwhoami\n');
  t.same([bobMade.code, bobMade.stdout, bobMade.stderr], [0, 'bob\n', ''], 'bob logs in and makes his tree');
  const bobBrowses = await bob(`${browse}\n`);
  t.equal(bobBrowses.code, 0, 'bob browses his own tree');
  t.equal(bobBrowses.stderr, '');
  for (const name of aliceNames) t.notMatch(bobBrowses.stdout + bobBrowses.stderr, name, `bob's ls, find, du, tree, stat never show "${name}"`);
  t.match(bobBrowses.stdout, /^\/bobs\/stuff$/m, 'bob sees his own names (find /)');
  // The same browsing as alice shows every one of her names: the check above would catch a leak.
  const aliceBrowses = await shell(target, { user: 'alice', password: 'alice-pw', input: `${browse}\n` });
  for (const name of aliceNames.slice(0, 4)) t.match(aliceBrowses.stdout, name, `the same commands as alice show "${name}"`);
  t.notMatch(aliceBrowses.stdout, 'bobs', 'and alice does not see bob\'s names');

  // Probing: bob types alice's paths; every answer must be what a path nobody has gets.
  const probe = (top: string, deep: string, notes: string): string =>
    [
      `ls /${top}`,
      `ls -l ${top}/${deep}`,
      `cd /${top}`,
      `cd ${top}/${deep}`,
      `find /${top}`,
      `find /${top}/${deep} -name '*'`,
      `du /${top}`,
      `du -s ${top}`,
      `tree /${top}`,
      `stat /${top}`,
      `stat /${notes}`,
      `mv /${top} /bobs/taken`,
      `mv /${notes} /bobs`,
      `mv /bobs/stuff /${top}/${deep}/stuff`,
      `rm /${notes}`,
      `rm -r /${top}`,
      `rm -rf /${top}/${deep}`,
      'pwd',
      '',
    ].join('\n');
  const probed = await bob(probe('secret-plans', 'deep-vault', 'alice-notes'));
  const control = await bob(probe('never-made', 'nor-this', 'nothing-here'));
  const asControl = (text: string): string => text.replaceAll('secret-plans', 'never-made').replaceAll('deep-vault', 'nor-this').replaceAll('alice-notes', 'nothing-here');
  t.equal(control.code, 1, 'the control probe (paths nobody has) fails');
  t.equal(probed.code, control.code, 'bob\'s probe of alice\'s paths exits like the control');
  t.equal(asControl(probed.stdout), control.stdout, 'stdout is the same as for paths nobody has');
  t.equal(asControl(probed.stderr), control.stderr, 'stderr is the same as for paths nobody has');
  t.equal(probed.stdout, '/\n', 'only pwd printed anything: every cd failed');
  const errorLines = probed.stderr.split('\n').filter((line) => line !== '');
  t.equal(errorLines.length, 16, 'one error per probing command (rm -f is silent)');
  for (const line of errorLines) t.match(line, /^dfs: (ls|cd|find|du|tree|stat|mv|rm): .*No such file or directory$/, `"${line}" reveals nothing`);
  t.notMatch(probed.stdout + probed.stderr, 'q3-budget', 'a name bob never typed never appears');
  t.equal((await alice('tree /')).stdout, aliceTree, 'alice\'s tree is untouched by bob\'s mv and rm');
  t.equal((await bob('find /\n')).stdout, '/\n/bobs\n/bobs/stuff\n', 'and bob\'s is as he made it');

  const notAdmin = await bob('useradd mallory\n');
  t.equal(notAdmin.code, 1, 'bob cannot add users');
  t.match(notAdmin.stderr, /^dfs: useradd: only an admin can add users \(you are bob\)/);

  const wrong = await shell(target, { user: 'alice', password: 'not-alices', command: 'mkdir /should-not-exist' });
  t.equal(wrong.code, 1, 'a wrong password: exit 1');
  t.equal(wrong.stderr, 'dfs: wrong user name or password\n', 'a wrong password: one clear line, no stack trace');
  t.equal(wrong.stdout, '');
  const stranger = await shell(target, { user: 'nobody', password: 'x', command: 'pwd' });
  t.same([stranger.code, stranger.stderr], [1, 'dfs: wrong user name or password\n'], 'an unknown user gets the same answer as a wrong password');
  const noPassword = await shell(target, { user: 'alice', command: 'pwd' });
  t.equal(noPassword.code, 1, 'no password and no terminal: exit 1');
  t.match(noPassword.stderr, /^dfs: no password for alice: set DFS_PASSWORD/);
  t.notMatch((await alice('ls /')).stdout, 'should-not-exist', 'nothing ran after the failed login');

  const shared = await shell(target, { user: 'shared', command: 'whoami; mkdir /common' });
  t.same([shared.code, shared.stdout, shared.stderr], [0, 'shared\n', ''], 'shared logs in without a password');
  const byDefault = await shell(target, { command: 'whoami; ls /' });
  t.same([byDefault.code, byDefault.stdout, byDefault.stderr], [0, 'shared\ncommon\n', ''], 'without --user the shell is shared, and sees what shared made');
  const viaEnv = await shell(target, { env: { DFS_USER: 'alice', DFS_PASSWORD: 'alice-pw' }, command: 'whoami' });
  t.equal(viaEnv.stdout, 'alice\n', 'DFS_USER picks the user');
});

// ---- the interactive shell in a real terminal (tmux) ------------------------------------------

/** The screen's lines, scrollback included, without the blank lines below the last text. */
function screenLines(screen: string): string[] {
  const lines = screen.split('\n');
  while (lines.length > 0 && lines.at(-1)?.trim() === '') lines.pop();
  return lines;
}

const lastLine = (screen: string): string => screenLines(screen).at(-1) ?? '';

async function expectLastLine(t: Test, term: Terminal, expected: string, what: string): Promise<string> {
  const screen = await term.waitFor(what, (text) => lastLine(text) === expected).catch(() => term.screen());
  t.equal(lastLine(screen), expected, what);
  if (lastLine(screen) !== expected) throw new Error(`stopping: ${what} did not happen; the screen:\n${screen}`);
  return screen;
}

/** The prompt as the screen shows it (tmux drops the trailing space). */
const promptOf = (user: string, address: string, cwd: string): string => `${user}@${address}:${cwd}$`;

/** Types a line, presses Enter, waits for the next prompt; returns what the line printed. */
async function runTyped(term: Terminal, prompt: string, line: string, nextPrompt = prompt): Promise<string[]> {
  await term.type(line);
  await term.press('Enter');
  const screen = await term.waitFor(`"${line}" to finish (prompt ${nextPrompt})`, (text) => {
    const lines = screenLines(text);
    return lines.at(-1) === nextPrompt && lines.lastIndexOf(`${prompt} ${line}`) >= 0;
  });
  const lines = screenLines(screen);
  return lines.slice(lines.lastIndexOf(`${prompt} ${line}`) + 1, -1);
}

t.test('interactively in a terminal: prompt, tab completion, help, history across sessions, exit', async (t) => {
  const target = await startTarget(t);
  const made = await admin(target, 'mkdir -p /projects/alpha-release /projects/beta');
  t.equal(made.code, 0, 'set up /projects with -c');
  const history = path.join(target.home, 'hist');
  const env = { HOME: target.home, DFS_HOME: target.home, DFS_HISTORY: history, DFS_PASSWORD: ADMIN_PASSWORD };
  const args = ['shell', target.address, '--ca', target.caFile, '--user', 'admin'];
  const at = (cwd: string): string => promptOf('admin', target.address, cwd);

  const term = await openTerminal(t, { env, args, scrollback: true });
  const first = await expectLastLine(t, term, at('/'), 'the prompt is user@HOST:PORT:/cwd$');
  t.match(first, `Connected to ${target.address} as admin (admin).`, 'a banner says where and who');

  await term.type('whoa');
  await term.press('Tab');
  await expectLastLine(t, term, `${at('/')} whoami`, 'Tab completes the command name whoa → whoami');
  await term.press('Enter');
  const whoami = await expectLastLine(t, term, at('/'), 'the completed command ran');
  t.same(screenLines(whoami).slice(-3), [`${at('/')} whoami`, 'admin', at('/')], 'and printed admin');

  t.same(await runTyped(term, at('/'), 'cd /projects', at('/projects')), [], 'cd prints nothing');
  t.equal(lastLine(await term.screen()), at('/projects'), 'the prompt shows the new working directory');
  t.same(await runTyped(term, at('/projects'), 'ls', at('/projects')), ['alpha-release/  beta/'], 'ls at a terminal: columns, / after directories');

  await term.type('cd /projects/al');
  await term.press('Tab');
  await expectLastLine(t, term, `${at('/projects')} cd /projects/alpha-release/`, 'Tab completes the remote path /projects/al → /projects/alpha-release/');
  await term.press('Enter');
  await expectLastLine(t, term, at('/projects/alpha-release'), 'Enter runs the completed cd: the prompt shows /projects/alpha-release');
  t.same(await runTyped(term, at('/projects/alpha-release'), 'pwd'), ['/projects/alpha-release'], 'pwd agrees');

  const help = (await runTyped(term, at('/projects/alpha-release'), 'help')).join('\n');
  t.match(help, /^Commands \(PATH is absolute/, 'help starts with the command list');
  t.match(help, /Type "help CMD" for details\.$/, 'and ends with how to get details');
  for (const name of ['ls', 'cd', 'pwd', 'mkdir', 'rm', 'mv', 'stat', 'find', 'du', 'tree', 'whoami', 'passwd', 'useradd', 'nodes', 'help', 'exit']) {
    t.match(help, new RegExp(`^  ${name}\\b`, 'm'), `help lists ${name}`);
  }
  t.same(await runTyped(term, at('/projects/alpha-release'), 'help cd'), ['usage: cd [PATH]', '  change the working directory (no PATH: ~, your root)'], 'help CMD explains one');

  t.same(await runTyped(term, at('/projects/alpha-release'), 'ls /nope'), ['dfs: ls: /nope: No such file or directory'], 'a failure is shown and the shell goes on');
  await term.type('exit');
  await term.press('Enter');
  t.equal(await term.exited(), 1, 'exit ends the shell; a command failed in the session, so the status is 1');

  const remembered = (await fs.readFile(history, 'utf8')).split('\n');
  t.same(
    remembered.map((line) => line.trimEnd()),
    ['whoami', 'cd /projects', 'ls', 'cd /projects/alpha-release/', 'pwd', 'help', 'help cd', 'ls /nope', 'exit', ''],
    'the history file holds every line typed, oldest first',
  );
  t.equal((await fs.stat(history)).mode & 0o777, 0o600, 'the history file is private');

  const second = await openTerminal(t, { env, args, scrollback: true });
  await expectLastLine(t, second, at('/'), 'the second session starts at the prompt');
  const recalls = ['exit', 'ls /nope', 'help cd', 'help', 'pwd', 'cd /projects/alpha-release/'];
  for (const [index, line] of recalls.entries()) {
    await second.press('Up');
    await expectLastLine(t, second, `${at('/')} ${line}`, `Up #${index + 1} recalls "${line}" from the last session`);
  }
  await second.press('Enter');
  await expectLastLine(t, second, at('/projects/alpha-release'), 'Enter runs the recalled cd');
  await second.press('C-d');
  t.equal(await second.exited(), 0, 'Ctrl-D on an empty line leaves; nothing failed: status 0');
  const after = (await fs.readFile(history, 'utf8')).trimEnd().split('\n');
  t.equal(after.at(-1)?.trimEnd(), 'cd /projects/alpha-release/', 'the recalled command was added to the history');
});

t.test('interactively without --ca: the CA fingerprint is shown, trusted on y, remembered; n saves nothing', async (t) => {
  const target = await startTarget(t);
  const caPem = await fs.readFile(target.caFile, 'utf8');
  const ca = new X509Certificate(caPem);
  const expectedFingerprint = ca.fingerprint256;
  t.match(expectedFingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'the test computed the CA fingerprint');
  const at = promptOf('admin', target.address, '/');
  const question = 'Trust this cluster CA? [y/N]';
  const args = ['shell', target.address, '--user', 'admin'];

  // Saying no: nothing is saved, the shell exits 1.
  const refuseHome = await tempDir(t, 'dfs-shell-home-');
  const refuse = await openTerminal(t, { env: { HOME: refuseHome, DFS_HOME: refuseHome, DFS_HISTORY: path.join(refuseHome, 'hist'), DFS_PASSWORD: ADMIN_PASSWORD }, args, scrollback: true });
  await expectLastLine(t, refuse, question, 'an empty DFS_HOME: the shell asks whether to trust the CA');
  await refuse.type('n');
  await refuse.press('Enter');
  t.equal(await refuse.exited(), 1, 'answering n: the shell exits 1');
  t.match(await refuse.screen(), 'dfs: not trusted; nothing was saved', 'and says nothing was saved');
  t.same(await fs.readdir(refuseHome), [], 'DFS_HOME stays empty');

  const home = target.home;
  const env = { HOME: home, DFS_HOME: home, DFS_HISTORY: path.join(home, 'hist') };
  const first = await openTerminal(t, { env: { ...env, DFS_PASSWORD: ADMIN_PASSWORD }, args, scrollback: true });
  const asked = await expectLastLine(t, first, question, 'the shell asks whether to trust the CA');
  t.match(asked, `The authenticity of the dfs master ${target.address} can't be established.`, 'the shell says it cannot verify the master');
  t.ok(screenLines(asked).includes(`  ${expectedFingerprint}`), `the fingerprint shown is the SHA-256 of the master's ca.pem (${expectedFingerprint})`);
  await first.type('y');
  await first.press('Enter');
  const trusted = await expectLastLine(t, first, at, 'answering y logs in: the prompt');
  t.match(trusted, `Remembered the CA of ${target.address} in ${path.join(home, 'known_masters')}`, 'the shell says where it remembered the CA');
  t.same(await runTyped(first, at, 'whoami'), ['admin'], 'logged in over the trusted CA');
  await first.press('C-d');
  t.equal(await first.exited(), 0);
  const digest = createHash('sha256').update(ca.raw).digest('hex');
  t.equal(await fs.readFile(path.join(home, 'known_masters'), 'utf8'), `${target.address} ${digest}\n`, 'known_masters has HOST:PORT and the CA digest');
  const stored = new X509Certificate(await fs.readFile(path.join(home, 'cas', `${digest}.pem`), 'utf8'));
  t.ok(stored.raw.equals(ca.raw), 'and the CA certificate itself, in cas/DIGEST.pem');

  // Remembered: no question. Without DFS_PASSWORD the password is asked, and not echoed.
  const second = await openTerminal(t, { env, args, scrollback: true });
  const passwordQuestion = `Password for admin@${target.address}:`;
  await expectLastLine(t, second, passwordQuestion, 'the CA is remembered: the next question is the password');
  await second.type(ADMIN_PASSWORD);
  await second.press('Enter');
  const loggedIn = await expectLastLine(t, second, at, 'the typed password logs in: the prompt');
  t.notMatch(loggedIn, 'Trust this', 'the second session asks no trust question');
  t.notMatch(loggedIn, 'authenticity', 'nor shows the fingerprint again');
  t.notMatch(loggedIn, ADMIN_PASSWORD, 'the typed password is not echoed');
  t.same(await runTyped(second, at, 'pwd'), ['/'], 'the shell works');
  await second.type('exit');
  await second.press('Enter');
  t.equal(await second.exited(), 0, 'exit after only successful commands: status 0');
  t.equal(await fs.readFile(path.join(home, 'known_masters'), 'utf8'), `${target.address} ${digest}\n`, 'known_masters did not grow');
});
