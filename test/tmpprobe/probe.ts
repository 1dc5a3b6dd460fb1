import t from 'tap';
import { readFileSync } from 'node:fs';
import { startCluster } from '../helpers/binary';
const cpu = (pid: number): number => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const r = s.slice(s.lastIndexOf(') ') + 2).split(' '); return (Number(r[11]) + Number(r[12])) / 100; };
t.test('probe', async (t) => {
  const t0 = Date.now();
  const cluster = await startCluster(t, 3);
  const ready = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 3000));
  t.comment(`ready in ${ready} ms; master ${cpu(cluster.master.child.pid!)} nodes ${cluster.nodes.map((n) => cpu(n.child.pid!)).join(' ')} (after 3 s idle)`);
  await new Promise((r) => setTimeout(r, 10000));
  t.comment(`after 13 s: master ${cpu(cluster.master.child.pid!)} nodes ${cluster.nodes.map((n) => cpu(n.child.pid!)).join(' ')}`);
});
