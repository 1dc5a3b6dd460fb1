// Scripted scenarios in the deterministic simulation (world.ts), for the timer-driven behaviour that real
// processes can show only by waiting out real timeouts: a node dead past the node timeout and coming back, and a
// master restart with a node late to report (safe mode). Virtual time: each runs in well under a second.

import t, { type Test } from 'tap';
import { NODE_TIMEOUT_S_DEFAULT, SAFE_MODE_MAX_MS } from '../../src/limits';
import type { MasterIdentity } from '../../src/master/identity';
import type { MasterState } from '../../src/master/state';
import { simIdentity } from './seeds';
import { World } from './world';

const FILES = 20;
const NODE_TIMEOUT_MS = NODE_TIMEOUT_S_DEFAULT * 1000;

async function settledWorld(t: Test, identity: MasterIdentity): Promise<World> {
  const world = new World({ seed: 7, minutes: 0, nodes: 4, clients: 1, faults: false }, identity);
  world.keepAll = true;
  await world.boot();
  await world.clock.runUntil(5_000);
  const [client] = world.clients;
  if (!client) throw new Error('a client');
  await world.runWhile((async () => { for (let index = 0; index < FILES; index++) await client.put(`/f${index}`, false); })(), 'the puts');
  await settle(world);
  t.same(world.unsettled(), [], `${FILES} files put, each at 3 copies`);
  return world;
}

async function settle(world: World, limitMs = 10 * 60_000): Promise<void> {
  for (const until = world.clock.now() + limitMs; world.clock.now() < until && world.unsettled().length > 0; ) await world.clock.runUntil(world.clock.now() + 5_000);
}

function master(world: World): MasterState {
  const state = world.masterState;
  if (!state) throw new Error('the master is running');
  return state;
}

/** Every file's good copies on live nodes. */
function liveCopies(world: World): number[] {
  const state = master(world);
  const nowMs = world.clock.now();
  const files = state.catalog.filesAfter(0, 10_000);
  const replicas = state.catalog.replicasOfBlobs(files.map((file) => file.blobId));
  return files.map((file) => (replicas.get(file.blobId) ?? []).filter((replica) => {
    const node = state.nodes.get(replica.nodeId);
    return replica.state === 'good' && node !== undefined && state.nodes.stateOf(node, nowMs) === 'alive';
  }).length);
}

function copiesStartedAfter(world: World, sinceMs: number): string[] {
  return world.lines.filter((line) => line.includes(': copying from ') && Number.parseFloat(line) * 1000 >= sinceMs);
}

t.test('scenarios', async (t) => {
  const identity = await simIdentity(t);

  await t.test('a node dead past the node timeout: nothing is copied before, every file is back at 3 live copies after; back, its surplus is trimmed to exactly 3', async (t) => {
    const world = await settledWorld(t, identity);
    const victim = world.nodes.find((node) => node.blobs.size > 0);
    if (!victim) throw new Error('a node holds copies');
    const diedMs = world.clock.now();
    victim.crash();
    await world.clock.runUntil(diedMs + NODE_TIMEOUT_MS - 1_000);
    t.same(copiesStartedAfter(world, diedMs), [], 'no copy while the node may still be alive');
    await world.clock.runUntil(diedMs + NODE_TIMEOUT_MS + 60_000);
    t.ok(copiesStartedAfter(world, diedMs).length > 0, 'copies made once it is dead');
    t.same(liveCopies(world).filter((count) => count !== 3), [], 'every file at 3 good copies on live nodes');
    victim.start();
    await settle(world);
    t.same(world.unsettled(), [], 'back: exactly 3 copies of each, nothing else on any node');
    t.ok(world.lines.some((line) => line.includes('surplus copies to delete')), 'its surplus copies were trimmed');
  });

  await t.test('a master restart with a node late to report: safe mode holds every copy back until it reports, and then nothing needs copying', async (t) => {
    const world = await settledWorld(t, identity);
    const late = world.nodes.find((node) => node.blobs.size > 0);
    if (!late) throw new Error('a node holds copies');
    world.crashMaster();
    late.crash();
    await world.clock.runUntil(world.clock.now() + 1_000);
    const restartedMs = world.clock.now();
    await world.startMaster();
    await world.clock.runUntil(restartedMs + SAFE_MODE_MAX_MS / 2);
    t.ok(master(world).repairer.status().safeMode, 'in safe mode while the late node has not reported');
    t.same(copiesStartedAfter(world, restartedMs), [], 'nothing copied meanwhile');
    late.start();
    await world.clock.runUntil(world.clock.now() + 10_000);
    t.notOk(master(world).repairer.status().safeMode, 'out of safe mode once it reported');
    await settle(world);
    t.same(world.unsettled(), [], 'every file at exactly 3 copies');
    t.same(copiesStartedAfter(world, restartedMs), [], 'and not one copy was made: the restart caused no replication storm');
  });
});
