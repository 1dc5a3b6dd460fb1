// Careless and hostile input on the client's side, through real `build/dfs` processes: a
// put whose file changes while read leaves the remote file as it was; get follows symlinks, writes into devices and
// FIFOs, keeps a file's mode, and leaves nothing when interrupted; names with control characters never reach the
// terminal raw; cat into a closed pipe or a full disk ends in one line; put - and get - through pipes; `nodes` shows each node to the admin only.

import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { ADMIN_PASSWORD, DFS, runDfs, sharedCluster, startCluster, tempDir, waitFor, type TestCluster } from '../helpers/binary';
import { loginAt } from '../helpers/client';
import { blobFiles, masterAddress, shellEnv } from '../helpers/cluster';
import { openTerminal } from '../helpers/terminal';
import { Interrupted } from '../../src/wire/errors';
import { randomFile, sha256Of } from '../helpers/files';

const MIB = 1024 * 1024;
/** One node and one copy per file, for the tests below that only put and read their own paths. */
const oneNode = sharedCluster(t, 1, ['--replicas', '1']);

function shell(cluster: TestCluster, command: string, user = 'admin'): ReturnType<typeof runDfs> {
  return runDfs(['shell', masterAddress(cluster), '-c', command], { env: shellEnv(cluster, user, user === 'admin' ? ADMIN_PASSWORD : undefined) });
}

t.test('put -f of a file that changes size while it is read fails and leaves the remote file as it was', async (t) => {
  const cluster = await oneNode();
  const work = await tempDir(t);
  const local = path.join(work, 'status');
  await fs.copyFile('/proc/self/status', local);
  const sha256 = await sha256Of(local);
  t.equal((await shell(cluster, `put ${local} /status`)).code, 0, 'the first put works');
  // /proc files say they hold 0 bytes and then give more.
  const changed = await shell(cluster, 'put -f /proc/self/status /status');
  t.equal(changed.code, 1, 'the put fails');
  t.equal(changed.stderr, 'dfs: put: /proc/self/status: changed size while being put\n', 'saying why');
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  t.equal((await admin.stat('/status')).sha256, sha256, 'the remote file is as it was, not empty');
});

t.test('get follows a symlink, writes into /dev/null and a FIFO, keeps a 0600 file private, and an interrupted get leaves no .part', async (t) => {
  const cluster = await oneNode();
  const work = await tempDir(t);
  const source = path.join(work, 'source');
  await randomFile(source, 3 * MIB);
  const sha256 = await sha256Of(source);
  t.equal((await shell(cluster, `put ${source} /f`)).code, 0);

  const real = path.join(work, 'real');
  const link = path.join(work, 'link');
  await fs.writeFile(real, 'old');
  await fs.symlink('real', link);
  t.equal((await shell(cluster, `get /f ${link}`)).code, 0, 'get onto a symlink');
  t.ok((await fs.lstat(link)).isSymbolicLink(), 'the link is still a link');
  t.equal(await sha256Of(real), sha256, 'and the file it points to has the bytes');

  const devNull = await shell(cluster, 'get /f /dev/null');
  t.equal(devNull.code, 0, `get onto /dev/null: ${devNull.stderr}`);
  t.ok((await fs.stat('/dev/null')).isCharacterDevice(), '/dev/null is still a device');

  const fifo = path.join(work, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = spawn('sh', ['-c', `cat ${fifo} > ${path.join(work, 'from-fifo')}`]);
  const readerDone = new Promise((resolve) => reader.once('exit', resolve));
  t.equal((await shell(cluster, `get /f ${fifo}`)).code, 0, 'get into a FIFO');
  await readerDone;
  t.ok((await fs.stat(fifo)).isFIFO(), 'the FIFO is still a FIFO');
  t.equal(await sha256Of(path.join(work, 'from-fifo')), sha256, 'its reader got the bytes');

  const secret = path.join(work, 'secret');
  await fs.writeFile(secret, 'old', { mode: 0o600 });
  await fs.chmod(secret, 0o600);
  t.equal((await shell(cluster, `get /f ${secret}`)).code, 0, 'get over a 0600 file');
  t.equal(((await fs.stat(secret)).mode & 0o777).toString(8), '600', 'it stays 0600');

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const big = path.join(work, `big-${signal}`);
    await randomFile(big, 96 * MIB);
    t.equal((await shell(cluster, `put ${big} /big-${signal}`)).code, 0);
    const target = path.join(work, `down-${signal}`);
    const child = spawn(DFS, ['shell', masterAddress(cluster), '-c', `get /big-${signal} ${target}`], { env: shellEnv(cluster), stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor('the download to start', async () => ((await fs.readdir(work)).some((name) => name.startsWith(`.down-${signal}.`) && name.endsWith('.part')) ? true : undefined));
    child.kill(signal);
    const code = await exited;
    t.equal(code, signal === 'SIGINT' ? 130 : 143, `${signal}: the shell exits as the signal would`);
    t.same((await fs.readdir(work)).filter((name) => name.includes(`down-${signal}`)), [], `${signal}: neither the target nor a .part file is left`);
  }
});

t.test('names with ESC, BEL, newlines and bidi controls are shown escaped by ls, find, tree, stat and in errors', async (t) => {
  const cluster = await oneNode();
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const hostile = ['title\x1b]0;pwned\x07', 'two\nlines', 'gpj.\u202eexe', 'red\x1b[31m'];
  await admin.mkdir('/d', false);
  for (const name of hostile) await admin.mkdir(`/d/${name}`, false);
  const run = await shell(cluster, 'ls /d; ls -l /d; find /d; tree /d; cd /d; stat "red\x1b[31m"; cat "/nope\x1b[2J"');
  const raw = /[\x00-\x08\x0b-\x1f\x7f\u202e]/u;
  t.notMatch(run.stdout, raw, 'no control character on stdout');
  t.notMatch(run.stderr, raw, 'nor on stderr');
  t.match(run.stdout, "$'title\\033]0;pwned\\007'", 'an ESC name shows as $\'…\\033…\'');
  t.match(run.stdout, "$'two\\nlines'", 'a newline as \\n');
  t.match(run.stdout, "$'gpj.\\u202eexe'", 'a bidi override as \\u202e');
  t.match(run.stderr, "dfs: cat: $'/nope\\033[2J': No such file or directory", 'an error names the path escaped');
});

t.test('cat into a closed pipe ends quietly with status 0; into a full disk with one line and status 1', async (t) => {
  const cluster = await oneNode();
  const work = await tempDir(t);
  const local = path.join(work, 'big');
  await randomFile(local, 20 * MIB);
  t.equal((await shell(cluster, `put ${local} /big`)).code, 0);
  const env = shellEnv(cluster);
  const pipe = await runDfs(['-c', `"${DFS}" shell ${masterAddress(cluster)} -c 'cat /big' | head -c 10 > /dev/null; echo "status \${PIPESTATUS[0]}"`], { command: 'bash', env });
  t.equal(pipe.stdout, 'status 0\n', 'cat | head: status 0');
  t.equal(pipe.stderr, '', 'and nothing on stderr');
  const full = await runDfs(['-c', `"${DFS}" shell ${masterAddress(cluster)} -c 'cat /big' > /dev/full; echo "status $?"`], { command: 'bash', env });
  t.equal(full.stdout, 'status 1\n', 'cat > /dev/full: status 1');
  t.equal(full.stderr, 'dfs: cat: standard output: No space left on device\n', 'one line saying why, no stack trace');
});

t.test('nodes: the admin sees each node; anyone else only the totals', async (t) => {
  const cluster = await startCluster(t, 2);
  const admin = await shell(cluster, 'nodes');
  t.match(admin.stdout, /^NODE\s+ADDRESS\s+STATE/, 'the admin sees the table');
  t.match(admin.stdout, /127\.0\.0\.1:\d+/, 'with addresses');
  t.match(admin.stdout, /^2 nodes: 2 alive, 0 full, 0 dead; capacity /m, 'and the totals');
  const shared = await shell(cluster, 'nodes', 'shared');
  t.match(shared.stdout, /^2 nodes: 2 alive, 0 full, 0 dead; capacity \S+, used \S+, free \S+\n$/, `shared sees the totals only: ${shared.stdout.trim()}`);
  t.notMatch(shared.stdout, /127\.0\.0\.1/, 'no node address');
});

t.test('pipes: put - reads stdin (made whole, then put and verified), get REMOTE - writes stdout, into a closed pipe quietly; put makes missing parents', async (t) => {
  const cluster = await oneNode();
  const work = await tempDir(t);
  const local = path.join(work, 'piped');
  await randomFile(local, 3 * MIB + 11);
  const env = shellEnv(cluster);
  const address = masterAddress(cluster);
  const up = await runDfs(['-c', `cat "${local}" | "${DFS}" shell ${address} -c 'put - /pipes/deep/in.bin'`], { command: 'bash', env });
  t.same([up.code, up.stderr], [0, ''], 'cat FILE | dfs shell -c "put - REMOTE" succeeds, making /pipes/deep');
  t.match(up.stdout, '/pipes/deep/in.bin: replicated 1/1');
  const down = await runDfs(['-c', `"${DFS}" shell ${address} -c 'get /pipes/deep/in.bin -' | sha256sum`], { command: 'bash', env });
  t.equal(down.stdout.split(' ')[0], await sha256Of(local), 'get REMOTE - | sha256sum: the same bytes');
  const closed = await runDfs(['-c', `"${DFS}" shell ${address} -c 'get /pipes/deep/in.bin -' | head -c 10 > /dev/null; echo "status \${PIPESTATUS[0]}"`], { command: 'bash', env });
  t.same([closed.stdout, closed.stderr], ['status 0\n', ''], 'get - | head: status 0, nothing on stderr');
  const interactiveStdin = await runDfs(['shell', address], { env, input: 'put - /x\n' });
  t.match(interactiveStdin.stderr, 'dfs: put: standard input is not data here', 'put - where stdin holds the commands is refused');
  const parents = await shell(cluster, `put ${local} /made/on/the/way/f; stat /made/on/the/way/f`);
  t.equal(parents.code, 0, `put makes missing parents, as HDFS does\n${parents.stderr}`);
  t.match(parents.stdout, /Size:\s+3145739/);
  const overFile = await shell(cluster, `put ${local} /pipes/deep/in.bin/below`);
  t.equal(overFile.code, 1, 'a file where a parent should be is still an error');
});

t.test('head and tail: lines (10 by default) or bytes; head stops the download; several files get headers', async (t) => {
  const cluster = await oneNode();
  const work = await tempDir(t);
  const local = path.join(work, 'lines');
  await fs.writeFile(local, Array.from({ length: 200_000 }, (_, index) => `${index + 1}\n`).join(''));
  t.equal((await shell(cluster, `put ${local} /lines`)).code, 0);
  const run = await shell(cluster, 'head /lines; head -n 3 /lines; head -c 5 /lines; tail -n 2 /lines; tail -c 7 /lines; head -n1 /lines /lines; whoami');
  t.same([run.code, run.stderr], [0, ''], 'every command succeeded, and the next one ran after each head');
  t.equal(
    run.stdout,
    `${Array.from({ length: 10 }, (_, index) => `${index + 1}\n`).join('')}1\n2\n3\n1\n2\n3199999\n200000\n200000\n==> /lines <==\n1\n\n==> /lines <==\n1\nadmin\n`,
  );
  const bad = await shell(cluster, 'head -n x /lines');
  t.equal(bad.code, 1, 'a count that is not one is a usage error');
  t.match(bad.stderr, /usage: head/);
});

t.test('shell -e stops at the first failing command; touch, count, lpwd, lcd, lls', async (t) => {
  const cluster = await oneNode();
  const env = shellEnv(cluster);
  const address = masterAddress(cluster);
  const stopped = await runDfs(['shell', address, '-e', '-c', 'mkdir /e; rm /e/missing; mkdir /e/never']);
  const stoppedEnv = await runDfs(['shell', address, '-e', '-c', 'mkdir -p /e2; rm /e2/missing; mkdir /e2/never'], { env });
  t.equal(stopped.code, 1, 'without a login it fails anyway');
  t.same([stoppedEnv.code, stoppedEnv.stderr], [1, 'dfs: rm: /e2/missing: No such file or directory\n'], '-e: status 1, one error');
  t.equal((await shell(cluster, 'ls /e2')).stdout, '', 'the command after the failing one did not run');
  const script = await runDfs(['shell', address, '-e'], { env, input: 'mkdir -p /e3\nrm /e3/missing\nmkdir /e3/never\n' });
  t.equal(script.code, 1, '-e from stdin: status 1');
  t.equal((await shell(cluster, 'ls /e3')).stdout, '', 'and the next line did not run');
  const bang = await runDfs(['shell', address], { env, input: '!echo "local $((1+2))"; echo two\n!exit 3\nwhoami\n' });
  t.same([bang.code, bang.stdout], [1, 'local 3\ntwo\nadmin\n'], '!COMMAND: the rest of the line runs in sh; its failure fails the line, the shell goes on');
  const bangStops = await runDfs(['shell', address, '-e'], { env, input: '!false\nmkdir /bang-never\n' });
  t.equal(bangStops.code, 1, '-e: a failing !COMMAND stops the shell');
  const without = await shell(cluster, 'mkdir -p /e4; rm /e4/missing; mkdir /e4/ran');
  t.same([without.code, (await shell(cluster, 'ls /e4')).stdout], [1, 'ran\n'], 'without -e every command runs, status 1');

  const touched = await shell(cluster, 'mkdir -p /t/d; touch /t/a /t/d/b; stat /t/a; touch /t/a; count /t; touch /nope/x');
  t.equal(touched.code, 1, 'touch under a missing directory fails');
  t.match(touched.stdout, /Size:\s+0 /, 'touch made an empty file');
  t.match(touched.stdout, /^\s+2\s+2\s+0 \/t$/m, 'count: 2 directories (/t itself and /t/d), 2 files, 0 bytes');
  t.match(touched.stderr, 'dfs: touch: /nope/x: No such file or directory');
  const work = await tempDir(t);
  await fs.mkdir(path.join(work, 'sub'));
  await fs.writeFile(path.join(work, 'file'), 'x');
  const local = await shell(cluster, `lcd ${work}; lpwd; lls; lcd sub; lpwd; lcd /nowhere-at-all`);
  t.equal(local.stdout, `${work}\nfile\nsub/\n${path.join(work, 'sub')}\n`, 'lcd, lpwd, lls');
  t.match(local.stderr, 'dfs: lcd: /nowhere-at-all: No such file or directory');
  const listed = await shell(cluster, 'mkdir -p /ls/.h /ls/d; touch /ls/d/f; ls /ls; ls -a /ls; ls -R /ls');
  t.same([listed.code, listed.stdout], [0, 'd\n.h\nd\n/ls:\nd\n\n/ls/d:\nf\n'], 'ls hides dot names, -a shows them, -R goes down');
  const parallel = await Promise.all(Array.from({ length: 8 }, () => shell(cluster, 'whoami')));
  t.same(parallel.map((result) => [result.code, result.stdout]), parallel.map(() => [0, 'admin\n']), '8 shells started at once all log in: those behind the others are asked to retry, and do');
  const parsed: unknown[] = [];
  for (const line of ['ls --json /ls/d', 'stat --json /ls/d/f', 'find /ls --json', 'du --json /ls', 'df --json', 'nodes --json']) {
    const result = await shell(cluster, line);
    t.equal(result.code, 0, `${line}: ${result.stderr}`);
    parsed.push(JSON.parse(result.stdout) as unknown);
  }
  t.match(parsed, [
    [{ path: '/ls/d', entries: [{ path: '/ls/d/f', name: 'f', type: 'file', size: 0 }] }],
    [{ path: '/ls/d/f', replicas: { have: 1, want: 1, nodes: [String] } }],
    [{ path: '/ls' }, { path: '/ls/.h' }, { path: '/ls/d' }, { path: '/ls/d/f' }],
    [{ path: '/ls/.h', bytes: 0 }, { path: '/ls/d', bytes: 0 }, { path: '/ls', bytes: 0 }],
    { cluster: { nodes: 1, alive: 1 }, user: { name: 'admin' } },
    { nodes: [{ state: 'alive' }], total: { nodes: 1 } },
  ], '--json: one document per command, through build/dfs');
});

t.test('several sources: put A B C DIR and get X Y DIR; the last operand must be a directory', async (t) => {
  const cluster = await oneNode();
  const work = await tempDir(t);
  for (const name of ['a', 'b', 'c']) await fs.writeFile(path.join(work, name), `${name}\n`);
  const up = await shell(cluster, `mkdir -p /many; put ${work}/a ${work}/b ${work}/c /many; ls /many`);
  t.same([up.code, up.stdout.split('\n').filter((line) => !line.includes('replicated')).join('\n')], [0, 'a\nb\nc\n'], 'put A B C DIR: all three in DIR');
  const down = path.join(work, 'down');
  await fs.mkdir(down);
  t.equal((await shell(cluster, `get /many/a /many/c ${down}`)).code, 0);
  t.same((await fs.readdir(down)).sort(), ['a', 'c'], 'get X Y DIR: both in DIR');
  const notDir = await shell(cluster, `put ${work}/a ${work}/b /many/a`);
  t.same([notDir.code, notDir.stderr], [1, 'dfs: put: target /many/a is not a directory (several files go into one)\n']);
  const partly = await shell(cluster, `get /many/b /nope ${down}`);
  t.equal(partly.code, 1, 'one missing source fails the command');
  t.match(partly.stderr, 'dfs: get: /nope: No such file or directory');
  t.same((await fs.readdir(down)).sort(), ['a', 'b', 'c'], 'and the others still came');
});

t.test('Ctrl-C in the interactive shell stops a put: the prompt comes back, nothing is left on the cluster; so does SIGTERM of a scripted put; an interrupted get leaves no file; Tab completes local paths, Ctrl-R searches', async (t) => {
  const cluster = await oneNode();
  const work = await tempDir(t);
  const big = path.join(work, 'huge.img');
  await fs.writeFile(big, '');
  await fs.truncate(big, 8 * 1024 * MIB); // sparse: read fast, sent for a long while
  const blobsBefore = (await blobFiles(cluster)).filter((file) => !file.temporary).length;
  const env = { HOME: work, DFS_HISTORY: path.join(work, 'history'), DFS_CA: path.join(cluster.masterDir, 'ca.pem'), DFS_USER: 'admin', DFS_PASSWORD: ADMIN_PASSWORD };
  const term = await openTerminal(t, { env, args: ['shell', masterAddress(cluster)], cwd: work, scrollback: true, timeoutMs: 20_000 });
  const prompt = `admin@${masterAddress(cluster)}:/$`;
  await term.waitFor('the prompt', (screen) => screen.trimEnd().endsWith(prompt));
  await term.type('put huge.im');
  await term.press('Tab');
  await term.waitFor('Tab to complete the local path', (screen) => screen.trimEnd().endsWith(`${prompt} put huge.img`));
  await term.type('/interrupted.img'); // Tab added the space after the completed name
  await term.press('Enter');
  await term.waitFor('the progress line', (screen) => /\/ 8\.0G\s+\d+%/.test(screen));
  await term.press('C-c');
  const after = await term.waitFor('the prompt back', (screen) => screen.trimEnd().endsWith(prompt) && screen.includes('dfs: put: interrupted'));
  t.match(after, '^C', 'Ctrl-C is echoed');
  t.notMatch(after, /Error|at .*\(/, 'no stack trace');
  await term.type('ls /');
  await term.press('Enter');
  const listed = await term.waitFor('ls to run', (screen) => screen.includes(`${prompt} ls /\n`) && (screen.split(`${prompt} ls /\n`).at(-1) ?? '').trimEnd().endsWith(prompt));
  t.notMatch(listed.split(`${prompt} ls /\n`).at(-1) ?? '', 'interrupted.img', 'the interrupted file does not exist');
  await waitFor('the node to drop the partial blob', async () => {
    const files = await blobFiles(cluster);
    return files.some((file) => file.temporary) ? undefined : true;
  });
  t.equal((await blobFiles(cluster)).filter((file) => !file.temporary).length, blobsBefore, 'and no blob was kept for it');
  await term.press('C-r');
  await term.type('huge');
  await term.waitFor('Ctrl-R to find the put', (screen) => screen.trimEnd().endsWith("(reverse-i-search)`huge': put huge.img /interrupted.img"));
  await term.press('C-g');
  await term.waitFor('Ctrl-G to give the empty line back', (screen) => screen.trimEnd().endsWith(prompt));
  await term.press('C-d');
  t.equal(await term.exited(), 1, 'the interrupted command counts as failed');

  const scripted = spawn(DFS, ['shell', masterAddress(cluster), '-c', `put ${big} /scripted.img`], { env: shellEnv(cluster), stdio: 'ignore' });
  const scriptedExit = new Promise<number | null>((resolve) => scripted.once('exit', (code) => resolve(code)));
  await waitFor('the scripted put to reach the node', async () => ((await blobFiles(cluster)).some((file) => file.temporary) ? true : undefined));
  scripted.kill('SIGTERM');
  t.equal(await scriptedExit, 143, 'a scripted put stopped by SIGTERM exits 143');
  await waitFor('the node to drop what it received', async () => ((await blobFiles(cluster)).some((file) => file.temporary) ? undefined : true));
  const client = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await t.rejects(client.stat('/scripted.img'), { code: 'NOT_FOUND' }, 'and nothing was committed');
  t.equal((await blobFiles(cluster)).filter((file) => !file.temporary).length, blobsBefore, 'nor any blob kept');
  const eight = path.join(work, 'eight');
  await randomFile(eight, 8 * MIB); // more than one progress step: interrupted after the first
  await client.put([{ localPath: eight, remotePath: '/eight' }]);
  const target = path.join(work, 'down');
  let interrupted = false;
  const got = client.get('/eight', target, { onProgress: () => {
    if (!interrupted) client.interrupt();
    interrupted = true;
  } });
  await t.rejects(got, Interrupted, 'get: interrupt() makes it fail with Interrupted, no other replica tried');
  t.same((await fs.readdir(work)).filter((name) => name.includes('down')), [], 'neither the target nor a .part file is left');
  await t.rejects(client.get('/eight', target), Interrupted, 'until resume(), new transfers are refused too');
  client.resume();
  t.equal((await client.get('/eight', target)).size, 8 * MIB, 'after resume() the same get succeeds');
});
