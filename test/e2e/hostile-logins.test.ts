// Hostile logins against a real master: guesses sent at once never get past
// the limit, from one address or many; a flood of logins leaves a logged-in user's requests served; an unknown
// user name takes as long to refuse as a real one; a flood of shared logins ends nobody else's session; floods
// of unique names leave the master's memory and log bounded; passwords are long enough and the admin's stays in
// its file.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { LOGIN_FAILURES_MAX, LOGIN_USER_FAILURES_MAX, PASSWORD_HASHES_IN_FLIGHT_MAX, PASSWORD_HASHES_QUEUED_MAX, LOGIN_LIMITER_KEYS_MAX, SESSIONS_PER_SOURCE_MAX } from '../../src/limits';
import { ADMIN_PASSWORD, startCluster, startDfs, tempDir } from '../helpers/binary';
import { connectFrom, loopback, median, outcomes, rssMb, timed } from '../helpers/hostile';

t.test('200 guesses at once over 4 connections, the last one right: only the first 5 are checked, the right one is refused too', async (t) => {
  const cluster = await startCluster(t, 0);
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  await admin.request('auth.useradd', { user: 'alice', password: 'alice-password' });
  const connections = await Promise.all([1, 2, 3, 4].map(() => connectFrom(t, cluster.master.address, cluster.caPem)));
  const guesses = Array.from({ length: 200 }, (_, index) =>
    (connections[index % 4] as (typeof connections)[number]).request('auth.login', { user: 'alice', password: index === 199 ? 'alice-password' : `guess-${index}` }),
  );
  const counts = await outcomes(guesses);
  t.same(counts, { UNAUTHENTICATED: LOGIN_FAILURES_MAX, RATE_LIMITED: 200 - LOGIN_FAILURES_MAX }, `${LOGIN_FAILURES_MAX} guesses checked, the rest refused before any hash: ${JSON.stringify(counts)}`);
  t.equal(counts.OK, undefined, 'the 200th, right password did not get in');
});

t.test('guesses for one user from 40 addresses: at most the per-user budget is checked; the real user waits, another user does not', async (t) => {
  const cluster = await startCluster(t, 0);
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  for (const user of ['alice', 'bob']) await admin.request('auth.useradd', { user, password: `${user}-password` });
  const sources = await Promise.all(Array.from({ length: 40 }, (_, index) => connectFrom(t, cluster.master.address, cluster.caPem, loopback(10, index))));
  // Each guess waits for the one before (a flood at once would mostly be refused as busy: unhashed, uncounted).
  const counts: Record<string, number> = {};
  for (const channel of sources) {
    for (const guess of [1, 2, 3, 4, 5]) {
      const [outcome = ''] = Object.keys(await outcomes([channel.request('auth.login', { user: 'alice', password: `wrong-${guess}` })]));
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    }
  }
  t.equal(counts.UNAUTHENTICATED, LOGIN_USER_FAILURES_MAX, `${LOGIN_USER_FAILURES_MAX} of 200 guesses from 40 addresses were checked, the rest refused: ${JSON.stringify(counts)}`);
  const elsewhere = await connectFrom(t, cluster.master.address, cluster.caPem, loopback(10, 200));
  t.equal(await outcomes([elsewhere.request('auth.login', { user: 'alice', password: 'alice-password' })]).then((c) => Object.keys(c)[0]), 'RATE_LIMITED', 'alice herself waits out the short window');
  t.same(await outcomes([elsewhere.request('auth.login', { user: 'bob', password: 'bob-password' })]), { OK: 1 }, 'bob logs in from the same address');
});

t.test('a flood of 2,000 logins from 200 addresses: few are hashed, the rest refused as busy; a logged-in user\'s mkdir is served meanwhile', async (t) => {
  const cluster = await startCluster(t, 0);
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  const quiet = median(await Promise.all([1, 2, 3].map((index) => timed(() => admin.request('fs.mkdir', { path: `/quiet${index}`, parents: false })))));
  const attackers = await Promise.all(Array.from({ length: 200 }, (_, index) => connectFrom(t, cluster.master.address, cluster.caPem, loopback(11, index))));
  const flood = outcomes(attackers.flatMap((channel, source) => Array.from({ length: 10 }, (_, guess) => channel.request('auth.login', { user: `nobody-${source}-${guess}`, password: 'guess' }))));
  const during: number[] = [];
  for (let index = 0; index < 5; index++) during.push(await timed(() => admin.request('fs.mkdir', { path: `/during${index}`, parents: false })));
  const counts = await flood;
  t.comment(`mkdir: ${quiet.toFixed(1)} ms before the flood, ${during.map((ms) => ms.toFixed(1)).join(', ')} ms during it; logins: ${JSON.stringify(counts)}`);
  t.equal(during.length, 5, 'every mkdir during the flood was answered');
  t.ok((counts.RATE_LIMITED ?? 0) > 1000, `most of the flood was refused before hashing (${counts.RATE_LIMITED})`);
  t.ok((counts.UNAUTHENTICATED ?? 0) >= PASSWORD_HASHES_IN_FLIGHT_MAX + PASSWORD_HASHES_QUEUED_MAX, `and some were checked (${counts.UNAUTHENTICATED})`);
  t.equal(counts.OK, undefined, 'nobody got in');
});

t.test('an unknown user name takes as long to refuse as a real user\'s wrong password', async (t) => {
  const cluster = await startCluster(t, 0);
  const known: number[] = [];
  const unknown: number[] = [];
  for (let index = 0; index < 7; index++) {
    // Each from an address of its own, so no limit is involved.
    const channel = await connectFrom(t, cluster.master.address, cluster.caPem, loopback(12, index));
    known.push(await timed(() => channel.request('auth.login', { user: 'admin', password: 'wrong-password' }).catch(() => undefined)));
    unknown.push(await timed(() => channel.request('auth.login', { user: `nobody${index}`, password: 'wrong-password' }).catch(() => undefined)));
  }
  t.comment(`median refusal: ${median(known).toFixed(1)} ms for a real user, ${median(unknown).toFixed(1)} ms for an unknown one`);
  t.ok(median(unknown) > median(known) * 0.3, 'the time does not tell which names exist');
});

// Three times the sessions one address may hold: the flood can only end its own (the global cap, which one address
// never reaches, is tested in test/unit/users.ts).
t.test(`${SESSIONS_PER_SOURCE_MAX * 3} logins as shared from one address end no other user's session`, async (t) => {
  const cluster = await startCluster(t, 0);
  const alice = await connectFrom(t, cluster.master.address, cluster.caPem);
  const admin = await connectFrom(t, cluster.master.address, cluster.caPem);
  await admin.request('auth.login', { user: 'admin', password: ADMIN_PASSWORD });
  await admin.request('auth.useradd', { user: 'alice', password: 'alice-password' });
  await alice.request('auth.login', { user: 'alice', password: 'alice-password' });
  const flooders = await Promise.all(Array.from({ length: 16 }, () => connectFrom(t, cluster.master.address, cluster.caPem, '127.0.0.1')));
  let refused = 0;
  const total = SESSIONS_PER_SOURCE_MAX * 3;
  const perConnection = Math.ceil(total / flooders.length);
  await Promise.all(
    flooders.map(async (channel) => {
      for (let sent = 0; sent < perConnection; sent += 200) {
        const batch = Array.from({ length: Math.min(200, perConnection - sent) }, () => channel.request('auth.login', { user: 'shared' }).catch(() => refused++));
        await Promise.all(batch);
      }
    }),
  );
  t.comment(`${total} shared logins, ${refused} refused`);
  t.same((await alice.request('auth.whoami', {})).data, { user: 'alice', admin: false }, 'alice\'s session on her connection still answers');
  t.same((await admin.request('auth.whoami', {})).data, { user: 'admin', admin: true }, 'and the admin\'s');
});

t.test(`${LOGIN_LIMITER_KEYS_MAX * 3} failed logins with unique names (three times the keys the limiter keeps): the master's memory and log stay bounded`, async (t) => {
  const cluster = await startCluster(t, 0);
  const before = await rssMb(cluster.master.child.pid);
  const linesBefore = cluster.master.output().stderr.split('\n').length;
  const channels = await Promise.all(Array.from({ length: LOGIN_LIMITER_KEYS_MAX * 3 / 1_200 }, (_, index) => connectFrom(t, cluster.master.address, cluster.caPem, loopback(13, index))));
  let done = 0;
  await Promise.all(
    channels.map(async (channel, source) => {
      for (let sent = 0; sent < 1_200; sent += 200) {
        await Promise.all(Array.from({ length: 200 }, (_, index) => channel.request('auth.login', { user: `u${source}-${sent + index}`, password: 'guess-guess' }).catch(() => done++)));
      }
    }),
  );
  const after = await rssMb(cluster.master.child.pid);
  const logged = cluster.master.output().stderr.split('\n').length - linesBefore;
  t.comment(`${done} refusals; master RSS ${before.toFixed(0)} → ${after.toFixed(0)} MB; ${logged} log lines`);
  t.equal(done, LOGIN_LIMITER_KEYS_MAX * 3, 'every login was refused');
  t.ok(logged < 20, `the log grew by ${logged} lines, not one per failure`);
  // Resident memory right after a burst holds garbage not yet collected; the bound the master must keep is this.
  t.ok(after - before < 300, `the master grew by ${(after - before).toFixed(0)} MB (at most 300)`);
});

t.test('the admin password is written only to its file, never to the log', async (t) => {
  const dir = await tempDir(t);
  const master = await startDfs(t, ['master', '--data', path.join(dir, 'm'), '--listen', '127.0.0.1:0'], { env: { DFS_ADMIN_PASSWORD: '' } });
  const file = path.join(dir, 'm', 'admin-password');
  const password = (await fs.readFile(file, 'utf8')).trim();
  t.ok(password.length >= 8, 'a random admin password is in the file');
  t.equal(((await fs.stat(file)).mode & 0o777).toString(8), '600', 'readable by its owner only');
  const { stdout, stderr } = master.output();
  t.notOk(stdout.includes(password) || stderr.includes(password), 'neither stdout nor stderr shows it');
  t.match(stderr, `the admin password is in ${file}`, 'the log says where it is');
});
