// The node's background scrub over a real blob store in a temp dir: a damaged blob is reported once,
// however many passes find it, and again only once it is stored anew; whole blobs are never reported;
// a blob removed before or while it is re-hashed is skipped, one whose file went behind the store's back is
// reported missing; a report the master missed is sent again,
// once; stop() ends a pass in the middle of a blob. BlobStore.verify with a rate and a signal answers
// like the plain one. No assertion depends on timing.

import { randomFillSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import t, { type Test } from 'tap';
import { GIB, KIB, MIB, SCRUB_SUSPECTS_MAX } from '../../src/limits';
import { silentLog } from '../../src/log';
import { BlobStore, createBlobId, type BlobInfo, type VerifyOptions } from '../../src/store/blobs';
import { Scrubber, type Damage, type ScrubbedStore } from '../../src/node/scrub';

async function openStore(t: Test): Promise<{ store: BlobStore; dataDir: string }> {
  const dataDir = await fs.mkdtemp(path.join(tmpdir(), 'dfs-scrub-'));
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }));
  return { store: await BlobStore.open(dataDir, { reserveBytes: 0 }), dataDir };
}

async function putBlob(store: BlobStore, size: number, id = createBlobId()): Promise<BlobInfo> {
  const writer = await store.createWriter(id, size);
  const data = randomFillSync(Buffer.allocUnsafe(size));
  for (let offset = 0; offset < size; offset += MIB) await writer.write(data.subarray(offset, Math.min(size, offset + MIB)));
  await writer.commit();
  const info = store.info(id);
  if (!info) throw new Error('a committed blob is held');
  return info;
}

function blobFile(dataDir: string, info: BlobInfo): string {
  return path.join(dataDir, 'blobs', info.id.slice(0, 2), `${info.id}.${info.size}.${info.sha256}`);
}

/** Flips one byte in the middle of a blob's file, keeping its size (so only a re-hash can tell). */
async function damage(dataDir: string, info: BlobInfo): Promise<void> {
  const file = blobFile(dataDir, info);
  const handle = await fs.open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    const position = Math.floor(info.size / 2);
    await handle.read(byte, 0, 1, position);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await handle.write(byte, 0, 1, position);
  } finally {
    await handle.close();
  }
}

/** The real store, with every verify recorded and a hook run as it starts. */
interface Watched extends ScrubbedStore {
  verified: string[];
  onVerify: (id: string) => Promise<void> | void;
}

function watch(store: BlobStore): Watched {
  const watched: Watched = {
    verified: [],
    onVerify: () => undefined,
    list: () => store.list(),
    remove: (id: string) => store.remove(id),
    info: (id) => store.info(id),
    verify: async (id: string, options?: VerifyOptions) => {
      watched.verified.push(id);
      await watched.onVerify(id);
      return store.verify(id, options);
    },
  };
  return watched;
}

/** A master that hears reports: every one is recorded; `refuse` makes the next ones fail. */
function master(): { reports: string[]; problems: string[]; refuse: number; report: Report } {
  const state = {
    reports: [] as string[],
    problems: [] as string[],
    refuse: 0,
    report: (blobId: string, problem: Damage['problem']): Promise<void> => {
      if (state.refuse > 0) {
        state.refuse--;
        return Promise.reject(new Error('no link to the master right now'));
      }
      state.reports.push(blobId);
      state.problems.push(problem);
      return Promise.resolve();
    },
  };
  return state;
}

type Report = (blobId: string, problem: Damage['problem'], message: string) => Promise<void>;

function scrubber(store: ScrubbedStore, report: Report, bytesPerSecond = GIB): Scrubber {
  return new Scrubber({ store, report, log: silentLog, bytesPerSecond, intervalMs: 60_000 });
}

t.test('verify with a rate and a signal: the same answers as without; an aborted signal rejects with its reason', async (t) => {
  const { store, dataDir } = await openStore(t);
  const whole = await putBlob(store, 3 * MIB + 5);
  const damaged = await putBlob(store, 700 * KIB);
  const empty = await putBlob(store, 0);
  await damage(dataDir, damaged);
  const signal = new AbortController().signal;
  for (const [info, expected] of [[whole, true], [damaged, false], [empty, true]] as const) {
    t.equal(await store.verify(info.id), expected, `${info.size} B: plain verify says ${expected}`);
    t.equal(await store.verify(info.id, { bytesPerSecond: GIB, signal }), expected, `${info.size} B: paced verify says ${expected}`);
  }
  const stopped = new AbortController();
  const reason = new Error('stopping');
  stopped.abort(reason);
  await t.rejects(store.verify(whole.id, { bytesPerSecond: GIB, signal: stopped.signal }), reason, 'an aborted signal: rejected with its reason');
  await t.rejects(store.verify(whole.id, { bytesPerSecond: 0 }), /positive rate/, 'a rate of 0 is a bug, not "forever"');
});

t.test('a damaged blob is reported exactly once across passes, whole ones never; stored anew and damaged again, it is reported again', async (t) => {
  const { store, dataDir } = await openStore(t);
  const blobs = [await putBlob(store, 2 * MIB), await putBlob(store, 1), await putBlob(store, 300 * KIB), await putBlob(store, 0)];
  const bad = blobs[1];
  if (!bad) throw new Error('four blobs');
  await damage(dataDir, bad);
  const watched = watch(store);
  const heard = master();
  const scrub = scrubber(watched, heard.report);

  const first = await scrub.pass();
  t.same(heard.reports, [bad.id], 'first pass: the damaged blob is reported');
  t.match(first, { good: 3, damaged: 1, known: 0, removed: 0, failed: 0, stopped: false }, 'and the whole ones pass');
  t.equal(first.bytes, 2 * MIB + 1 + 300 * KIB, 'every byte re-hashed once');

  watched.verified.length = 0;
  const second = await scrub.pass();
  t.same(heard.reports, [bad.id], 'second pass: not reported again');
  t.match(second, { good: 3, damaged: 0, known: 1 }, 'it is known damaged');
  t.notOk(watched.verified.includes(bad.id), 'and not even re-hashed');
  t.equal(watched.verified.length, 3, 'the whole ones are re-hashed again');

  // The master had it deleted and copied again: a new blob under the same id, damaged in turn.
  await store.remove(bad.id);
  const again = await putBlob(store, 10 * KIB, bad.id);
  await damage(dataDir, again);
  const third = await scrub.pass();
  t.same(heard.reports, [bad.id, bad.id], 'third pass: the blob stored anew and damaged is reported again');
  t.match(third, { damaged: 1, known: 0 });
  await scrub.pass();
  t.same(heard.reports, [bad.id, bad.id], 'and then not again');
});

t.test('a blob removed before its turn, or while it is re-hashed, is skipped (not reported, even if damaged)', async (t) => {
  const { store, dataDir } = await openStore(t);
  const first = await putBlob(store, 100 * KIB);
  const removedDuring = await putBlob(store, 2 * MIB);
  const removedBefore = await putBlob(store, 100 * KIB);
  await damage(dataDir, removedDuring);
  await damage(dataDir, removedBefore);
  const watched = watch(store);
  watched.onVerify = async (id) => {
    if (id === first.id) await store.remove(removedBefore.id); // gone before the pass reaches it
    if (id === removedDuring.id) await store.remove(removedDuring.id); // gone as its re-hash starts
  };
  const heard = master();
  const pass = await scrubber(watched, heard.report).pass();
  t.same(heard.reports, [], 'nothing reported');
  t.match(pass, { good: 1, damaged: 0, removed: 2, failed: 0, stopped: false }, 'both counted as removed');
  t.notOk(watched.verified.includes(removedBefore.id), 'the one removed before its turn was never opened');
});

t.test('a blob whose file went from the disk behind the store\'s back is reported missing, once, and leaves the store\'s index', async (t) => {
  const { store, dataDir } = await openStore(t);
  const whole = await putBlob(store, 100 * KIB);
  const gone = await putBlob(store, 200 * KIB);
  await fs.rm(blobFile(dataDir, gone));
  const heard = master();
  const scrub = scrubber(store, heard.report);
  t.match(await scrub.pass(), { good: 1, damaged: 1, removed: 0, failed: 0 });
  t.same(heard.reports, [gone.id], 'the missing blob is reported');
  t.same(heard.problems, ['missing'], 'as missing, not corrupt');
  t.equal(store.info(gone.id), undefined, 'the store no longer lists it (the node\'s next report leaves it out)');
  t.match(await scrub.pass(), { good: 1, damaged: 0 }, 'the next pass does not meet it');
  t.same(heard.reports, [gone.id], 'and does not report it again');
  t.ok(store.info(whole.id), 'the whole blob is untouched');
});

t.test('a report the master did not get is sent again on the next pass, then never again', async (t) => {
  const { store, dataDir } = await openStore(t);
  const bad = await putBlob(store, 64 * KIB);
  await putBlob(store, 64 * KIB);
  await damage(dataDir, bad);
  const heard = master();
  heard.refuse = 1;
  const watched = watch(store);
  const scrub = scrubber(watched, heard.report);
  t.match(await scrub.pass(), { damaged: 1 }, 'found damaged');
  t.same(heard.reports, [], 'but the master was not told (link down)');
  watched.verified.length = 0;
  t.match(await scrub.pass(), { known: 1, good: 1 }, 'next pass: known, not re-hashed');
  t.same(heard.reports, [bad.id], 'and now the master is told');
  t.notOk(watched.verified.includes(bad.id));
  await scrub.pass();
  t.same(heard.reports, [bad.id], 'exactly once');
});

t.test('started, the scrubber keeps passing and reports a damaged blob once; stop() ends the rest between passes', async (t) => {
  const { store, dataDir } = await openStore(t);
  const bad = await putBlob(store, 16 * KIB);
  await putBlob(store, 16 * KIB);
  await damage(dataDir, bad);
  const heard = master();
  let passes = 0;
  let threePasses: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => (threePasses = resolve));
  const counted: ScrubbedStore = {
    list: () => {
      if (++passes === 3) threePasses();
      return store.list();
    },
    info: (id) => store.info(id),
    verify: (id, options) => store.verify(id, options),
    remove: (id) => store.remove(id),
  };
  const scrub = new Scrubber({ store: counted, report: heard.report, log: silentLog, bytesPerSecond: GIB, intervalMs: 1 });
  scrub.start();
  await reached;
  await scrub.stop();
  t.same(heard.reports, [bad.id], `${passes} passes, one report`);
});

t.test('stop() ends a pass in the middle of a slowly re-hashed blob, without reporting it', async (t) => {
  const { store } = await openStore(t);
  const big = await putBlob(store, 4 * MIB); // 64 s at 64 KiB/s
  const watched = watch(store);
  let started: () => void = () => undefined;
  const verifying = new Promise<void>((resolve) => (started = resolve));
  const outcomes: string[] = [];
  const verify = watched.verify;
  watched.verify = (id, options) => {
    started();
    return verify(id, options).then(
      (whole) => (outcomes.push(`resolved ${whole}`), whole),
      (error: unknown) => (outcomes.push(`rejected: ${(error as Error).message}`), Promise.reject(error)),
    );
  };
  const heard = master();
  const scrub = scrubber(watched, heard.report, 64 * KIB);
  scrub.start();
  await verifying;
  await scrub.stop();
  t.same(watched.verified, [big.id], 'it was re-hashing the blob');
  t.same(outcomes, ['rejected: the node is stopping'], 'the re-hash was abandoned, not finished');
  t.same(heard.reports, [], 'nothing reported');
});

t.test('a blob a reader found wrong is re-hashed at once, between passes, and reported only if damaged', async (t) => {
  const { store, dataDir } = await openStore(t);
  const bad = await putBlob(store, 64 * KIB);
  const good = await putBlob(store, 64 * KIB);
  await damage(dataDir, bad);
  const watched = watch(store);
  const heard = master();
  let reported: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (reported = resolve));
  const report: Report = async (blobId, problem, message) => {
    await heard.report(blobId, problem, message);
    reported();
  };
  // No passes (as with --scrub-rate 0): only the suspects are re-hashed, whenever they come.
  const scrub = new Scrubber({ store: watched, report, log: silentLog, bytesPerSecond: GIB, intervalMs: 60_000, passes: false });
  scrub.start();
  t.ok(scrub.suspect(good.id));
  t.ok(scrub.suspect(bad.id));
  await done; // the good one was re-hashed first
  await scrub.stop();
  t.same(watched.verified, [good.id, bad.id], 'each re-hashed, in the order blamed, and nothing else');
  t.same(heard.reports, [bad.id], 'only the damaged one reported');
});

t.test('suspects wait in a bounded queue: past SCRUB_SUSPECTS_MAX the node says no, and a queued one is not queued twice', async (t) => {
  const { store } = await openStore(t);
  const watched = watch(store);
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  watched.onVerify = () => held; // the first re-hash waits: the rest stay queued
  const scrub = new Scrubber({ store: watched, report: master().report, log: silentLog, bytesPerSecond: GIB, intervalMs: 60_000, passes: false });
  scrub.start();
  const ids = Array.from({ length: SCRUB_SUSPECTS_MAX + 1 }, () => createBlobId());
  for (const id of ids.slice(0, SCRUB_SUSPECTS_MAX)) t.ok(scrub.suspect(id), 'queued') || t.bailout();
  t.ok(scrub.suspect(ids[0] as string), 'one already queued is accepted again, not added');
  t.notOk(scrub.suspect(ids[SCRUB_SUSPECTS_MAX] as string), 'one more is refused');
  release();
  await scrub.stop();
});
