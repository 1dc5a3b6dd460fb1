// The admin's tools for nodes: drain (decommission) and undrain, forget a dead or drained node, and rotate the
// join token. What draining means for placement and repair is core/placement.ts's and core/repair-plan.ts's.

import type { Incoming, Reply } from '../wire/channel';
import { DfsError } from '../wire/errors';
import type { NodeRecord } from './core/nodes';
import { rotateJoinToken } from './identity';
import { requireAdmin, requireSession, type MasterState } from './state';

/** The node a request names, by id or by its address. */
function namedNode(state: MasterState, name: string): NodeRecord {
  const byId = state.nodes.get(name);
  if (byId) return byId;
  const byAddress = state.nodes.list().filter((node) => node.advertise === name);
  if (byAddress.length === 1 && byAddress[0]) return byAddress[0];
  throw new DfsError('NOT_FOUND', `no node ${name} (nodes lists them)`);
}

export async function drain(state: MasterState, request: Incoming<'cluster.drain'>): Promise<Reply<'cluster.drain'>> {
  const session = requireSession(state, request);
  const wanted = request.data.drain;
  requireAdmin(session, wanted ? 'drain' : 'undrain');
  const node = namedNode(state, request.data.node);
  if (node.drain !== wanted) {
    await state.catalog.setNodeDrain(node.nodeId, wanted);
    state.nodes.setDrain(node.nodeId, wanted);
    state.repairer.poke();
    state.log.info(wanted ? `${session.user} drains node ${node.nodeId}: no new blobs go there, and its files get their copies on other nodes` : `${session.user} stopped draining node ${node.nodeId}: it takes new blobs again`);
  }
  return { data: { nodeId: node.nodeId } };
}

export async function forget(state: MasterState, request: Incoming<'cluster.forget'>): Promise<Reply<'cluster.forget'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'forget');
  const node = namedNode(state, request.data.node);
  const dead = state.nodes.stateOf(node, state.now()) === 'dead';
  if (!dead && !(node.drain && state.repairer.drained(node.nodeId))) {
    throw new DfsError('BAD_REQUEST', `node ${node.nodeId} is alive and not drained: drain it first (drain ${node.nodeId}) and wait for nodes to show it drained, or stop it`);
  }
  await state.catalog.forgetNode(node.nodeId);
  state.nodes.forget(node.nodeId);
  state.repairer.poke(); // the copies it held no longer count
  state.log.warn(`${session.user} forgot node ${node.nodeId} (${node.advertise}): its certificate is refused from now on`);
  return { data: { nodeId: node.nodeId } };
}

export async function rebalance(state: MasterState, request: Incoming<'cluster.rebalance'>): Promise<Reply<'cluster.rebalance'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'rebalance');
  if (request.data.stop) {
    state.rebalancer.stop();
    const status = state.rebalancer.status();
    if (!status) throw new DfsError('NOT_FOUND', 'no rebalance has run since the master started');
    return { data: status };
  }
  return { data: state.rebalancer.start(request.data.thresholdPct) };
}

export async function rotateToken(state: MasterState, request: Incoming<'cluster.token.rotate'>): Promise<Reply<'cluster.token.rotate'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'token rotate');
  if (state.dataDir === undefined) throw new DfsError('INTERNAL', 'this master keeps no join token file');
  await rotateJoinToken(state.dataDir, state.identity);
  state.log.info(`${session.user} made a new join token: the old one joins no new node`);
  return { data: {} };
}
