// The admin's user tools through `dfs shell` against real processes: users, quota (a put or cp past it fails before
// any byte moves and leaves nothing), df, unlock after a lockout, passwd NAME ending the user's sessions, and
// userdel (refused while the user owns files; with -r their blobs are deleted from the nodes). Non-admins are
// refused each of them.

import * as path from 'node:path';
import t from 'tap';
import { LOGIN_FAILURES_MAX } from '../../src/limits';
import { ADMIN_PASSWORD, runDfs, sharedCluster, tempDir, waitFor, type RunResult } from '../helpers/binary';
import { codeOf, loginAt } from '../helpers/client';
import { blobFiles, masterAddress, shellEnv } from '../helpers/cluster';
import { randomFile } from '../helpers/files';
import { connectFrom } from '../helpers/hostile';

const KIB = 1024;
const cluster = sharedCluster(t, 3);

async function as(user: string, password: string | undefined, command: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const running = await cluster();
  return runDfs(['shell', masterAddress(running), '-c', command], { env: { ...shellEnv(running, user, password), ...env } });
}

const admin = (command: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> => as('admin', ADMIN_PASSWORD, command, env);

async function addUser(name: string, password: string): Promise<void> {
  const added = await admin(`useradd ${name}`, { DFS_NEW_PASSWORD: password });
  if (added.code !== 0) throw new Error(`useradd ${name}: ${added.stderr}`);
}

t.test('users lists every user with files, bytes and quotas; quota refuses a put or cp past it before any byte moves; df shows it', async (t) => {
  const running = await cluster();
  await addUser('quinn', 'quinn-password');
  const work = await tempDir(t);
  for (const [name, size] of [['a', 60 * KIB], ['b', 60 * KIB], ['s', 1]] as const) await randomFile(path.join(work, name), size);
  const quinn = (command: string): Promise<RunResult> => as('quinn', 'quinn-password', command);

  const set = await admin('quota quinn 100K 3');
  t.same([set.code, set.stdout], [0, 'quota for quinn: 100K, 3 files\n'], 'the admin sets a quota');
  t.equal((await quinn(`put ${work}/a /a`)).code, 0, 'a put within the quota');
  const blobsBefore = (await blobFiles(running)).length;
  const over = await quinn(`put ${work}/b /b`);
  t.same([over.code, over.stderr], [1, 'dfs: put: /b: quota exceeded (60K/100K)\n'], 'the next one is refused, saying why');
  const copied = await quinn('cp /a /a2');
  t.same([copied.code, copied.stderr], [1, 'dfs: cp: /a: quota exceeded (60K/100K)\n'], 'and so is a copy');
  t.equal((await blobFiles(running)).length, blobsBefore, 'no byte reached a node');
  t.same((await quinn('ls /')).stdout, 'a\n', 'and nothing was made');
  t.equal((await quinn(`put -f ${work}/s /a`)).code, 0, 'replacing a file by a smaller one is always allowed');
  for (const name of ['s1', 's2']) t.equal((await quinn(`put ${work}/s /${name}`)).code, 0, `small file ${name}`);
  const fourth = await quinn(`put ${work}/s /s3`);
  t.same([fourth.code, fourth.stderr], [1, 'dfs: put: /s3: file quota exceeded (3/3 files)\n'], 'the file count is a quota too');

  const df = await quinn('df');
  t.equal(df.code, 0);
  t.match(df.stdout, /^Cluster: +\S+ capacity, \S+ used \(\d+%\), \S+ free on 3 of 3 node\(s\) alive$/m, 'df: the cluster');
  t.match(df.stdout, /^quinn: +3 of 100K \(0%\), 3 files of 3 files \(100%\)$/m, 'df: quinn\'s usage against the quota');

  const listed = await admin('users');
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stdout, /^USER +ROLE +FILES +SIZE +LOGINS$/m, 'users: a header');
  t.match(listed.stdout, /^admin +admin +\d+ +\S+ +-$/m, 'the admin');
  t.match(listed.stdout, /^quinn +user +3\/3 +3\/100K +-$/m, 'quinn, against the quota');
  t.match(listed.stdout, /^shared +user +/m, 'the shared user');

  t.equal((await admin('quota quinn none')).stdout, 'quota for quinn: no byte limit, no file limit\n');
  t.equal((await quinn(`put ${work}/b /b`)).code, 0, 'without a quota the put goes through');
  t.match((await quinn('df')).stdout, /^quinn: +\S+ \(no quota\), 4 files \(no quota\)$/m);

  for (const command of ['users', 'quota quinn 1G', 'unlock admin', 'userdel admin']) {
    const refused = await quinn(command);
    t.same([refused.code, refused.stderr], [1, `dfs: ${command.split(' ')[0]}: Permission denied\n`], `a user may not run ${command}`);
  }
  const usage = await admin('quota quinn lots');
  t.same([usage.code, usage.stderr.split('\n')[1]], [1, 'usage: quota NAME SIZE|none [FILES|none]'], 'a size that is not one is a usage error');
});

t.test('unlock: a user locked out by failed logins may log in again at once', async (t) => {
  const running = await cluster();
  await addUser('lou', 'lou-password');
  for (let guess = 0; guess < LOGIN_FAILURES_MAX; guess++) await as('lou', 'wrong-password', 'whoami');
  const locked = await as('lou', 'lou-password', 'whoami');
  t.equal(locked.code, 1, 'the right password is refused while locked out');
  t.match(locked.stderr, /too many failed logins/);
  t.match((await admin('users')).stdout, /^lou +user +0 +0 +locked \d+(m \d+)?s$/m, 'users shows the lockout');
  t.same((await admin('unlock lou')).stdout, 'lou may log in again\n');
  t.same((await as('lou', 'lou-password', 'whoami')).stdout, 'lou\n', 'lou logs in');
  t.same((await admin('unlock lou')).stdout, 'lou was not locked out\n');
  t.same((await admin('unlock nobody')).stderr, 'dfs: unlock: no user nobody\n');
  t.ok(running);
});

t.test('passwd NAME: the admin sets another user\'s password; their sessions end, the old password no longer works', async (t) => {
  const running = await cluster();
  await addUser('pat', 'pat-password');
  const session = await loginAt(t, running.master.address, running.caPem, 'pat', 'pat-password');
  t.equal((await session.whoami()).user, 'pat');
  const set = await admin('passwd pat', { DFS_NEW_PASSWORD: 'pat-new-password' });
  t.same([set.code, set.stdout], [0, 'password set for pat; their sessions have ended\n']);
  // The client finds its session ended and logs in again with the password it was given: refused.
  t.equal(await codeOf(session.stat('/')), 'UNAUTHENTICATED', 'pat\'s open session ended');
  t.equal((await as('pat', 'pat-password', 'whoami')).code, 1, 'the old password is refused');
  t.same((await as('pat', 'pat-new-password', 'whoami')).stdout, 'pat\n', 'the new one works');
  const notAdmin = await as('pat', 'pat-new-password', 'passwd admin', { DFS_NEW_PASSWORD: 'hijacked-password' });
  t.same([notAdmin.code, notAdmin.stderr], [1, 'dfs: passwd: only an admin can set another user\'s password (you are pat)\n'], 'a user cannot');
  const shared = await admin('passwd shared', { DFS_NEW_PASSWORD: 'shared-password' });
  t.same([shared.code, shared.stderr], [1, 'dfs: passwd: Permission denied\n'], 'shared keeps having no password');
});

t.test('userdel: refused while the user owns files; -r deletes them and their copies on the nodes; the name can be reused afresh', async (t) => {
  const running = await cluster();
  await addUser('dan', 'dan-password');
  const work = await tempDir(t);
  await randomFile(path.join(work, 'f'), 33 * KIB + 3);
  const put = await as('dan', 'dan-password', `mkdir /d; put ${work}/f /d/f; put ${work}/f /g`);
  t.equal(put.code, 0, put.stderr);
  const dansCopies = async (): Promise<number> => (await blobFiles(running)).filter((file) => !file.temporary && file.name.includes(`.${33 * KIB + 3}.`)).length;
  t.equal(await dansCopies(), 6, 'two files, three copies each');
  const session = await loginAt(t, running.master.address, running.caPem, 'dan', 'dan-password');

  const refused = await admin('userdel dan');
  t.same([refused.code, refused.stderr], [1, 'dfs: userdel: dan owns 2 file(s): delete them first, or use userdel -r to delete them too\n']);
  t.same((await as('dan', 'dan-password', 'ls /')).stdout, 'd\ng\n', 'nothing of dan\'s went');
  for (const builtin of ['admin', 'shared']) t.equal((await admin(`userdel -r ${builtin}`)).code, 1, `${builtin} cannot be deleted`);

  const deleted = await admin('userdel -r dan');
  t.same([deleted.code, deleted.stdout], [0, 'deleted user dan and their 2 file(s)\n']);
  t.equal(await codeOf(session.stat('/')), 'UNAUTHENTICATED', 'dan\'s session ended');
  t.equal((await as('dan', 'dan-password', 'whoami')).code, 1, 'dan cannot log in');
  await waitFor('the nodes to delete dan\'s copies', async () => ((await dansCopies()) === 0 ? true : undefined));
  t.pass('every copy of dan\'s files was deleted from the nodes');
  t.notMatch((await admin('users')).stdout, /^dan /m, 'users no longer lists dan');

  await addUser('dan', 'dan-password-2');
  t.same((await as('dan', 'dan-password-2', 'ls /')).stdout, '', 'a new dan starts with an empty root');
  const fresh = await as('dan', 'dan-password-2', 'df');
  t.match(fresh.stdout, /^dan: +0 \(no quota\), 0 files \(no quota\)$/m);
  t.equal((await admin('userdel nobody')).stderr, 'dfs: userdel: no user nobody\n');
});

t.test('abuse: a user sending every admin request 300 times gets FORBIDDEN each time and changes nothing; bad values are BAD_REQUEST', async (t) => {
  const running = await cluster();
  await addUser('mallory', 'mallory-password');
  const before = (await admin('users')).stdout.replace(/locked \S+( \S+)?/g, '');
  const channel = await connectFrom(t, running.master.address, running.caPem);
  await channel.request('auth.login', { user: 'mallory', password: 'mallory-password' });
  const attempts = Array.from({ length: 300 }, (_, index) => [
    channel.request('auth.users', {}),
    channel.request('auth.reset', { user: 'admin', password: `taken-over-${index}` }),
    channel.request('auth.userdel', { user: 'admin', withFiles: true }),
    channel.request('auth.unlock', { user: 'admin' }),
    channel.request('auth.quota', { user: 'admin', bytes: 0 }),
  ]).flat();
  const codes = await Promise.all(attempts.map((attempt) => codeOf(attempt)));
  t.same([...new Set(codes)], ['FORBIDDEN'], `all ${codes.length} refused`);
  // Namespace requests name her own paths only: the admin's /only-admin is not there for her.
  await admin('mkdir -p /only-admin');
  const foreign = await Promise.all(Array.from({ length: 300 }, () => [
    codeOf(channel.request('fs.touch', { path: '/only-admin' })),
    codeOf(channel.request('fs.setrep', { path: '/only-admin', replicas: 16, recursive: true })),
  ]).flat());
  t.same([...new Set(foreign)], ['NOT_FOUND'], 'touch and setrep of another user\'s paths: NOT_FOUND, each time');
  t.equal(await codeOf(channel.request('fs.setrep', { path: '/', replicas: 17, recursive: true })), 'BAD_REQUEST', 'a factor past REPLICAS_MAX is refused');
  t.equal((await admin('users')).stdout.replace(/locked \S+( \S+)?/g, ''), before, 'nothing changed');
  t.equal((await channel.request('cluster.df', {})).data.user.user, 'mallory', 'df still answers her');
  const adminChannel = await connectFrom(t, running.master.address, running.caPem);
  await adminChannel.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  for (const bad of [{ user: 'mallory', bytes: -1 }, { user: 'mallory', files: 1.5 }, { user: 'x'.repeat(33), bytes: 1 }]) {
    t.equal(await codeOf(adminChannel.request('auth.quota', bad)), 'BAD_REQUEST', JSON.stringify(bad));
  }
});
