// The storage nodes the master has known, as the catalog keeps them: so a restart still lists the dead and the
// drained, and never accepts a forgotten node again. Liveness and space are the registry's (core/nodes.ts), in
// memory: they change with every heartbeat and mean nothing after a restart.

import { DfsError } from '../../wire/errors';
import type { CatalogCore } from './core';
import { integer, SQL, text } from './schema';

export interface KnownNode {
  nodeId: string;
  /** Its address when it last registered. */
  advertise: string;
  registeredMs: number;
  drain: boolean;
  forgotten: boolean;
}

export class KnownNodes {
  constructor(private readonly core: CatalogCore) {}

  list(): KnownNode[] {
    this.core.checkOpen();
    return this.core.db.all(SQL.knownNodes, []).map((row) => ({
      nodeId: text(row[0]),
      advertise: text(row[1]),
      registeredMs: integer(row[2]),
      drain: row[3] === 1,
      forgotten: row[4] === 1,
    }));
  }

  /** A node registered at `advertise`: written only when it is new or its address changed (reconnects are many).
   * FORBIDDEN for a forgotten node. */
  async registered(nodeId: string, advertise: string, nowMs: number): Promise<void> {
    this.core.checkOpen();
    const known = this.core.db.first(SQL.knownNode, [nodeId]);
    if (known?.[2] === 1) throw forgottenError(nodeId);
    if (known && text(known[0]) === advertise) return;
    await this.core.mutate((recorder) => {
      recorder.run(SQL.noteNode, [nodeId, advertise, nowMs]);
    });
  }

  async setDrain(nodeId: string, drain: boolean): Promise<void> {
    await this.core.mutate((recorder) => {
      this.require(nodeId);
      recorder.run(SQL.setNodeDrain, [nodeId, drain ? 1 : 0]);
    });
  }

  /** The node is forgotten, and with it every copy the catalog records there. */
  async forget(nodeId: string): Promise<void> {
    await this.core.mutate((recorder) => {
      this.require(nodeId);
      recorder.run(SQL.forgetNode, [nodeId]);
      recorder.run(SQL.deleteReplicasOn, [nodeId]);
    });
  }

  private require(nodeId: string): void {
    const known = this.core.db.first(SQL.knownNode, [nodeId]);
    if (!known) throw new DfsError('NOT_FOUND', `no node ${nodeId}`);
    if (known[2] === 1) throw forgottenError(nodeId);
  }
}

/** What a forgotten node hears, whatever it asks. */
export function forgottenError(nodeId: string): DfsError {
  return new DfsError('FORBIDDEN', `node ${nodeId} was forgotten: wipe its data directory and join it again with the current join token`);
}
