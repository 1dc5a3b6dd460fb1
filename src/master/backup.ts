// The admin's online backup: the catalog exported at one moment (as a snapshot file, streamed as the reply's
// body) and the identity files a master needs to be this cluster's master again. `dfs master --data DIR` on a
// directory holding them starts from them; orphans the nodes then report are kept a while (repair.ts).

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { Incoming, Reply } from '../wire/channel';
import { DfsError } from '../wire/errors';
import { BACKUP_FILES } from '../wire/messages';
import { requireAdmin, requireSession, type MasterState } from './state';

/** One backup at a time: each holds a copy of the catalog in memory while it is sent. */
const running = new WeakSet<MasterState>();

export async function backup(state: MasterState, request: Incoming<'cluster.backup'>): Promise<Reply<'cluster.backup'>> {
  const session = requireSession(state, request);
  requireAdmin(session, 'backup');
  const { dataDir } = state;
  if (dataDir === undefined) throw new DfsError('INTERNAL', 'this master keeps no files to back up');
  if (running.has(state)) throw new DfsError('RATE_LIMITED', 'a backup is being taken already; try again when it is done');
  running.add(state);
  try {
    const files = await Promise.all(BACKUP_FILES.map(async (name) => ({ name, text: await fs.readFile(path.join(dataDir, name), 'utf8') })));
    const snapshot = state.catalog.backupSnapshot(); // the moment the backup is of; writes go on meanwhile
    const snapshotBytes = snapshot.reduce((sum, part) => sum + part.length, 0);
    const stream = Readable.from(snapshot);
    const done = (): void => {
      running.delete(state);
    };
    stream.once('close', done);
    stream.once('error', done);
    state.log.info(`${session.user} takes a backup: ${snapshotBytes} bytes of catalog, ${files.length} identity files`);
    return { data: { files, snapshotBytes }, body: { stream, bytes: snapshotBytes } };
  } catch (error) {
    running.delete(state);
    throw error;
  }
}
