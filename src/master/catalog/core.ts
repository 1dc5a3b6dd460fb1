// What the parts of the catalog (namespace.ts, users.ts, replicas.ts) use of the Catalog holding them:
// its database, its clock, and its one way of changing anything (catalog.ts: a transaction whose
// statements become one journal record, resolved once that record is fsynced).

import type { SqlDatabase, StatementRecorder } from './sqljs';

export interface CatalogCore {
  /** The live database: read it at each use, never keep it (rolling back to the disk replaces it). */
  readonly db: SqlDatabase;
  /** Throws UNAVAILABLE once the catalog is closed. */
  checkOpen(): void;
  /** Runs `work` as one transaction and one journal record; resolves once that record is durable. */
  mutate<T>(work: (recorder: StatementRecorder) => T): Promise<T>;
  /** Now, in whole milliseconds. */
  timestamp(): number;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
