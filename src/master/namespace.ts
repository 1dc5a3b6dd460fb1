// The namespace operations on the master (stat, list, mkdir, remove, move, find, du, tree): every one
// scoped to the caller's own tree.
// The catalog validates paths and enforces the rules; this layer maps sessions to owners.

import type { Incoming, Reply } from '../wire/channel';
import { isDfsError } from '../wire/errors';
import type { ResponseOf } from '../wire/messages';
import type { Entry } from './catalog/catalog';
import { requireSession, type MasterState } from './state';
import { replicaSummaries, replicaSummary, scheduleDeletions } from './transfers';

type WireEntry = ResponseOf<'fs.stat'>;

export function toWire(entry: Entry, replicas?: WireEntry['replicas']): WireEntry {
  return {
    path: entry.path,
    name: entry.name,
    kind: entry.kind,
    size: entry.size,
    mtimeMs: entry.mtimeMs,
    ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
    ...(replicas ? { replicas } : {}),
  };
}

export async function stat(state: MasterState, request: Incoming<'fs.stat'>): Promise<Reply<'fs.stat'>> {
  const { userId } = requireSession(state, request);
  const entry = state.catalog.stat(userId, request.data.path);
  return { data: toWire(entry, entry.blobId === null ? undefined : replicaSummary(state, entry.blobId)) };
}

/** A page of entries for the wire, each file with its count of copies (one catalog query for the page);
 * which nodes hold them is stat's to say, keeping a 10,000-entry page small. */
function pageToWire(state: MasterState, entries: readonly Entry[]): WireEntry[] {
  const blobIds = entries.flatMap((entry) => (entry.blobId === null ? [] : [entry.blobId]));
  const summaries = replicaSummaries(state, blobIds);
  return entries.map((entry) => {
    const summary = entry.blobId === null ? undefined : summaries.get(entry.blobId);
    return toWire(entry, summary && { have: summary.have, want: summary.want, nodes: [] });
  });
}

export async function list(state: MasterState, request: Incoming<'fs.list'>): Promise<Reply<'fs.list'>> {
  const { userId } = requireSession(state, request);
  const { path, after, limit } = request.data;
  try {
    const page = state.catalog.list(userId, path, { after, limit });
    return { data: { entries: pageToWire(state, page.items), next: page.next } };
  } catch (error) {
    // ls of a file lists that file, as ls(1) does.
    if (!isDfsError(error, 'NOT_A_DIRECTORY')) throw error;
    return { data: { entries: pageToWire(state, [state.catalog.stat(userId, path)]), next: undefined } };
  }
}

export async function mkdir(state: MasterState, request: Incoming<'fs.mkdir'>): Promise<Reply<'fs.mkdir'>> {
  const { userId } = requireSession(state, request);
  return { data: toWire(await state.catalog.mkdir(userId, request.data.path, { parents: request.data.parents })) };
}

export async function touch(state: MasterState, request: Incoming<'fs.touch'>): Promise<Reply<'fs.touch'>> {
  const { userId } = requireSession(state, request);
  const entry = await state.catalog.touch(userId, request.data.path);
  return { data: toWire(entry, entry.blobId === null ? undefined : replicaSummary(state, entry.blobId)) };
}

export async function setrep(state: MasterState, request: Incoming<'fs.setrep'>): Promise<Reply<'fs.setrep'>> {
  const { userId, user } = requireSession(state, request);
  const { path, replicas, recursive } = request.data;
  const files = await state.catalog.setReplication(userId, path, replicas, recursive);
  state.repairer.poke();
  // Any user may ask this at will: debug, so their requests cannot fill the log.
  state.log.debug(`${user} set the replication of ${files} file(s) under ${JSON.stringify(path).slice(0, 200)} to ${replicas}`);
  return { data: { files } };
}

export async function remove(state: MasterState, request: Incoming<'fs.remove'>): Promise<Reply<'fs.remove'>> {
  const { userId } = requireSession(state, request);
  const result = await state.catalog.remove(userId, request.data.path, { recursive: request.data.recursive });
  if (result.blobIds.length > 0) scheduleDeletions(state);
  return { data: { removed: result.removed } };
}

export async function move(state: MasterState, request: Incoming<'fs.move'>): Promise<Reply<'fs.move'>> {
  const { userId } = requireSession(state, request);
  const result = await state.catalog.move(userId, request.data.source, request.data.target);
  if (result.replacedBlobId !== null) scheduleDeletions(state);
  return { data: toWire(result.entry) };
}

export async function find(state: MasterState, request: Incoming<'fs.find'>): Promise<Reply<'fs.find'>> {
  const { userId } = requireSession(state, request);
  const { path, name, type, size, after, limit } = request.data;
  const page = state.catalog.find(userId, path, { name, type, size }, { after, limit });
  return { data: { entries: pageToWire(state, page.items), next: page.next } };
}

export async function du(state: MasterState, request: Incoming<'fs.du'>): Promise<Reply<'fs.du'>> {
  const { userId } = requireSession(state, request);
  const { path, summary, after, limit } = request.data;
  const page = state.catalog.du(userId, path, { summary, after, limit });
  return { data: { rows: page.items, next: page.next } };
}

export async function tree(state: MasterState, request: Incoming<'fs.tree'>): Promise<Reply<'fs.tree'>> {
  const { userId } = requireSession(state, request);
  const { path, after, limit } = request.data;
  const page = state.catalog.tree(userId, path, { after, limit });
  return { data: { entries: pageToWire(state, page.items), next: page.next } };
}
