// Background scrubbing through real `build/dfs` processes: a copy damaged on one node's disk, never read
// by anyone, is found by that node's scrub and reported; the master stops counting it, and the node
// reports it once however many passes follow. Also the flags: in `dfs node --help`, bad values refused.

import * as path from 'node:path';
import t from 'tap';
import { ADMIN_PASSWORD, runDfs, startCluster, tempDir, waitFor } from '../helpers/binary';
import { loginAt, putFile } from '../helpers/client';
import { blobFiles } from '../helpers/cluster';
import { damage, randomFile, sha256Of } from '../helpers/files';

const MIB = 1024 * 1024;
const F_BYTES = 3 * MIB + 7;

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}

t.test('scrub: a copy damaged on disk is found without any read, reported once, and the master stops counting it', async (t) => {
  const cluster = await startCluster(t, 0);
  for (const name of ['node1', 'node2', 'node3']) {
    cluster.nodes.push(await cluster.startNode(name, ['--scrub-interval', '1', '--scrub-rate', '64M']));
  }
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('three live nodes', async () => ((await admin.nodes()).filter((node) => node.state === 'alive').length === 3 ? true : undefined));
  const work = await tempDir(t);
  await randomFile(path.join(work, 'f'), F_BYTES);
  await randomFile(path.join(work, 'g'), 1 * MIB);
  t.equal((await putFile(admin, path.join(work, 'f'), '/f')).replicas?.have, 3, '/f: three copies');
  t.equal((await putFile(admin, path.join(work, 'g'), '/g')).replicas?.have, 3, '/g: three copies (stays whole)');

  const node2 = cluster.nodes[1];
  if (!node2) throw new Error('no node2');
  const node2Id = (await admin.nodes()).find((node) => node.advertise.endsWith(`:${node2.address.port}`))?.nodeId;
  if (!node2Id) throw new Error('node2 is not registered');
  // Blob files are named <id>.<size>.<sha256>: /f's is the one of its size.
  const copy = (await blobFiles(cluster)).find((file) => file.node === 'node2' && !file.temporary && file.name.split('.')[1] === String(F_BYTES));
  const blobId = copy?.name.split('.')[0];
  if (!copy || !blobId) throw new Error('node2 holds no copy of /f');
  await damage(copy.file);

  // The master stops counting it, and its repairer replaces it soon after.
  await waitFor('the master to mark node2\'s copy bad', async () =>
    new RegExp(`replica of blob ${blobId} on ${node2Id} is bad`).test(cluster.master.output().stderr) ? true : undefined,
  60_000);
  t.pass('the master stopped counting node2\'s copy');
  await waitFor('3 good copies again', async () => ((await admin.stat('/f')).replicas?.have === 3 ? true : undefined), 60_000);
  const [replaced] = (await blobFiles(cluster)).filter((file) => file.node === 'node2' && !file.temporary && file.name.startsWith(blobId));
  t.equal(replaced && (await sha256Of(replaced.file)), copy.name.split('.')[2], 'node2 holds a whole copy again');
  t.equal((await admin.stat('/g')).replicas?.have, 3, '/g keeps its three copies');

  // Two more passes over node2's blobs (each re-hashes /g's copy and logs it): the damage is not reported again.
  const passes = (): number => count(node2.output().stderr, /scrub: re-hashed \d+ blob/);
  const seen = passes();
  await waitFor('two more scrub passes on node2', async () => (passes() >= seen + 2 ? true : undefined), 30_000);
  t.equal(count(node2.output().stderr, new RegExp(`scrub: blob ${blobId} is damaged`)), 1, 'node2 found and reported the damage once');
  for (const other of [cluster.nodes[0], cluster.nodes[2]]) {
    t.equal(count(other?.output().stderr ?? '', /is damaged/), 0, 'the other nodes found nothing wrong');
  }
});

t.test('scrub flags: listed in dfs node --help; a malformed rate or interval is a usage error', async (t) => {
  const help = await runDfs(['node', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--scrub-rate <size>/, '--scrub-rate in the help');
  t.match(help.stdout, /--scrub-interval <seconds>/, '--scrub-interval in the help');
  const work = await tempDir(t);
  for (const [flag, value] of [['--scrub-rate', 'fast'], ['--scrub-interval', '0'], ['--scrub-interval', 'soon']] as const) {
    const run = await runDfs(['node', '--master', '127.0.0.1:1', '--token', 'x', '--data', path.join(work, 'n'), flag, value]);
    t.equal(run.code, 2, `${flag} ${value}: exit 2 (${run.stderr.trim()})`);
  }
});
