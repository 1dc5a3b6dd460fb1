// Puts of several small files at once (what put -r sends) through real `build/dfs` processes: every file of
// such a put is committed with its copies on the nodes' disks and reads back byte for byte; it is all or
// nothing (one file in the way → no file, no blob left anywhere); bad ones sent straight to a node or the master
// are refused and leave nothing; a chain member killed before the bytes reach it → every file still ends
// with its replicas.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import type { PutFile } from '../../src/client/api';
import { connectNode } from '../../src/client/transfer';
import { PUT_SMALL_FILE_BYTES_MAX } from '../../src/limits';
import { ADMIN_PASSWORD, startCluster, tempDir, waitFor } from '../helpers/binary';
import { blobFiles, processOf } from '../helpers/cluster';
import { codeOf, loginAt } from '../helpers/client';
import { randomFile, sha256Of } from '../helpers/files';

const KIB = 1024;

/** `count` local files of assorted small sizes (0 B and 1 B among them) under `dir`, to be put under `remote`. */
async function smallFiles(dir: string, remote: string, count: number): Promise<Required<PutFile>[]> {
  await fs.mkdir(dir, { recursive: true });
  const files: Required<PutFile>[] = [];
  for (let index = 0; index < count; index++) {
    const localPath = path.join(dir, `f${index}`);
    const size = index === 0 ? 0 : index === 1 ? 1 : ((index * 7919) % (100 * KIB)) + 1;
    await randomFile(localPath, size);
    files.push({ localPath, remotePath: `${remote}/f${index}`, size });
  }
  return files;
}

const blobsOnDisk = async (cluster: Parameters<typeof blobFiles>[0]): Promise<{ blobs: number; temporary: number }> => {
  const found = await blobFiles(cluster);
  return { blobs: found.filter((file) => !file.temporary).length, temporary: found.filter((file) => file.temporary).length };
};

t.test('a put of 40 small files: every file committed with 3 copies on disk, read back whole; all or nothing; overwrite', async (t) => {
  const cluster = await startCluster(t, 3);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const work = await tempDir(t);
  await admin.mkdir('/b', true);
  const files = await smallFiles(path.join(work, 'src'), '/b', 40);

  await admin.put(files);
  for (const file of files) {
    const entry = await admin.stat(file.remotePath);
    const back = path.join(work, 'back');
    await admin.get(file.remotePath, back);
    t.ok(entry.size === file.size && entry.replicas?.have === 3 && (await sha256Of(back)) === (await sha256Of(file.localPath)), `${file.remotePath}: ${file.size} bytes, 3/3, read back whole`);
  }
  t.same(await blobsOnDisk(cluster), { blobs: 120, temporary: 0 }, 'three copies of each of the 40 blobs on the nodes\' disks, no temporary file');
  const directories = new Set((await blobFiles(cluster)).map((found) => path.basename(path.dirname(found.file))));
  t.equal(directories.size, 1, `one put's blobs share one fan-out directory on every node (${[...directories].join(', ')}): their commits share its fsync`);

  const fresh = await smallFiles(path.join(work, 'more'), '/b/more', 5);
  await admin.mkdir('/b/more', true);
  const clash = [...fresh, files[3] as PutFile];
  t.equal(await codeOf(admin.put(clash)), 'EXISTS', 'a put with one existing file among several (no overwrite) is refused');
  for (const file of fresh) t.equal(await codeOf(admin.stat(file.remotePath)), 'NOT_FOUND', `${file.remotePath} was not created`);
  t.same(await blobsOnDisk(cluster), { blobs: 120, temporary: 0 }, 'the refused put left no blob on any node');

  const replaced = files.slice(5, 8);
  for (const file of replaced) await fs.writeFile(file.localPath, randomBytes(file.size));
  await admin.put(replaced, { overwrite: true });
  for (const file of replaced) {
    const back = path.join(work, 'back');
    await admin.get(file.remotePath, back);
    t.equal(await sha256Of(back), await sha256Of(file.localPath), `${file.remotePath} holds the new bytes`);
  }
  await waitFor('the replaced blobs deleted', async () => ((await blobsOnDisk(cluster)).blobs === 120 ? true : undefined));
  t.pass('the replaced files\' old blobs were deleted on every node');
});

t.test('bad puts of several files sent straight to the master or a node are refused and leave nothing', async (t) => {
  const cluster = await startCluster(t, 1);
  const master = await cluster.client();
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const [node] = await admin.nodes();
  if (!node) throw new Error('no node');
  const channel = await connectNode(cluster.caPem, node.advertise, node.nodeId);
  t.teardown(() => channel.close());
  const begin = (paths: string[], size: number): Promise<string> =>
    codeOf(master.request('file.put.begin', { files: paths.map((path) => ({ path, size })), overwrite: false }));
  t.equal(await begin([], 1), 'BAD_REQUEST', 'no files');
  t.equal(await begin(['/a', '/a'], 1), 'BAD_REQUEST', 'a path twice');
  t.equal(await begin(['/a', '/big'], PUT_SMALL_FILE_BYTES_MAX + 1), 'BAD_REQUEST', 'a file too big to go with others');
  t.equal(await begin(['/a', '/no/such/dir/b'], 1), 'NOT_FOUND', 'a file whose directory is missing');

  const bytes = [randomBytes(3000), randomBytes(5000)];
  const files = [{ path: '/a', size: 3000 }, { path: '/b', size: 5000 }];
  const { data } = await master.request('file.put.begin', { files, overwrite: false });
  t.equal(data.blobIds.length, 2, 'a blob per file');
  const blobs = data.blobIds.map((blobId, index) => ({ blobId, size: files[index]?.size ?? 0 }));
  const [first, second] = blobs;
  if (!first || !second) throw new Error('two blobs booked');
  const send = (sent: typeof blobs, body: Buffer, ticket = data.ticket): Promise<string> =>
    codeOf(channel.request('blob.put', { blobs: sent, ticket, chain: [] }, { body: { stream: Readable.from([body]), bytes: body.length } }));
  const whole = Buffer.concat(bytes);
  const other = (await master.request('file.put.begin', { files: [{ path: '/c', size: 3000 }, { path: '/d', size: 5000 }], overwrite: false })).data;
  t.equal(await send(blobs, whole.subarray(1)), 'BAD_REQUEST', 'a body one byte short of the blobs');
  t.equal(await send([second, first], Buffer.concat([bytes[1] as Buffer, bytes[0] as Buffer])), 'FORBIDDEN', 'the blobs in another order than the ticket names');
  t.equal(await send([first], bytes[0] as Buffer), 'FORBIDDEN', 'some of the blobs only');
  t.equal(await send(blobs, whole, other.ticket), 'FORBIDDEN', 'another put\'s ticket');
  t.equal(await send([first, first], Buffer.concat([bytes[0] as Buffer, bytes[0] as Buffer])), 'BAD_REQUEST', 'a blob twice');
  t.equal(await send(blobs, whole, 'x'), 'UNAUTHENTICATED', 'a malformed ticket');
  const single = (await master.request('file.put.begin', { files: [{ path: '/e', size: 3000 }], overwrite: false })).data;
  t.equal(await send([first], bytes[0] as Buffer, single.ticket), 'FORBIDDEN', 'a one-file put\'s ticket for one of these blobs');
  t.same(await blobsOnDisk(cluster), { blobs: 0, temporary: 0 }, 'nothing was written');
  t.equal(await codeOf(admin.stat('/a')), 'NOT_FOUND', 'nothing was committed');

  // A refused put did not use its ticket up: the same booking goes through, once.
  t.equal(await send(blobs, whole), 'OK', 'a well-formed put is stored');
  t.equal((await admin.stat('/b')).size, 5000, 'and committed');
  t.equal(await send(blobs, whole), 'UNAUTHENTICATED', 'its ticket works once (replay)');
  t.same(await blobsOnDisk(cluster), { blobs: 2, temporary: 0 }, 'two blobs on disk');
});

t.test('a chain member killed (SIGKILL) before a put of 20 files reaches it: every file still ends with 3 replicas', async (t) => {
  const cluster = await startCluster(t, 4);
  const master = await cluster.client();
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const work = await tempDir(t);
  const files = await smallFiles(work, '', 20);
  const { data } = await master.request('file.put.begin', { files: files.map((file) => ({ path: file.remotePath, size: file.size })), overwrite: false });
  const [member] = data.chain;
  if (!member) throw new Error('a chain of two more nodes');
  (await processOf(cluster, admin, member.nodeId)).child.kill('SIGKILL');
  const channel = await connectNode(cluster.caPem, data.address, data.nodeId);
  t.teardown(() => channel.close());
  const body = Buffer.concat(await Promise.all(files.map((file) => fs.readFile(file.localPath))));
  const blobs = files.map((file, index) => ({ blobId: data.blobIds[index] ?? '', size: file.size }));
  await channel.request('blob.put', { blobs, ticket: data.ticket, chain: data.chain }, { body: { stream: Readable.from([body]), bytes: body.length } });
  await waitFor('every file at 3 replicas', async () => {
    for (const file of files) if ((await admin.stat(file.remotePath)).replicas?.have !== 3) return undefined;
    return true;
  });
  t.pass(`the ${files.length} files have 3 good copies on the 3 live nodes`);
  for (const file of files.slice(0, 5)) {
    const back = path.join(work, 'back');
    await admin.get(file.remotePath, back);
    t.equal(await sha256Of(back), await sha256Of(file.localPath), `${file.remotePath} reads back whole`);
  }
});
