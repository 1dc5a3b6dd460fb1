// --metrics HOST:PORT on the master and a node, scraped over HTTP as Prometheus would: the Prometheus text format with
// dfs_ names (nodes by state, space, the catalog and its journal, repair, requests by type and outcome with latency
// histograms, body bytes in and out), and /healthz saying whether the role is fit to serve.

import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import * as path from 'node:path';
import t from 'tap';
import { ADMIN_PASSWORD, runDfs, startCluster, tempDir, waitFor, type DfsProcess } from '../helpers/binary';
import { codeOf, loginAt } from '../helpers/client';
import { masterAddress, shellEnv } from '../helpers/cluster';
import { randomFile } from '../helpers/files';

function fetch(address: string, urlPath: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path: urlPath, method }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function metricsAddress(role: DfsProcess): string {
  const address = /^metrics on (\S+)$/m.exec(role.output().stdout)?.[1];
  if (!address) throw new Error(`no "metrics on" line: ${role.output().stdout}`);
  return address;
}

/** A sample's value by its name and labels as printed (e.g. 'dfs_nodes{state="alive"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('the master and a node serve /metrics and /healthz', async (t) => {
  const cluster = await startCluster(t, 1, ['--metrics', '127.0.0.1:0']);
  const node = await cluster.startNode('node2', ['--metrics', '127.0.0.1:0']);
  const admin = await loginAt(t, cluster.master.address, cluster.caPem, 'admin', ADMIN_PASSWORD);
  await waitFor('2 nodes', async () => ((await admin.nodes()).length === 2 ? true : undefined));
  t.equal(await codeOf(loginAt(t, cluster.master.address, cluster.caPem, 'admin', 'wrong-password')), 'UNAUTHENTICATED');
  const work = await tempDir(t);
  for (const name of ['a', 'b']) await randomFile(path.join(work, name), 100_000);
  t.equal((await runDfs(['shell', masterAddress(cluster), '-c', `put ${work}/a /a; put ${work}/b /b; cat /a`], { env: shellEnv(cluster) })).code, 0, 'two puts and a read');

  const master = metricsAddress(cluster.master);
  t.match(master, /^127\.0\.0\.1:\d+$/, 'the master prints where its metrics are');
  const scraped = await fetch(master, '/metrics');
  t.equal(scraped.status, 200);
  t.equal(scraped.type, 'text/plain; version=0.0.4; charset=utf-8', 'the Prometheus text format');
  const text = scraped.body;
  t.equal(sample(text, 'dfs_nodes{state="alive"}'), 2, 'nodes by state');
  t.equal(sample(text, 'dfs_nodes{state="dead"}'), 0);
  t.ok((sample(text, 'dfs_capacity_bytes') ?? 0) > 0 && (sample(text, 'dfs_used_bytes') ?? 0) >= 400_000, 'space: every copy of both files is counted');
  const atStart = Number(/serving (\d+) entries/.exec(cluster.master.output().stderr)?.[1]);
  t.equal(sample(text, 'dfs_catalog_entries'), atStart + 2, 'the catalog: two more entries than at the start');
  t.equal(sample(text, 'dfs_files_missing'), 0);
  t.ok((sample(text, 'dfs_requests_total{type="file.put.begin",outcome="ok"}') ?? 0) >= 2, 'requests by type and outcome');
  t.equal(sample(text, 'dfs_requests_total{type="auth.login",outcome="UNAUTHENTICATED"}'), 1, 'a failed login counted');
  t.match(text, '# TYPE dfs_request_duration_seconds histogram');
  t.ok((sample(text, 'dfs_request_duration_seconds_bucket{type="file.put.begin",le="+Inf"}') ?? 0) >= 2, 'latency histograms per type');
  t.ok((sample(text, 'dfs_journal_fsync_seconds_count') ?? 0) > 0, 'journal fsyncs timed');
  t.ok(text.split('\n').every((line) => line === '' || line.startsWith('# HELP dfs_') || line.startsWith('# TYPE dfs_') || /^dfs_[a-z_]+(\{[^}]*\})? -?[\d.e+-]+$/.test(line)), 'every line is a dfs_ sample or its HELP and TYPE');
  t.same(await fetch(master, '/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' }, 'healthy');
  t.equal((await fetch(master, '/nope')).status, 404);
  t.equal((await fetch(master, '/metrics', 'POST')).status, 405);

  // 200 connections to the metrics port that never send a request: the port takes at most 64, the role serves on.
  const idle = await Promise.all(Array.from({ length: 200 }, () => new Promise<Socket>((resolve) => {
    const socket = connect(Number(master.split(':')[1]), '127.0.0.1', () => resolve(socket));
    socket.on('error', () => resolve(socket));
  })));
  t.equal((await runDfs(['shell', masterAddress(cluster), '-c', 'ls /'], { env: shellEnv(cluster) })).code, 0, 'with its metrics port flooded the master serves');
  for (const socket of idle) socket.destroy();
  await waitFor('a scrape after the flood', async () => ((await fetch(master, '/healthz').catch(() => undefined))?.status === 200 ? true : undefined));
  t.pass('and scrapes work again once the idle connections are gone');

  const nodeText = (await fetch(metricsAddress(node), '/metrics')).body;
  t.ok((sample(nodeText, 'dfs_node_blobs') ?? 0) >= 1, 'a node counts its blobs');
  t.equal(sample(nodeText, 'dfs_node_registered'), 1);
  t.ok((sample(nodeText, 'dfs_body_bytes_received_total') ?? 0) >= 100_000, 'and the bytes it received');
  t.equal((await fetch(metricsAddress(node), '/healthz')).body, 'ok\n');
  cluster.master.child.kill('SIGKILL');
  await cluster.master.exited;
  await waitFor('the node to notice', async () => ((await fetch(metricsAddress(node), '/healthz')).status === 503 ? true : undefined));
  t.same(await fetch(metricsAddress(node), '/healthz'), { status: 503, type: 'text/plain; charset=utf-8', body: 'not registered with the master\n' }, 'a node without its master is not healthy');
});
