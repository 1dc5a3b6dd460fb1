// The data path through real `build/dfs` processes: put/get/cat round trips byte for byte, one
// copy on exactly one node's disk (--replicas 1; chains are replication.test.ts's), isolation between users, refused tickets, rm freeing the blob.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import t from 'tap';
import { connectNode } from '../../src/client/transfer';
import { createBlobId } from '../../src/store/blobs';
import { ADMIN_PASSWORD, DFS, ioBytes, runDfs, startCluster, tempDir, waitFor } from '../helpers/binary';
import { randomFile, sha256Of } from '../helpers/files';
import { beginPut, codeOf, loginAt, putFile } from '../helpers/client';
import { blobFiles, masterAddress, shellEnv } from '../helpers/cluster';

const MIB = 1024 * 1024;

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.stat(a), fs.stat(b)]);
  return x.size === y.size && (await sha256Of(a)) === (await sha256Of(b));
}

t.test('put then get round trips 0 B, 1 B, 64 KiB ± 1 and 16 MiB byte for byte; with --replicas 1, one copy on one node', async (t) => {
  const cluster = await startCluster(t, 3, ['--replicas', '1']);
  const work = await tempDir(t);
  const sizes = [0, 1, 65535, 65536, 65537, 16 * MIB];
  for (const size of sizes) await randomFile(path.join(work, `f${size}`), size);
  const commands = sizes.flatMap((size) => [`put ${work}/f${size} /f${size}`, `get /f${size} ${work}/g${size}`]).join('; ');
  const run = await runDfs(['shell', masterAddress(cluster), '-c', commands], { env: shellEnv(cluster), timeoutMs: 120_000 });
  t.equal(run.code, 0, `the shell succeeded\n${run.stderr}`);
  for (const size of sizes) t.ok(await sameBytes(path.join(work, `f${size}`), path.join(work, `g${size}`)), `${size} bytes came back the same`);

  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const files = await blobFiles(cluster);
  t.equal(files.filter((file) => !file.temporary).length, sizes.length, 'one blob file per file put');
  t.same(files.filter((file) => file.temporary), [], 'no temp files left');
  const big = await admin.stat(`/f${16 * MIB}`);
  t.equal(big.sha256, await sha256Of(path.join(work, `f${16 * MIB}`)), 'stat shows the SHA-256');
  t.equal(big.replicas?.have, 1, 'one good replica');
  t.equal(big.replicas?.nodes.length, 1, 'on one node');
  const holders = files.filter((file) => file.name.endsWith(`.${16 * MIB}.${big.sha256 ?? ''}`));
  t.equal(holders.length, 1, 'the 16 MiB blob is on exactly one node\'s disk');

  // cat through the API, into a stream that is not ended
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, callback) => (chunks.push(chunk), callback()) });
  const catted = await admin.cat('/f65537', sink);
  t.equal(catted.size, 65537, 'cat delivered every byte');
  t.ok(Buffer.concat(chunks).equals(await fs.readFile(path.join(work, 'f65537'))), 'cat bytes are the file\'s');

  t.equal(await codeOf(putFile(admin, path.join(work, 'f1'), '/f1')), 'EXISTS', 'put onto an existing file needs overwrite');
  await putFile(admin, path.join(work, 'f65536'), '/f1', { overwrite: true });
  t.equal((await admin.stat('/f1')).size, 65536, 'overwrite replaced the file');
  await waitFor('the replaced blob to be deleted', async () => ((await blobFiles(cluster)).length === sizes.length ? true : undefined));
  t.pass('the replaced blob was freed');
});

t.test('another user cannot get, cat, stat or overwrite a file; a missing file leaves no local file', async (t) => {
  const cluster = await startCluster(t, 1);
  const work = await tempDir(t);
  await randomFile(path.join(work, 'secret'), 1000);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await putFile(admin, path.join(work, 'secret'), '/secret');
  await admin.useradd('bob', 'bob-password');
  const bob = await loginAt(t, cluster.master.address, cluster.caPem, 'bob', 'bob-password');
  t.equal(await codeOf(bob.get('/secret', path.join(work, 'stolen'))), 'NOT_FOUND', 'get: not found for bob');
  t.equal(await codeOf(bob.cat('/secret', new Writable({ write: (_c, _e, cb) => cb() }))), 'NOT_FOUND', 'cat: not found for bob');
  t.equal(await codeOf(bob.stat('/secret')), 'NOT_FOUND', 'stat: not found for bob');
  await randomFile(path.join(work, 'bobs'), 2000);
  await putFile(bob, path.join(work, 'bobs'), '/secret', { overwrite: true });
  t.equal((await bob.stat('/secret')).size, 2000, 'bob\'s put -f /secret makes a file of his own');
  t.equal((await admin.stat('/secret')).sha256, await sha256Of(path.join(work, 'secret')), 'and leaves admin\'s file as it was');
  await bob.remove('/secret', false);
  await fs.rm(path.join(work, 'bobs'));
  t.notOk(existsSync(path.join(work, 'stolen')), 'no local file');
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `get /nothing ${work}/nothing`], { env: shellEnv(cluster) });
  t.not(run.code, 0, 'get of a missing file fails');
  t.match(run.stderr, /dfs: get: \/nothing: No such file or directory/, 'and says why');
  t.same((await fs.readdir(work)).sort(), ['secret'], 'nothing was left in the local directory');
});

t.test('a forged, reused or missing ticket sent straight to a node is refused and leaves nothing on disk', async (t) => {
  const cluster = await startCluster(t, 1);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  const nodes = await admin.nodes();
  const node = nodes[0];
  if (!node) throw new Error('no node');
  const channel = await connectNode(cluster.caPem, node.advertise, node.nodeId);
  t.teardown(() => channel.close());
  const blobId = createBlobId();
  const bytes = randomBytes(4096);
  const send = (ticket: string): Promise<string> =>
    codeOf(channel.request('blob.put', { blobs: [{ blobId, size: bytes.length }], ticket, chain: [] }, { body: { stream: streamOf(bytes), bytes: bytes.length } }));
  const forgedClaims = Buffer.from(JSON.stringify({ v: 1, blobId, op: 'put', bytesMax: 4096, nodeId: node.nodeId, expiresMs: Date.now() + 60_000, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' })).toString('base64url');
  t.equal(await send(`${forgedClaims}.${randomBytes(32).toString('base64url')}`), 'UNAUTHENTICATED', 'a forged ticket is refused');
  t.equal(await send('x'), 'UNAUTHENTICATED', 'a malformed ticket is refused');
  t.equal(await codeOf(channel.request('node.blob.delete', { blobIds: [blobId] })), 'UNAUTHENTICATED', 'an anonymous peer may not order deletions');
  t.same(await blobFiles(cluster), [], 'nothing was written');

  // A real ticket works once; the second use is a replay.
  const master = await cluster.client();
  const begin = await beginPut(master, '/one', bytes.length);
  const put = (): Promise<string> =>
    codeOf(channel.request('blob.put', { blobs: [{ blobId: begin.blobId, size: bytes.length }], ticket: begin.ticket, chain: begin.chain }, { body: { stream: streamOf(bytes), bytes: bytes.length } }));
  t.equal(await put(), 'OK', 'the master\'s ticket is accepted');
  t.equal(await put(), 'UNAUTHENTICATED', 'the same ticket again is a replay');
  t.equal((await master.request('fs.stat', { path: '/one' })).data.size, bytes.length, 'the file was committed');
  t.equal((await blobFiles(cluster)).length, 1, 'one blob on disk');
  const other = createBlobId();
  t.equal(
    await codeOf(channel.request('blob.put', { blobs: [{ blobId: other, size: bytes.length }], ticket: begin.ticket, chain: begin.chain }, { body: { stream: streamOf(bytes), bytes: bytes.length } })),
    'FORBIDDEN',
    'a ticket for another blob is refused',
  );
});

function streamOf(bytes: Buffer): Readable {
  return Readable.from([bytes]);
}

t.test('rm frees the blob on every node that holds it', async (t) => {
  const cluster = await startCluster(t, 2);
  const work = await tempDir(t);
  await randomFile(path.join(work, 'a'), 3 * MIB);
  const run = await runDfs(['shell', masterAddress(cluster), '-c', `mkdir /d; put ${work}/a /d/; stat /d/a; rm -r /d`], { env: shellEnv(cluster) });
  t.equal(run.code, 0, `put, stat and rm succeeded\n${run.stderr}`);
  t.match(run.stdout, /Replicas:\s+2\/3/, 'stat shows two of three replicas (two nodes exist)');
  await waitFor('the blob to be deleted on its nodes', async () => ((await blobFiles(cluster)).length === 0 ? true : undefined));
  t.pass('no blob left on any node');
});

t.test('cp copies on the nodes: the copy has 3 whole replicas of its own, the shell reads almost nothing, rm of the source keeps it', async (t) => {
  const cluster = await startCluster(t, 3);
  const work = await tempDir(t);
  const size = 32 * MIB;
  const local = path.join(work, 'a');
  await randomFile(local, size);
  const sha256 = await sha256Of(local);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await putFile(admin, local, '/a');

  // An interactive shell, so its /proc counters can be read after cp and before it exits.
  const shell = spawn(DFS, ['shell', masterAddress(cluster)], { env: shellEnv(cluster), stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  shell.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  shell.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  shell.stdin.write('cp /a /b; pwd\n');
  await waitFor('cp, then pwd, to finish', async () => (output.includes('/\n') ? true : undefined), 60_000);
  const read = await ioBytes(shell.pid ?? 0, 'rchar');
  shell.stdin.end();
  await new Promise((resolve) => shell.once('exit', resolve));
  t.equal(output, '/\n', 'cp said nothing, as cp(1)');
  t.ok(read < size / 4, `the shell read ${read} bytes while ${size} were copied`);

  const copy = await admin.stat('/b');
  t.equal(copy.sha256, sha256, 'the copy has the file\'s hash');
  t.equal(copy.replicas?.have, 3, 'and three replicas (cp waited for them)');
  const copies = (await blobFiles(cluster)).filter((file) => !file.temporary && file.name.endsWith(`.${size}.${sha256}`));
  t.equal(copies.length, 6, 'six blob files: three of the source, three of the copy');
  for (const file of copies) t.equal(await sha256Of(file.file), sha256, `${file.node}/${file.name.slice(0, 8)} is whole`);
  await admin.remove('/a', false);
  await waitFor('the source\'s blobs to go', async () => ((await blobFiles(cluster)).length === 3 ? true : undefined));
  const back = path.join(work, 'back');
  await admin.get('/b', back);
  t.equal(await sha256Of(back), sha256, 'the copy reads back whole once the source is gone');
});
