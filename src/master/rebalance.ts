// The balancer: moves blobs from the fullest nodes to the emptiest until every node's used fraction is within a
// threshold of the cluster's mean (core/balance.ts decides between which nodes and how many bytes). A round plans at
// most REBALANCE_ROUND_MOVES_MAX moves, makes them REBALANCE_STREAMS_MAX at a time, then waits for the nodes'
// figures to catch up. A move copies the blob to the emptier node first and deletes the fuller node's copy only
// once enough good copies exist without it: a file never has fewer copies than it wants.

import { CHAIN_REPAIRS_MAX, HEARTBEAT_INTERVAL_MS, REBALANCE_ROUND_MOVES_MAX, REBALANCE_STREAMS_MAX, REQUEST_TIMEOUT_MS } from '../limits';
import type { RebalanceStatus } from '../client/api';
import { DfsError } from '../wire/errors';
import { balanced, balancePairs, type BalanceNode } from './core/balance';
import { availableBytes, writable } from './core/placement';
import type { MasterState, RebalanceService } from './state';
import { candidates, replicateFrom, scheduleDeletions } from './transfers';

interface Move {
  blobId: string;
  from: string;
  to: string;
  size: number;
  sha256: string;
  owner: number;
}

export class Rebalancer implements RebalanceService {
  private progress: RebalanceStatus | undefined;
  private stopRequested = false;
  private readonly moving = new Set<string>();

  constructor(private readonly stateOf: () => MasterState) {}

  /** A blob being moved: the repairer leaves it alone until the move is done. */
  isMoving(blobId: string): boolean {
    return this.moving.has(blobId);
  }

  status(): RebalanceStatus | undefined {
    return this.progress && { ...this.progress, inFlight: this.moving.size };
  }

  /** Starts balancing to within `thresholdPct` of the mean (a run under way takes the new threshold). */
  start(thresholdPct: number): RebalanceStatus {
    if (this.progress?.running) this.progress.thresholdPct = thresholdPct;
    else {
      this.progress = { running: true, thresholdPct, moved: 0, bytes: 0, failed: 0, inFlight: 0, startedMs: this.stateOf().now() };
      this.stopRequested = false;
      void this.run(this.progress);
    }
    return this.status() ?? this.progress;
  }

  /** Stops after the moves under way. */
  stop(): void {
    this.stopRequested = true;
  }

  private async run(progress: RebalanceStatus): Promise<void> {
    const state = this.stateOf();
    state.log.info(`rebalance: moving blobs until every node is within ${progress.thresholdPct}% of the mean`);
    try {
      for (;;) {
        if (this.stopRequested) {
          progress.outcome = 'stopped';
          break;
        }
        const nodes = this.nodes();
        const threshold = progress.thresholdPct / 100;
        if (nodes.length < 2 || balanced(nodes, threshold)) {
          progress.outcome = `every node is within ${progress.thresholdPct}% of the mean`;
          break;
        }
        const moves = this.plan(nodes, threshold);
        if (moves.length === 0) {
          progress.outcome = 'no blob can move closer to the mean (the fuller nodes\' blobs are on the emptier ones already, or being copied)';
          break;
        }
        await this.make(moves, progress);
        // The nodes' own figures (their heartbeats) then show the moves.
        await new Promise<void>((resolve) => state.clock.after(HEARTBEAT_INTERVAL_MS * 2, resolve));
      }
    } catch (error) {
      progress.outcome = `failed: ${DfsError.wrap(error).message}`;
    } finally {
      progress.running = false;
      progress.endedMs = state.now();
      state.log.info(`rebalance: done in ${Math.round((progress.endedMs - progress.startedMs) / 1000)} s: ${progress.moved} blob(s) moved (${progress.bytes} bytes), ${progress.failed} failed; ${progress.outcome ?? ''}`);
    }
  }

  /** The nodes that may give or take: alive, linked, and taking new blobs. */
  private nodes(): BalanceNode[] {
    const state = this.stateOf();
    const writableIds = new Set(candidates(state, state.now()).filter(writable).map((node) => node.nodeId));
    return state.nodes.list().filter((node) => writableIds.has(node.nodeId) && node.capacityBytes > 0).map(({ nodeId, capacityBytes, usedBytes }) => ({ nodeId, capacityBytes, usedBytes }));
  }

  /** Blobs to move for this round, largest first within each pair's bytes and the taker's room. */
  private plan(nodes: readonly BalanceNode[], threshold: number): Move[] {
    const state = this.stateOf();
    const room = new Map(candidates(state, state.now()).map((node) => [node.nodeId, availableBytes(node)]));
    const moves: Move[] = [];
    const planned = new Set<string>();
    for (const pair of balancePairs(nodes, threshold)) {
      const held = [...state.catalog.replicasOn(pair.from)].filter(([blobId, replicaState]) => replicaState === 'good' && !planned.has(blobId) && !this.moving.has(blobId) && !state.chains.has(blobId)).map(([blobId]) => blobId);
      const files = state.catalog.blobFiles(held);
      const copies = state.catalog.replicasOfBlobs(held);
      const movable = held.flatMap((blobId) => {
        const file = files.get(blobId);
        const onTarget = (copies.get(blobId) ?? []).some((copy) => copy.nodeId === pair.to);
        return file && !onTarget ? [{ blobId, ...file }] : [];
      }).sort((a, b) => b.size - a.size || a.blobId.localeCompare(b.blobId));
      let budget = pair.bytes;
      for (const blob of movable) {
        if (moves.length >= REBALANCE_ROUND_MOVES_MAX) return moves;
        const free = room.get(pair.to) ?? 0;
        if (blob.size > budget || blob.size > free) continue;
        moves.push({ blobId: blob.blobId, from: pair.from, to: pair.to, size: blob.size, sha256: blob.sha256, owner: blob.owner });
        planned.add(blob.blobId);
        budget -= blob.size;
        room.set(pair.to, free - blob.size);
      }
    }
    return moves;
  }

  /** Makes the moves, REBALANCE_STREAMS_MAX at a time. */
  private async make(moves: readonly Move[], progress: RebalanceStatus): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let move = moves[next++]; move !== undefined && !this.stopRequested; move = moves[next++]) {
        if (await this.move(move)) {
          progress.moved++;
          progress.bytes += move.size;
        } else progress.failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(REBALANCE_STREAMS_MAX, moves.length) }, worker));
  }

  /** Copies the blob to the taker, then gives up the giver's copy if the file keeps its copies without it. */
  private async move(move: Move): Promise<boolean> {
    const state = this.stateOf();
    if (state.chains.has(move.blobId)) return false;
    this.moving.add(move.blobId);
    try {
      const chain = replicateFrom(state, { blobId: move.blobId, userId: move.owner, size: move.size, sha256: move.sha256 }, move.from, [move.to], CHAIN_REPAIRS_MAX);
      await state.chains.waitFor(chain, chain.forgetMs - state.now() + REQUEST_TIMEOUT_MS);
      if (!chain.stored.has(move.to)) return false;
      const nowMs = state.now();
      const want = state.catalog.wantsOf([move.blobId]).get(move.blobId) ?? state.replicas;
      const others = state.catalog.replicasOf(move.blobId).filter((copy) => {
        const node = state.nodes.get(copy.nodeId);
        return copy.state === 'good' && copy.nodeId !== move.from && node !== undefined && state.nodes.stateOf(node, nowMs) === 'alive' && !node.drain;
      });
      if (others.length < want) return true; // the copy is made; the repairer trims whichever is surplus later
      await state.catalog.changeReplicas([{ blobId: move.blobId, nodeId: move.from, state: 'deleting' }]);
      scheduleDeletions(state);
      state.log.debug(`rebalance: moved blob ${move.blobId} (${move.size} bytes) from ${move.from} to ${move.to}`);
      return true;
    } catch (error) {
      state.log.warn(`rebalance: blob ${move.blobId}: ${DfsError.wrap(error).message}`);
      return false;
    } finally {
      this.moving.delete(move.blobId);
    }
  }
}
