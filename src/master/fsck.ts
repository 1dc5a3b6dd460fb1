// fsck: how healthy the files are, as the master sees them — each file's good copies on live
// nodes against the replication factor, and damaged copies. A user sees the files under a path of their
// own tree; the admin sees every user's, named `user:/path`. Read-only; paged through the catalog.

import { FSCK_PROBLEMS_MAX } from '../limits';
import type { Incoming, Reply } from '../wire/channel';
import type { ResponseOf } from '../wire/messages';
import { ROOT } from '../paths';
import { requireSession, type MasterState } from './state';

type Report = ResponseOf<'cluster.fsck'>;

export async function fsck(state: MasterState, request: Incoming<'cluster.fsck'>): Promise<Reply<'cluster.fsck'>> {
  const session = requireSession(state, request);
  const { safeMode, copying } = state.repairer.status();
  const report: Report = { files: 0, bytes: 0, healthy: 0, under: 0, missing: 0, corrupt: 0, safeMode, copying, problems: [] };
  const scopes = session.admin && request.data.path === ROOT
    ? state.catalog.listUsers().map((user) => ({ userId: user.id, prefix: `${user.name}:` }))
    : [{ userId: session.userId, prefix: '' }];
  for (const scope of scopes) checkTree(state, scope.userId, request.data.path, scope.prefix, report);
  return { data: report };
}

function checkTree(state: MasterState, userId: number, path: string, prefix: string, report: Report): void {
  const nowMs = state.now();
  let after: string | undefined;
  do {
    const page = state.catalog.find(userId, path, { type: 'file' }, after === undefined ? {} : { after });
    const blobIds = page.items.flatMap((entry) => (entry.blobId === null ? [] : [entry.blobId]));
    const copies = state.catalog.replicasOfBlobs(blobIds);
    const wants = state.catalog.wantsOf(blobIds);
    for (const entry of page.items) {
      if (entry.blobId === null) continue;
      report.files++;
      report.bytes += entry.size;
      const replicas = copies.get(entry.blobId) ?? [];
      const want = wants.get(entry.blobId) ?? state.replicas;
      const live = replicas.filter((replica) => {
        const node = state.nodes.get(replica.nodeId);
        return replica.state === 'good' && node !== undefined && state.nodes.stateOf(node, nowMs) === 'alive';
      });
      // A copy on a node being drained is read from, but does not count: the file needs its copies elsewhere.
      const have = live.filter((replica) => state.nodes.get(replica.nodeId)?.drain !== true).length;
      const bad = replicas.filter((replica) => replica.state === 'bad').length;
      const problem = live.length === 0 ? 'missing' : have < want ? 'under' : bad > 0 ? 'corrupt' : undefined;
      if (problem === undefined) {
        report.healthy++;
        continue;
      }
      report[problem]++;
      if (report.problems.length < FSCK_PROBLEMS_MAX) report.problems.push({ path: `${prefix}${entry.path}`, problem, have, want, bad });
    }
    after = page.next;
  } while (after !== undefined);
}
