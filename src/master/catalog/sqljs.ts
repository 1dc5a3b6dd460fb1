// sql.js for the catalog: loading the WebAssembly module (from the bundle in the executable, from
// node_modules under tests), and a thin typed wrapper over one database: cached prepared statements,
// transactions that record every statement they execute (the journal's content), replay of such
// records, and the JSON form of recorded statements.

import { readFile } from 'node:fs/promises';
import { isSea } from 'node:sea';
import { setFlagsFromString } from 'node:v8';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';

export type { SqlJsStatic, SqlValue } from 'sql.js';

/** What a statement may be bound to; Uint8Array binds as a BLOB. */
export type SqlParam = number | string | Uint8Array | null;
export type SqlRow = SqlValue[];

/**
 * One executed data-changing statement, as the journal stores it and replay re-executes it. `changed`
 * (rows it changed) is checked on replay: a divergence is caught at once, never silently applied.
 */
export interface RecordedStatement {
  sql: string;
  params: SqlParam[];
  changed: number;
}

let loading: Promise<SqlJsStatic> | undefined;

/** The sql.js module, instantiated once per process. */
export function loadSqlJs(): Promise<SqlJsStatic> {
  loading ??= instantiate();
  return loading;
}

const WASM_MODULE = 'sql.js/dist/sql-wasm.wasm'; // a variable: the bundler must not resolve it here

async function instantiate(): Promise<SqlJsStatic> {
  // V8 recompiles SQLite's hottest functions with its optimizing compiler soon after start: ~0.45 CPU-s,
  // more than the rest of a master's start. A master that lives for seconds (tests start a hundred) may skip it
  // and run its queries on baseline code instead (up to ~10% slower).
  if (process.env.DFS_CATALOG_JIT === 'baseline') setFlagsFromString('--liftoff-only');
  const bytes = isSea() ? await bundledWasm() : await installedWasm();
  // wasmBinary must be exactly the file: a pooled Buffer is a view into a larger ArrayBuffer.
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  const wasmBinary = whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return initSqlJs({ wasmBinary: wasmBinary as ArrayBuffer });
}

/** The file in node_modules (tests); a plain bundle run away from node_modules uses its embedded copy. */
async function installedWasm(): Promise<Uint8Array> {
  let file: string;
  try {
    file = require.resolve(WASM_MODULE);
  } catch {
    return bundledWasm();
  }
  return readFile(file);
}

/** The bytes the build embeds in the bundle. */
async function bundledWasm(): Promise<Uint8Array> {
  return (await import('sql.js/dist/sql-wasm.wasm')).default;
}

// The database lives in sql.js's in-memory file system; durability is the journal's job, so
// SQLite's own rollback journal stays in memory (it still makes ROLLBACK work) and never syncs.
// EXCLUSIVE locking: nobody else opens this file, and without it every statement outside a
// transaction re-validates the page cache against the file (a point lookup took 33 µs, not 6).
const PRAGMAS = 'PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; PRAGMA locking_mode = EXCLUSIVE;';

/** Records the data-changing statements of one transaction; reads go through the database. */
export interface StatementRecorder {
  /** Executes and records a statement; returns the number of rows it changed. */
  run(sql: string, params: SqlParam[]): number;
}

export class SqlDatabase {
  private readonly statements = new Map<string, Statement>();
  private inTransaction = false;
  /** Set when a ROLLBACK failed: the database is in an unknown state and must not be used. */
  private broken: Error | undefined;

  private constructor(private readonly database: Database) {
    this.database.exec(PRAGMAS);
  }

  /** A database from an exported image, or an empty one. */
  static open(sql: SqlJsStatic, image?: Uint8Array): SqlDatabase {
    return new SqlDatabase(new sql.Database(image ?? null));
  }

  /** Runs a script (schema, pragmas): no parameters, not recorded. */
  script(sql: string): void {
    this.database.exec(sql);
  }

  /** Calls `visit` for each row until it returns false. */
  each(sql: string, params: SqlParam[], visit: (row: SqlRow) => boolean | void): void {
    const statement = this.prepared(sql);
    try {
      statement.bind(params);
      while (statement.step()) {
        if (visit(statement.get()) === false) break;
      }
    } finally {
      statement.reset();
    }
  }

  all(sql: string, params: SqlParam[]): SqlRow[] {
    const rows: SqlRow[] = [];
    this.each(sql, params, (row) => {
      rows.push(row);
    });
    return rows;
  }

  first(sql: string, params: SqlParam[]): SqlRow | undefined {
    let found: SqlRow | undefined;
    this.each(sql, params, (row) => {
      found = row;
      return false;
    });
    return found;
  }

  /**
   * Runs `work` in one transaction and returns what it recorded. If `work` or `beforeCommit` (given
   * the recorded statements) throws, the transaction is rolled back and the error rethrown: nothing
   * changed, nothing to journal.
   */
  transaction<T>(
    work: (recorder: StatementRecorder) => T,
    beforeCommit?: (statements: readonly RecordedStatement[]) => void,
  ): { result: T; statements: RecordedStatement[] } {
    if (this.inTransaction) throw new Error('sqljs: nested transaction');
    if (this.broken) throw this.broken;
    const statements: RecordedStatement[] = [];
    const recorder: StatementRecorder = {
      run: (sql, params) => {
        const changed = this.change(sql, params);
        statements.push({ sql, params, changed });
        return changed;
      },
    };
    this.control('BEGIN');
    this.inTransaction = true;
    try {
      const result = work(recorder);
      beforeCommit?.(statements);
      this.control('COMMIT');
      return { result, statements };
    } catch (error) {
      this.rollback(error);
      throw error;
    } finally {
      this.inTransaction = false;
    }
  }

  /** Re-executes recorded statements (journal replay) in one transaction; any failure is corruption. */
  replay(records: readonly RecordedStatement[][]): void {
    this.transaction(() => {
      for (const record of records) {
        for (const { sql, params, changed } of record) {
          const replayed = this.change(sql, params);
          if (replayed !== changed) throw new Error(`replay diverged: ${replayed} rows changed instead of ${changed} by ${sql}`);
        }
      }
    });
  }

  /** The database image (for a snapshot). */
  export(): Uint8Array {
    if (this.inTransaction) throw new Error('sqljs: export inside a transaction');
    const image = this.database.export();
    // Older sql.js versions closed and reopened the database in export(), freeing every prepared
    // statement and resetting pragmas. 1.16 does not, but being robust to it costs microseconds.
    this.forgetStatements();
    this.database.exec(PRAGMAS);
    return image;
  }

  close(): void {
    this.forgetStatements();
    this.database.close();
  }

  private rollback(cause: unknown): void {
    try {
      this.control('ROLLBACK');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const original = cause instanceof Error ? cause.message : String(cause);
      this.broken = new Error(`sqljs: ROLLBACK failed (${reason}) after: ${original}; the database cannot be trusted`);
    }
  }

  /** BEGIN, COMMIT, ROLLBACK: prepared once (exec would parse the text every time). */
  private control(sql: string): void {
    const statement = this.prepared(sql);
    try {
      statement.step();
    } finally {
      statement.reset();
    }
  }

  private change(sql: string, params: SqlParam[]): number {
    const statement = this.prepared(sql);
    try {
      statement.run(params);
    } finally {
      statement.reset();
    }
    return this.database.getRowsModified();
  }

  private prepared(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.database.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private forgetStatements(): void {
    for (const statement of this.statements.values()) statement.free();
    this.statements.clear();
  }
}

// The JSON form of recorded statements: [[sql, [param, ...], changed], ...], BLOBs as {"$b": base64}.

type JsonParam = number | string | null | { $b: string };

export function encodeStatements(statements: readonly RecordedStatement[]): Buffer {
  const json = statements.map(({ sql, params, changed }) => [sql, params.map(encodeParam), changed]);
  return Buffer.from(JSON.stringify(json));
}

function encodeParam(param: SqlParam): JsonParam {
  if (param instanceof Uint8Array) return { $b: Buffer.from(param.buffer, param.byteOffset, param.byteLength).toString('base64') };
  if (typeof param === 'number' && !Number.isFinite(param)) throw new Error(`sqljs: cannot record the number ${param}`);
  return param;
}

/** Throws unless `payload` is exactly what encodeStatements writes. */
export function decodeStatements(payload: Buffer): RecordedStatement[] {
  const json: unknown = JSON.parse(payload.toString('utf8'));
  if (!Array.isArray(json)) throw new Error('recorded statements: not a list');
  return json.map((item: unknown) => {
    if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string' || !Array.isArray(item[1]) || !Number.isSafeInteger(item[2])) {
      throw new Error('recorded statements: an item is not [sql, params, changed]');
    }
    return { sql: item[0], params: (item[1] as unknown[]).map(decodeParam), changed: item[2] as number };
  });
}

function decodeParam(value: unknown): SqlParam {
  if (value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) return value;
  if (typeof value === 'object' && typeof (value as { $b?: unknown }).$b === 'string' && Object.keys(value).length === 1) {
    return Buffer.from((value as { $b: string }).$b, 'base64');
  }
  throw new Error('recorded statements: a parameter is not a number, string, null or {"$b": base64}');
}
