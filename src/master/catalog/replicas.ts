// Replicas: which nodes hold a copy of which blob, and in what state; the repairer's sweep over the
// files with a blob, and the files a node's report is checked against. A copy's states are listed in
// schema.ts (REPLICA_STATES).

import { BLOB_ID_BYTES_MAX } from '../../limits';
import { DfsError } from '../../wire/errors';
import type { CatalogCore } from './core';
import { integer, REPLICA_STATES, SQL, text, type ReplicaState } from './schema';
import type { StatementRecorder } from './sqljs';

export type { ReplicaState } from './schema';

export interface Replica {
  nodeId: string;
  state: ReplicaState;
}

const NODE_ID = /^[a-z0-9-]{1,64}$/;

export class Replicas {
  constructor(private readonly core: CatalogCore) {}

  /** The copies of a blob the catalog knows of, by node id. */
  replicasOf(blobId: string): Replica[] {
    this.core.checkOpen();
    return this.core.db.all(SQL.replicasOf, [blobId]).map((row) => ({ nodeId: text(row[0]), state: replicaState(row[1]) }));
  }

  /** The replication factors setrep gave these blobs; a blob without one has the master's. */
  wantsOf(blobIds: readonly string[]): Map<string, number> {
    this.core.checkOpen();
    const wants = new Map<string, number>();
    if (blobIds.length === 0) return wants;
    for (const row of this.core.db.all(SQL.wantsOf, [JSON.stringify(blobIds)])) wants.set(text(row[0]), integer(row[1]));
    return wants;
  }

  /** The copies of several blobs in one query (a page of a listing), by blob id; blobs without copies are absent. */
  replicasOfBlobs(blobIds: readonly string[]): Map<string, Replica[]> {
    this.core.checkOpen();
    const byBlob = new Map<string, Replica[]>();
    if (blobIds.length === 0) return byBlob;
    for (const row of this.core.db.all(SQL.replicasOfBlobs, [JSON.stringify(blobIds)])) {
      const blobId = text(row[0]);
      const list = byBlob.get(blobId) ?? [];
      list.push({ nodeId: text(row[1]), state: replicaState(row[2]) });
      byBlob.set(blobId, list);
    }
    return byBlob;
  }

  /** Files with a blob, in id order after `afterId`: a page of the repairer's sweep over the whole catalog. */
  filesAfter(afterId: number, limit: number): { id: number; owner: number; blobId: string; size: number; sha256: string }[] {
    this.core.checkOpen();
    return this.core.db.all(SQL.filesAfter, [afterId, limit]).map((row) => ({
      id: Number(row[0]),
      owner: Number(row[1]),
      blobId: text(row[2]),
      size: Number(row[3]),
      sha256: text(row[4]).toLowerCase(),
    }));
  }

  /** Every copy recorded on one node, by blob id (to reconcile with what the node reports it holds). */
  replicasOn(nodeId: string): Map<string, ReplicaState> {
    this.core.checkOpen();
    return new Map(this.core.db.all(SQL.replicasOn, [nodeId]).map((row) => [text(row[0]), replicaState(row[1])]));
  }

  /** The size, SHA-256 and owner of the files that have these blobs (a node's report is checked against them). */
  blobFiles(blobIds: readonly string[]): Map<string, { size: number; sha256: string; owner: number }> {
    this.core.checkOpen();
    if (blobIds.length === 0) return new Map();
    return new Map(this.core.db.all(SQL.filesOfBlobs, [JSON.stringify(blobIds)]).map((row) => [text(row[0]), { size: Number(row[1]), sha256: text(row[2]).toLowerCase(), owner: integer(row[3]) }]));
  }

  /** The nodes any copy is recorded on: those a restarted master waits to hear from. */
  replicaNodes(): string[] {
    this.core.checkOpen();
    return this.core.db.all(SQL.replicaNodes, []).map((row) => text(row[0]));
  }

  /** Several copies' states changed (`null` forgets the copy) in one journaled transaction. */
  async changeReplicas(changes: readonly { blobId: string; nodeId: string; state: ReplicaState | null }[]): Promise<void> {
    if (changes.length === 0) return;
    for (const change of changes) checkNodeId(change.nodeId);
    await this.core.mutate((recorder) => {
      for (const { blobId, nodeId, state } of changes) {
        if (state === null) recorder.run(SQL.deleteReplica, [blobId, nodeId]);
        else recorder.run(SQL.putReplica, [blobId, nodeId, REPLICA_STATES.indexOf(state)]);
      }
    });
  }

  /** Records (or changes) the state of one copy of a blob on one node. */
  async setReplica(blobId: string, nodeId: string, state: ReplicaState): Promise<void> {
    checkNodeId(nodeId);
    checkBlobId(blobId);
    await this.core.mutate((recorder) => {
      recorder.run(SQL.putReplica, [blobId, nodeId, REPLICA_STATES.indexOf(state)]);
    });
  }

  /** Records a new copy of a blob (a replica a chain delivered, or one a node reports): good while a file
   * references the blob, else `deleting` (the file was removed or replaced meanwhile) so the deletion pass
   * removes it; a copy already recorded keeps its state. Journaled. */
  async addReplica(blobId: string, nodeId: string): Promise<ReplicaState> {
    const [state] = await this.addReplicas([{ blobId, nodeId }]);
    if (!state) throw new Error(`catalog: replica of ${blobId} on ${nodeId} was not recorded`);
    return state;
  }

  /** addReplica for several copies as one transaction and one journal record (a batch's chain member);
   * their states in the same order. */
  async addReplicas(copies: readonly { blobId: string; nodeId: string }[]): Promise<ReplicaState[]> {
    for (const { blobId, nodeId } of copies) {
      checkNodeId(nodeId);
      checkBlobId(blobId);
    }
    await this.core.mutate((recorder) => {
      for (const { blobId, nodeId } of copies) recorder.run(SQL.addReplica, [blobId, nodeId]);
    });
    const byBlob = this.replicasOfBlobs([...new Set(copies.map((copy) => copy.blobId))]);
    return copies.map(({ blobId, nodeId }) => {
      const added = byBlob.get(blobId)?.find((replica) => replica.nodeId === nodeId);
      if (!added) throw new Error(`catalog: replica of ${blobId} on ${nodeId} was not recorded`);
      return added.state;
    });
  }

  /** Forgets a copy once its node removed it (or never had it). */
  async forgetReplica(blobId: string, nodeId: string): Promise<void> {
    await this.core.mutate((recorder) => {
      recorder.run(SQL.deleteReplica, [blobId, nodeId]);
    });
  }

  /** Copies no file needs any more, to be deleted on their nodes (at most `limit`, by node). */
  replicasToDelete(limit: number): { blobId: string; nodeId: string }[] {
    this.core.checkOpen();
    return this.core.db.all(SQL.replicasDeleting, [limit]).map((row) => ({ blobId: text(row[0]), nodeId: text(row[1]) }));
  }
}

/** Blobs no entry references any more: their copies become `deleting`, in the same transaction. */
export function freeReplicas(recorder: StatementRecorder, blobIds: readonly string[]): void {
  if (blobIds.length === 0) return;
  recorder.run(SQL.freeReplicas, [JSON.stringify(blobIds)]);
  recorder.run(SQL.forgetWants, [JSON.stringify(blobIds)]);
}

export function checkNodeId(nodeId: unknown): void {
  if (typeof nodeId !== 'string' || !NODE_ID.test(nodeId)) throw new DfsError('BAD_REQUEST', 'malformed node id');
}

export function checkBlobId(blobId: unknown): void {
  if (typeof blobId !== 'string' || blobId.length === 0 || Buffer.byteLength(blobId) > BLOB_ID_BYTES_MAX) {
    throw new DfsError('BAD_REQUEST', `blob id must be 1-${BLOB_ID_BYTES_MAX} bytes`);
  }
}

function replicaState(value: unknown): ReplicaState {
  const state = REPLICA_STATES[integer(value)];
  if (state === undefined) throw new Error(`catalog: unknown replica state ${String(value)}`);
  return state;
}
