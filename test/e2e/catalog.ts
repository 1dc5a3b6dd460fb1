// The catalog and users through a real `build/dfs master`: durability across kill -9, user
// isolation, login rules. Driven through the same client API the shell uses.

import t from 'tap';
import { ADMIN_PASSWORD, startCluster, startDfs } from '../helpers/binary';
import { codeOf, loginAt } from '../helpers/client';

t.test('kill -9 of the master in the middle of acknowledged mkdirs loses none of them', async (t) => {
  const cluster = await startCluster(t, 0);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const acknowledged: string[] = [];
  let killed = false;
  const writer = async (worker: number): Promise<void> => {
    for (let index = 0; !killed; index++) {
      const target = `/w${worker}-${index}`;
      try {
        await admin.mkdir(target, false);
        acknowledged.push(target);
      } catch {
        return; // the master is gone: whatever was not acknowledged may or may not exist
      }
    }
  };
  const writers = Array.from({ length: 8 }, (_, worker) => writer(worker));
  while (acknowledged.length < 300) await new Promise((resolve) => setTimeout(resolve, 5));
  cluster.master.child.kill('SIGKILL');
  killed = true;
  await Promise.all(writers);
  await cluster.master.exited;
  t.ok(acknowledged.length >= 300, `${acknowledged.length} mkdirs were acknowledged before the kill`);

  const restarted = await startDfs(t, ['master', '--data', cluster.masterDir, '--listen', `127.0.0.1:${cluster.master.address.port}`]);
  const after = await loginAt(t, restarted.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const present = new Set((await after.list('/')).map((entry) => entry.path));
  const lost = acknowledged.filter((target) => !present.has(target));
  t.same(lost, [], 'every acknowledged mkdir survived');
});

t.test('users see only their own namespace, in every operation', async (t) => {
  const cluster = await startCluster(t, 0);
  const { address } = cluster.master;
  const admin = await loginAt(t, address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await admin.useradd('alice', 'alice-pw');
  await admin.useradd('bob', 'bob-password');
  const alice = await loginAt(t, address, cluster.caPem, 'alice', 'alice-pw');
  const bob = await loginAt(t, address, cluster.caPem, 'bob', 'bob-password');
  await alice.mkdir('/secret-plans/deep', true);
  await bob.mkdir('/bobs', false);

  t.same((await bob.list('/')).map((entry) => entry.name), ['bobs'], 'ls / shows only bob\'s names');
  t.equal(await codeOf(bob.stat('/secret-plans')), 'NOT_FOUND', 'stat of alice\'s path is not found');
  t.equal(await codeOf(bob.list('/secret-plans')), 'NOT_FOUND', 'ls of alice\'s path is not found');
  t.equal(await codeOf(bob.move('/secret-plans', '/mine')), 'NOT_FOUND', 'mv of alice\'s path is not found');
  t.equal(await codeOf(bob.remove('/secret-plans', true)), 'NOT_FOUND', 'rm of alice\'s path is not found');
  const found: string[] = [];
  for await (const entry of bob.find('/', { name: '*secret*' })) found.push(entry.path);
  t.same(found, [], 'find reveals nothing of alice');
  const tree: string[] = [];
  for await (const entry of bob.tree('/')) tree.push(entry.path);
  t.same(tree, ['/', '/bobs'], 'tree shows only bob\'s tree');
  const du: string[] = [];
  for await (const row of bob.du('/', false)) du.push(row.path);
  t.same(du, ['/', '/bobs'], 'du shows only bob\'s directories');
  t.ok(await alice.stat('/secret-plans/deep'), 'alice still has her tree');
  t.equal(await codeOf(bob.useradd('mallory', 'x')), 'FORBIDDEN', 'only the admin adds users');
});

t.test('wrong passwords are refused and then rate limited; shared needs none', async (t) => {
  const cluster = await startCluster(t, 0);
  const { address } = cluster.master;
  for (let attempt = 0; attempt < 5; attempt++) {
    t.equal(await codeOf(loginAt(t, address, cluster.caPem, 'admin', 'wrong')), 'UNAUTHENTICATED', `wrong password ${attempt + 1} refused`);
  }
  t.equal(await codeOf(loginAt(t, address, cluster.caPem, 'admin', ADMIN_PASSWORD)), 'RATE_LIMITED', 'even the right password waits after 5 failures');
  t.equal(await codeOf(loginAt(t, address, cluster.caPem, 'nobody', 'x')), 'UNAUTHENTICATED', 'an unknown user gets the same answer');
  const shared = await loginAt(t, address, cluster.caPem, 'shared');
  t.same(await shared.whoami(), { user: 'shared', admin: false });
  await shared.mkdir('/common', false);
  const again = await loginAt(t, address, cluster.caPem, 'shared');
  t.same((await again.list('/')).map((entry) => entry.name), ['common'], 'everyone logged in as shared sees the same files');
  t.equal(await codeOf(shared.passwd(undefined, 'x')), 'FORBIDDEN', 'shared has no password to change');
});

t.test('passwd changes the password; the old one stops working', async (t) => {
  const cluster = await startCluster(t, 0);
  const { address } = cluster.master;
  const admin = await loginAt(t, address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await admin.useradd('carol', 'first-password');
  const carol = await loginAt(t, address, cluster.caPem, 'carol', 'first-password');
  t.equal(await codeOf(carol.passwd('not-it', 'second-password')), 'UNAUTHENTICATED', 'the current password is checked');
  t.equal(await codeOf(carol.passwd('first-password', 'short')), 'BAD_REQUEST', 'a new password shorter than 8 characters is refused');
  t.equal(await codeOf(admin.useradd('dave', '1234567')), 'BAD_REQUEST', 'so is a new user\'s');
  await carol.passwd('first-password', 'second-password');
  t.equal(await codeOf(loginAt(t, address, cluster.caPem, 'carol', 'first-password')), 'UNAUTHENTICATED');
  t.ok(await loginAt(t, address, cluster.caPem, 'carol', 'second-password'));
});
