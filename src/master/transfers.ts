// The master's part of the data path: it hands out upload tickets and the replication
// chain, commits a file when its first node reports the blob stored, records the chain's replicas as
// they are reported (and what a broken chain lost), finds a node to serve a read, marks bad replicas, and asks
// nodes to delete blobs no file needs any more. Bytes never pass through the master.

import { BLOB_DELETE_BATCH_MAX, CHAIN_REPAIR_DELAY_MS, CHAIN_REPAIRS_MAX, PUT_FILES_BYTES_MAX, PUT_SMALL_FILE_BYTES_MAX, READ_PREPARE_TRIES_MAX, REPLICATION_WAIT_MS, REQUEST_TIMEOUT_MS, TICKET_TTL_MS_DEFAULT, transferTimeoutMs, UPLOAD_BOOKED_SHARE_PER_USER, UPLOAD_HOLD_MS } from '../limits';
import type { Incoming, Reply } from '../wire/channel';
import type { MessageType } from '../wire/messages';
import { DfsError, isDfsError } from '../wire/errors';
import { blobsSubject, chainSubject, nodeTicketKey, signTicket, type TicketOp } from '../trust/ticket';
import { parentOf } from '../paths';
import type { Replica } from './catalog/catalog';
import { availableBytes, chooseChain, chooseRepairTargets, chooseWriteNode, rankReadNodes, writable, type Candidate } from './core/placement';
import { quotaRefusal } from './core/quota';
import { isSettled, type Chain } from './core/replication';
import { requireNode, requireSession, type MasterState } from './state';
import type { Session } from './users';

export function candidates(state: MasterState, nowMs: number): Candidate[] {
  return state.nodes.list().map((node) => ({
    nodeId: node.nodeId,
    alive: state.nodes.stateOf(node, nowMs) === 'alive',
    connected: node.channel !== undefined && !node.channel.closed,
    freeBytes: node.freeBytes,
    reservedBytes: state.uploads.reservedOn(node.nodeId, node.receiving) + state.chains.reservedOn(node.nodeId, node.receiving),
    activeTransfers: node.activeTransfers,
    // A node shutting down, being drained, or whose disk refuses writes, serves what it holds and takes nothing new.
    closedToWrites: node.stopping || node.readOnly || node.drain,
    unreachable: node.unreachable,
  }));
}

/** The checks createFile will make, made before any byte moves: a parent directory, and no directory or
 * (without overwrite) file in the way. `parents` remembers directories already found (a put's files share them). */
function checkUploadTarget(state: MasterState, userId: number, path: string, overwrite: boolean, parents = new Set<string>()): void {
  const existing = state.catalog.lookup(userId, path);
  if (existing?.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', 'is a directory');
  if (existing && !overwrite) throw new DfsError('EXISTS', 'file exists');
  const parent = parentOf(path);
  if (existing || parents.has(parent)) return;
  // stat explains a missing parent (NOT_FOUND, or NOT_A_DIRECTORY above it).
  if (state.catalog.stat(userId, parent).kind !== 'dir') throw new DfsError('NOT_A_DIRECTORY', 'not a directory');
  parents.add(parent);
}

/** A put's files checked before any byte moves: one of any size, or several small ones (PUT_* limits), each path
 * once and each a target createFile will take (a failure names its path when there are several). Their bytes. */
function checkUploadTargets(state: MasterState, userId: number, files: readonly { path: string; size: number }[], overwrite: boolean): number {
  if (files.length === 0) throw new DfsError('BAD_REQUEST', 'no files to put');
  if (new Set(files.map((file) => file.path)).size !== files.length) throw new DfsError('BAD_REQUEST', 'a path appears twice in the put');
  const several = files.length > 1;
  let total = 0;
  const parents = new Set<string>();
  for (const { path, size } of files) {
    if (several && size > PUT_SMALL_FILE_BYTES_MAX) throw new DfsError('BAD_REQUEST', `${path}: files over ${PUT_SMALL_FILE_BYTES_MAX} bytes are put one at a time`);
    total += size;
    try {
      checkUploadTarget(state, userId, path, overwrite, parents);
    } catch (error) {
      if (!several) throw error;
      const failure = DfsError.wrap(error);
      throw new DfsError(failure.code, `${path}: ${failure.message}`);
    }
  }
  if (several && total > PUT_FILES_BYTES_MAX) throw new DfsError('BAD_REQUEST', `a put of several files holds at most ${PUT_FILES_BYTES_MAX} bytes`);
  checkQuota(state, userId, files);
  return total;
}

/** QUOTA_EXCEEDED if these files (replacing those at their paths) would take the user past a quota. */
function checkQuota(state: MasterState, userId: number, files: readonly { path: string; size: number }[]): void {
  const user = state.catalog.getUserById(userId);
  if (!user || (user.quotaBytes === null && user.quotaFiles === null)) return;
  const adding = { files: 0, bytes: 0 };
  for (const { path, size } of files) {
    const replaced = state.catalog.lookup(userId, path);
    adding.bytes += size - (replaced?.size ?? 0);
    if (!replaced) adding.files++;
  }
  const nowMs = state.now();
  const booked = { files: state.uploads.filesBy(userId, nowMs), bytes: state.uploads.bookedBy(userId, nowMs) };
  const refusal = quotaRefusal({ used: state.catalog.usage(userId), booked, quota: { files: user.quotaFiles, bytes: user.quotaBytes } }, adding);
  if (refusal !== undefined) throw new DfsError('QUOTA_EXCEEDED', refusal);
}

/** Upload step 2: the node an upload of `bytes` goes to first; NO_NODES or NO_SPACE when there is none. */
function firstNode(all: Candidate[], bytes: number): Candidate {
  const chosen = chooseWriteNode(all, bytes);
  if (chosen) return chosen;
  const live = all.filter((node) => node.alive && node.connected);
  if (live.length === 0) throw new DfsError('NO_NODES', 'no storage node is available');
  if (live.every((node) => node.unreachable === true)) {
    throw new DfsError('UNAVAILABLE', `no storage node can be reached (${live.length} cannot): check their --advertise addresses and firewalls`);
  }
  throw new DfsError('NO_SPACE', `no storage node has room for ${bytes} bytes`);
}

/** Upload steps 1-2 and 5: the files checked, then one first node and one chain for them all, by available storage
 * for their bytes, a booking per file, and one ticket per node naming all their blobs. */
export async function putBegin(state: MasterState, request: Incoming<'file.put.begin'>): Promise<Reply<'file.put.begin'>> {
  const session = requireSession(state, request);
  const { userId } = session;
  const { files, overwrite } = request.data;
  const total = checkUploadTargets(state, userId, files, overwrite);
  const nowMs = state.now();
  // Nodes this client could not connect to are not chosen now, whatever the master's probe finds.
  const unreachable = new Set(request.data.unreachable ?? []);
  for (const nodeId of unreachable) state.reachability.suspect(nodeId, `a client of ${session.user}`);
  const all = candidates(state, nowMs).map((node) => (unreachable.has(node.nodeId) ? { ...node, unreachable: true } : node));
  const chosen = firstNode(all, total);
  checkBookingShare(state, session, total, all, nowMs);
  const members = chooseChain(all, chosen.nodeId, state.replicas, total).map((member) => member.nodeId);
  const booked: ReturnType<typeof beginUpload>[] = [];
  const token = sessionOf(state, request);
  try {
    for (const { path, size } of files) booked.push(beginUpload(state, { userId, session: token, path, size, overwrite }, chosen.nodeId, all, nowMs, members, booked[0]?.blobId));
  } catch (error) {
    for (const { blobId } of booked) forgetUpload(state, blobId);
    throw error;
  }
  const blobIds = booked.map((upload) => upload.blobId);
  const sign = ticketsFor(state, blobIds, total, nowMs);
  const chain = chainOf(state, members, (nodeId, rest) => sign(nodeId, 'replicate', rest));
  return {
    data: {
      nodeId: chosen.nodeId,
      address: advertisedAddress(state, chosen.nodeId),
      expiresMs: booked[0]?.expiresMs ?? nowMs,
      blobIds,
      ticket: sign(chosen.nodeId, 'put', chainSubject(chain)),
      chain,
    },
  };
}

/** Signs tickets for one transfer of these blobs (blobsSubject) of up to `bytesMax` bytes, per node (with that
 * node's own key), op and the chain (chainSubject) the node is to forward to. */
function ticketsFor(state: MasterState, blobIds: readonly string[], bytesMax: number, nowMs: number): (nodeId: string, op: TicketOp, chain: string) => string {
  const subject = blobsSubject(blobIds);
  return (nodeId, op, chain) => signTicket(nodeTicketKey(state.identity.ticketKey, nodeId), { blobId: subject, op, bytesMax, nodeId, chain, ttlMs: TICKET_TTL_MS_DEFAULT, nowMs });
}

/** A replication chain as its first node is told it: each member's address and its ticket, which names the
 * members after it (so each member forwards only where the master said). */
function chainOf(state: MasterState, members: readonly string[], ticket: (nodeId: string, rest: string) => string): { nodeId: string; address: string; ticket: string }[] {
  const links = members.map((nodeId) => ({ nodeId, address: advertisedAddress(state, nodeId) }));
  return links.map((link, index) => ({ ...link, ticket: ticket(link.nodeId, chainSubject(links.slice(index + 1))) }));
}

/**
 * One user's uploads in progress may book at most UPLOAD_BOOKED_SHARE_PER_USER of the cluster's free space
 * (logical bytes: the writable nodes' space over the replication factor, as if this user had booked nothing), so
 * no user — `shared`, which anyone may be, least of all — can book the cluster full and starve the others. The
 * admin, who runs the cluster, may fill it.
 */
function checkBookingShare(state: MasterState, session: Session, bytes: number, all: readonly Candidate[], nowMs: number): void {
  if (session.admin) return;
  const booked = state.uploads.bookedBy(session.userId, nowMs);
  const free = all.filter(writable).reduce((sum, node) => sum + availableBytes(node), 0) / state.replicas;
  const share = Math.floor((free + booked) * UPLOAD_BOOKED_SHARE_PER_USER);
  if (booked + bytes <= share) return;
  throw new DfsError('NO_SPACE', `uploads in progress may book at most ${Math.round(UPLOAD_BOOKED_SHARE_PER_USER * 100)}% of the cluster's free space (${share} bytes; ${booked} booked already, ${bytes} asked)`);
}

/** The session a request came on (its token): a key for per-session bounds, never shown. */
function sessionOf(state: MasterState, request: Incoming<MessageType>): string {
  return state.channelTokens.get(request.channel) ?? '';
}

/** An upload booked but never started: its booking and chain go (nothing was stored). */
function forgetUpload(state: MasterState, blobId: string): void {
  const nowMs = state.now();
  state.uploads.take(blobId, nowMs);
  const chain = state.chains.get(blobId, nowMs);
  if (chain) state.chains.finish(chain);
}

/** Books a new blob of `target` to be stored first on `first` and replicated down a chain chosen by available storage. */
function beginUpload(
  state: MasterState,
  target: { userId: number; session: string; path: string; size: number; overwrite: boolean },
  first: string,
  all: Candidate[],
  nowMs: number,
  members: readonly string[] = chooseChain(all, first, state.replicas, target.size).map((member) => member.nodeId),
  /** A blob id of the same put: the new one shares its fan-out directory (createBlobId). */
  putmate?: string,
): { blobId: string; members: readonly string[]; expiresMs: number } {
  const { userId, size } = target;
  const blobId = state.newBlobId(putmate);
  const expiresMs = nowMs + TICKET_TTL_MS_DEFAULT;
  // The booking lapses with its ticket (and the answer it may still be waiting for) unless bytes flow: then the
  // receiving node's heartbeats hold it (holdReceiving).
  const forgetMs = expiresMs + REQUEST_TIMEOUT_MS;
  state.uploads.add({ ...target, blobId, nodeId: first, forgetMs }, nowMs);
  state.chains.begin({ blobId, userId, size, first, members, forgetMs }, nowMs);
  return { blobId, members, expiresMs };
}

/**
 * A server-side copy: the least loaded node holding a good copy (with room for another) writes the new blob
 * from its own, and replicates it like an upload; the file is committed when that node reports it stored.
 */
export async function copyFile(state: MasterState, request: Incoming<'fs.copy'>): Promise<Reply<'fs.copy'>> {
  const { userId } = requireSession(state, request);
  const { source, target, overwrite } = request.data;
  const entry = state.catalog.stat(userId, source);
  if (entry.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', 'is a directory (cp -r copies directories)');
  if (entry.blobId === null) throw new Error(`transfers: file ${entry.path} has no blob`);
  if (entry.path === target) throw new DfsError('BAD_REQUEST', 'source and target are the same file');
  checkUploadTargets(state, userId, [{ path: target, size: entry.size }], overwrite);
  const nowMs = state.now();
  const all = candidates(state, nowMs);
  const holders = new Set(state.catalog.replicasOf(entry.blobId).filter((replica) => replica.state === 'good').map((replica) => replica.nodeId));
  const ranked = rankReadNodes(all, holders);
  if (ranked.length === 0) throw new DfsError('UNAVAILABLE', 'no live node holds a good copy of this file');
  const holder = ranked.find((node) => availableBytes(node) >= entry.size);
  if (!holder) throw new DfsError('NO_SPACE', `no node holding this file has room for another ${entry.size} bytes`);
  const channel = state.nodes.get(holder.nodeId)?.channel;
  if (!channel) throw new DfsError('UNAVAILABLE', `no link to ${holder.nodeId}`);
  const upload = beginUpload(state, { userId, session: sessionOf(state, request), path: target, size: entry.size, overwrite }, holder.nodeId, all, nowMs);
  const timeoutMs = transferTimeoutMs(entry.size);
  try {
    const sign = ticketsFor(state, [upload.blobId], entry.size, nowMs);
    const chain = chainOf(state, upload.members, (nodeId, rest) => sign(nodeId, 'replicate', rest));
    await channel.request('node.copy', { sourceBlobId: entry.blobId, blobId: upload.blobId, size: entry.size, chain }, { timeoutMs });
  } catch (error) {
    // Committed after all (the node's answer was what got lost): the copy is made.
    if (isCommitted(state, userId, target, upload.blobId)) return { data: { blobId: upload.blobId } };
    // Not committed (a commit that failed abandoned the chain already): forget the booking, drop what the chain stored.
    await abandonUpload(state, upload.blobId);
    throw error; // a missing or damaged source the node reported itself (node.blob.error)
  }
  return { data: { blobId: upload.blobId } };
}

function advertisedAddress(state: MasterState, nodeId: string): string {
  const record = state.nodes.get(nodeId);
  if (!record) throw new Error(`transfers: chosen node ${nodeId} is not registered`);
  return record.advertise;
}

/** Upload step 4: commit the files and their first replicas together (one journal record, fsynced), or none, then
 * answer the node. Chain members that reported before the commit are committed with it; a failed commit abandons
 * the chains. */
export async function blobStored(state: MasterState, request: Incoming<'node.blob.stored'>): Promise<Reply<'node.blob.stored'>> {
  const nodeId = requireNode(request);
  if (request.data.blobs.length === 0) throw new DfsError('BAD_REQUEST', 'no blobs stored');
  await commitStored(state, nodeId, request.data.blobs);
  return { data: {} };
}

async function commitStored(state: MasterState, nodeId: string, blobs: readonly { blobId: string; size: number; sha256: string }[]): Promise<void> {
  const nowMs = state.now();
  const beat = state.nodes.beatOf(nodeId);
  const uploads = blobs.map(({ blobId }) => state.uploads.take(blobId, nowMs));
  const chains = blobs.map(({ blobId }) => state.chains.get(blobId, nowMs));
  const abandonAll = async (): Promise<void> => {
    for (const [index, chain] of chains.entries()) if (chain && uploads[index]?.nodeId === nodeId) await abandonChain(state, chain);
  };
  const files = [];
  for (const [index, { blobId, size, sha256 }] of blobs.entries()) {
    const upload = uploads[index];
    const chain = chains[index];
    if (!upload || upload.nodeId !== nodeId) {
      await abandonAll();
      throw new DfsError('NOT_FOUND', `no upload of blob ${blobId} to ${nodeId} is in progress`);
    }
    if (size !== upload.size) {
      await abandonAll();
      throw new DfsError('BAD_REQUEST', `blob ${blobId} holds ${size} bytes; the upload declared ${upload.size}`);
    }
    const early = chain ? [...chain.stored].filter(([, reported]) => reported === sha256).map(([member]) => member) : [];
    files.push({ owner: upload.userId, path: upload.path, size, blobId, sha256, overwrite: upload.overwrite, nodeIds: [nodeId, ...early], early });
  }
  let committed;
  try {
    const commit = state.catalog.commitFiles(files);
    state.uploads.committing(blobs.map((blob) => blob.blobId), commit);
    committed = await commit;
  } catch (error) {
    await abandonAll();
    throw error;
  }
  // Members that reported while the commit was being written, or reported other bytes.
  const late = [];
  for (const [index, { size, sha256, early, blobId }] of files.entries()) {
    state.nodes.stored(nodeId, blobId, size, beat);
    for (const member of early) state.nodes.stored(member, blobId, size, chains[index]?.reportBeats.get(member));
    if (committed[index]?.replacedBlobId) scheduleDeletions(state);
    const chain = chains[index];
    if (chain) {
      state.chains.committed(chain, sha256, nowMs);
      for (const [member, reported] of chain.stored) if (!early.includes(member)) late.push({ chain, nodeId: member, sha256: reported, beat: chain.reportBeats.get(member) });
    }
  }
  await recordReplicas(state, late);
  for (const chain of chains) if (chain) settleIfDone(state, chain);
}

/** Upload step 7: a chain member holds its copies. Before the commit each is noted (and committed with its file);
 * after, recorded on its own (journal fsynced). Copies whose bytes are not their file's are refused: the node
 * drops them. */
export async function replicaStored(state: MasterState, request: Incoming<'node.replica.stored'>): Promise<Reply<'node.replica.stored'>> {
  return { data: { refused: await noteReplicas(state, requireNode(request), request.data.blobs) } };
}

/** Checks every report first (a report that matches no chain refuses the lot), then notes or records each;
 * returns the blobs whose copies' bytes are not their file's. */
async function noteReplicas(state: MasterState, nodeId: string, blobs: readonly { blobId: string; size: number; sha256: string }[]): Promise<string[]> {
  const nowMs = state.now();
  const beat = state.nodes.beatOf(nodeId);
  const chains = blobs.map(({ blobId, size }) => {
    const chain = state.chains.get(blobId, nowMs);
    if (!chain || !chain.members.includes(nodeId)) throw new DfsError('NOT_FOUND', `no chain of blob ${blobId} through ${nodeId} is in progress`);
    if (size !== chain.size) throw new DfsError('BAD_REQUEST', `blob ${blobId} holds ${size} bytes; the upload declared ${chain.size}`);
    return chain;
  });
  const committed = [];
  for (const [index, { sha256 }] of blobs.entries()) {
    const chain = chains[index] as Chain;
    if (chain.committedSha256 !== undefined) {
      committed.push({ chain, nodeId, sha256, beat });
      continue;
    }
    chain.stored.set(nodeId, sha256);
    chain.reportBeats.set(nodeId, beat);
    chain.lost.delete(nodeId);
  }
  await recordReplicas(state, committed);
  const refused: string[] = [];
  for (const { chain } of committed) {
    settleIfDone(state, chain);
    if (!chain.stored.has(nodeId)) refused.push(chain.blobId); // recordReplicas logged why
  }
  return refused;
}

/** Records members' copies of committed blobs: each good if its bytes are the file's (and the file is still
 * there); the good ones in one journal record. */
async function recordReplicas(state: MasterState, copies: readonly { chain: Chain; nodeId: string; sha256: string; beat: number | undefined }[]): Promise<void> {
  const good = [];
  for (const copy of copies) {
    const { chain, nodeId, sha256 } = copy;
    if (sha256 !== chain.committedSha256) {
      state.log.warn(`replica of blob ${chain.blobId} on ${nodeId} hashes to ${sha256}, not ${chain.committedSha256 ?? '?'}: dropped`);
      chain.stored.delete(nodeId);
      chain.lost.add(nodeId);
      await state.catalog.setReplica(chain.blobId, nodeId, 'deleting');
      scheduleDeletions(state);
      continue;
    }
    chain.stored.set(nodeId, sha256);
    chain.lost.delete(nodeId);
    state.nodes.stored(nodeId, chain.blobId, chain.size, copy.beat);
    good.push(copy);
  }
  if (good.length === 0) return;
  const states = await state.catalog.addReplicas(good.map(({ chain, nodeId }) => ({ blobId: chain.blobId, nodeId })));
  if (states.includes('deleting')) scheduleDeletions(state);
}

/** Upload step 7: the chain broke at a node; it and the members after it will not report. */
export async function replicationBroken(state: MasterState, request: Incoming<'node.replication.broken'>): Promise<Reply<'node.replication.broken'>> {
  const reporter = requireNode(request);
  const { blobId, nodeId, message } = request.data;
  const chain = state.chains.get(blobId, state.now());
  if (!chain) return { data: {} }; // settled or forgotten already
  if (reporter !== chain.first && !chain.members.includes(reporter)) throw new DfsError('FORBIDDEN', `${reporter} is not in the chain of blob ${blobId}`);
  state.log.warn(`chain of blob ${blobId} broke at ${nodeId} (told by ${reporter}): ${message}`);
  if (message.startsWith('cannot reach')) state.reachability.suspect(nodeId, `node ${reporter}`);
  state.chains.breakAt(chain, nodeId);
  settleIfDone(state, chain);
  return { data: {} };
}

function settleIfDone(state: MasterState, chain: Chain): void {
  if (chain.committedSha256 === undefined || !isSettled(chain)) return;
  state.chains.finish(chain);
  if (chain.lost.size === 0) return;
  state.log.warn(`blob ${chain.blobId}: ${chain.stored.size} of ${chain.members.length} chain copies made; lost ${[...chain.lost].join(', ')}`);
  if (chain.repairs >= CHAIN_REPAIRS_MAX) return;
  try {
    repairLater(state, chain, chain.committedSha256);
  } catch (error) {
    state.log.warn(`blob ${chain.blobId}: cannot complete its replicas now: ${DfsError.wrap(error).message}`); // RATE_LIMITED
  }
}

/** Holds the blob's waiters (a chain with no members stands for the repair) until the next repair try. */
function repairLater(state: MasterState, broken: Chain, sha256: string): void {
  const nowMs = state.now();
  const delayMs = broken.repairs === 0 ? 0 : CHAIN_REPAIR_DELAY_MS;
  const fields = { blobId: broken.blobId, userId: broken.userId, size: broken.size, first: broken.first, members: [] };
  const hold = state.chains.begin({ ...fields, forgetMs: nowMs + delayMs + REQUEST_TIMEOUT_MS, repairs: broken.repairs + 1, committedSha256: sha256 }, nowMs);
  state.clock.after(delayMs, () => {
    state.chains.finish(hold);
    try {
      repairChain(state, hold, sha256);
    } catch (error) {
      state.log.warn(`blob ${broken.blobId}: cannot complete its replicas: ${DfsError.wrap(error).message}`);
    }
  });
}

/**
 * A chain that broke is completed from the copies that exist: a holder (least loaded) sends the blob down a
 * new chain of nodes that do not hold it, by available storage, tried up to CHAIN_REPAIRS_MAX times. The
 * file's waiters wait for it too (it is the same blob's chain). Later losses are the repairer's.
 */
function repairChain(state: MasterState, attempt: Chain, sha256: string): void {
  const { blobId, size } = attempt;
  const summary = replicaSummary(state, blobId);
  const holders = new Set(state.catalog.replicasOf(blobId).filter((replica) => replica.state === 'good').map((replica) => replica.nodeId));
  const all = candidates(state, state.now());
  const source = rankReadNodes(all, holders)[0];
  const targets = chooseRepairTargets(all, holders, summary.want - summary.have, size);
  if (!source || targets.length === 0) return;
  replicateFrom(state, { blobId, userId: attempt.userId, size, sha256 }, source.nodeId, targets.map((target) => target.nodeId), attempt.repairs);
}

/**
 * Copies a blob from a node holding it down a new chain through `targets` (each with its own 'replicate'
 * ticket); the members report as in an upload and are recorded. Returns the chain, finished when settled.
 */
export function replicateFrom(
  state: MasterState,
  blob: { blobId: string; userId: number; size: number; sha256: string },
  source: string,
  targets: readonly string[],
  repairs: number,
): Chain {
  const { blobId, size } = blob;
  const nowMs = state.now();
  const timeoutMs = transferTimeoutMs(size);
  const sign = ticketsFor(state, [blobId], size, nowMs);
  const chain = chainOf(state, targets, (nodeId, rest) => sign(nodeId, 'replicate', rest));
  const fields = { blobId, userId: blob.userId, size, first: source, members: [...targets] };
  const repair = state.chains.begin({ ...fields, forgetMs: nowMs + TICKET_TTL_MS_DEFAULT + timeoutMs, repairs, committedSha256: blob.sha256 }, nowMs);
  const attempt = repairs > 0 && repairs < CHAIN_REPAIRS_MAX ? ` (try ${repairs})` : '';
  state.log.debug(`blob ${blobId}: copying from ${source} to ${targets.join(', ')}${attempt}`);
  void (async () => {
    try {
      const channel = state.nodes.get(source)?.channel;
      if (!channel) throw new DfsError('UNAVAILABLE', `no link to ${source}`);
      await channel.request('node.replicate', { blobId, size, chain }, { timeoutMs });
    } catch (error) {
      const first = repair.members[0];
      if (first !== undefined && !repair.stored.has(first) && state.chains.get(blobId, state.now()) === repair) {
        state.log.warn(`blob ${blobId}: copy from ${source} failed: ${DfsError.wrap(error).message}`);
        state.chains.breakAt(repair, first);
        settleIfDone(state, repair);
      }
    }
  })();
  return repair;
}

/** Whether `target` is the file of `blobId` now: an upload or a copy whose answer was lost may have been committed. */
function isCommitted(state: MasterState, userId: number, target: string, blobId: string): boolean {
  try {
    return state.catalog.stat(userId, target).blobId === blobId;
  } catch {
    return false;
  }
}

/** An upload that will not be stored — its node refused or lost it, its node's link dropped, its client gave up:
 * its booking goes, and the copies its chain made are deleted. Only for an upload still pending: one taken for
 * its commit is the commit's to finish. */
async function abandonUpload(state: MasterState, blobId: string): Promise<void> {
  const nowMs = state.now();
  state.uploads.take(blobId, nowMs);
  const chain = state.chains.get(blobId, nowMs);
  if (chain && chain.committedSha256 === undefined) await abandonChain(state, chain);
}

/** A node names the blobs it is receiving (heartbeat): their uploads' and chains' bookings are held a while more. */
export function holdReceiving(state: MasterState, nodeId: string, blobIds: readonly string[]): void {
  const untilMs = state.now() + UPLOAD_HOLD_MS;
  for (const blobId of blobIds) {
    state.uploads.hold(blobId, nodeId, untilMs);
    state.chains.hold(blobId, nodeId, untilMs);
  }
}

/** A node's link to the master dropped: the uploads it was to store can no longer be reported (a node reports
 * over that link, and drops a blob it cannot report), so they are abandoned now, not when their tickets lapse. */
export async function linkLost(state: MasterState, nodeId: string): Promise<void> {
  const blobIds = state.uploads.onNode(nodeId);
  if (blobIds.length > 0) state.log.info(`node ${nodeId}: link lost with ${blobIds.length} upload(s) in progress; abandoned`);
  for (const blobId of blobIds) await abandonUpload(state, blobId);
}

/** The client's side of a failed upload: each of its own uploads still pending is abandoned; one being committed
 * is waited for; the answer says which files are committed after all. */
export async function putCancel(state: MasterState, request: Incoming<'file.put.cancel'>): Promise<Reply<'file.put.cancel'>> {
  const { userId } = requireSession(state, request);
  const committed: boolean[] = [];
  for (const { path, blobId } of request.data.files) {
    if (state.uploads.peek(blobId)?.userId === userId) await abandonUpload(state, blobId);
    else await state.uploads.commitOf(blobId)?.catch(() => undefined);
    committed.push(isCommitted(state, userId, path, blobId));
  }
  return { data: { committed } };
}

/** A chain whose file will never be committed: copies it (and its first node) made are recorded to be deleted. */
export async function abandonChain(state: MasterState, chain: Chain): Promise<void> {
  state.chains.finish(chain);
  try {
    // The first node may hold the blob too (its report to the master was lost): it is told to delete it,
    // a no-op if it has none.
    const holders = [chain.first, ...chain.stored.keys()];
    await state.catalog.changeReplicas(holders.map((nodeId) => ({ blobId: chain.blobId, nodeId, state: 'deleting' as const })));
    scheduleDeletions(state);
  } catch (error) {
    state.log.warn(`blob ${chain.blobId}: could not record orphan copies: ${DfsError.wrap(error).message}`);
  }
}

/** Upload step 7, the shell's side: waits (bounded) for every file's chain to settle, then counts their copies. */
export async function putWait(state: MasterState, request: Incoming<'file.put.wait'>): Promise<Reply<'file.put.wait'>> {
  const { userId } = requireSession(state, request);
  const { files } = request.data;
  for (const { path, blobId } of files) {
    const entry = state.catalog.stat(userId, path);
    const replaced = 'the file was replaced or removed meanwhile';
    if (entry.kind !== 'file' || entry.blobId !== blobId) throw new DfsError('NOT_FOUND', files.length > 1 ? `${path}: ${replaced}` : replaced);
  }
  const nowMs = state.now();
  await Promise.all(
    files.map(({ blobId }) => {
      const chain = state.chains.get(blobId, nowMs);
      return chain && chain.userId === userId ? state.chains.waitFor(chain, REPLICATION_WAIT_MS) : undefined;
    }),
  );
  const complete = files.every(({ blobId }) => state.chains.get(blobId, state.now()) === undefined);
  const summaries = replicaSummaries(state, files.map((file) => file.blobId));
  return { data: { have: files.map((file) => summaries.get(file.blobId)?.have ?? 0), want: state.replicas, complete } };
}

/** Download steps 1-4: ask the holders of a good copy, least loaded first, to prepare the read. */
export async function getBegin(state: MasterState, request: Incoming<'file.get.begin'>): Promise<Reply<'file.get.begin'>> {
  const { userId } = requireSession(state, request);
  const entry = state.catalog.stat(userId, request.data.path);
  if (entry.kind === 'dir') throw new DfsError('IS_A_DIRECTORY', 'is a directory');
  const { blobId, sha256 } = entry;
  if (blobId === null || sha256 === null) throw new Error(`transfers: file ${entry.path} has no blob`);
  const excluded = new Set(request.data.exclude ?? []);
  const holders = new Set(
    state.catalog.replicasOf(blobId).filter((replica) => replica.state === 'good' && !excluded.has(replica.nodeId)).map((replica) => replica.nodeId),
  );
  const ranked = rankReadNodes(candidates(state, state.now()), holders).slice(0, READ_PREPARE_TRIES_MAX);
  let lastError: unknown;
  for (const node of ranked) {
    const channel = state.nodes.get(node.nodeId)?.channel;
    if (!channel) continue;
    try {
      const { data } = await channel.request('node.prepare.get', { blobId });
      if (data.size !== entry.size || data.sha256 !== sha256) throw new DfsError('CORRUPT', `node ${node.nodeId} holds another blob ${blobId}`);
      return { data: { nodeId: node.nodeId, address: data.address, blobId, size: entry.size, sha256, ticket: data.ticket } };
    } catch (error) {
      lastError = error;
      if (isDfsError(error, 'NOT_FOUND') || isDfsError(error, 'CORRUPT')) await markBad(state, blobId, node.nodeId, DfsError.wrap(error).message);
    }
  }
  const why = lastError === undefined ? '' : `: ${DfsError.wrap(lastError).message}`;
  const others = excluded.size > 0 ? ' other than the ones already tried' : '';
  throw new DfsError('UNAVAILABLE', `no live node${others} holds a good copy of this file${why}`);
}

/** Download step 6, the reader's side: the bytes read from these nodes hashed wrong. Each node holding a good copy is
 * asked to re-hash it (at most once per copy in SUSPECT_RECHECK_MS); its scrubber reports it if it is damaged. */
export function getBad(state: MasterState, request: Incoming<'file.get.bad'>): Promise<Reply<'file.get.bad'>> {
  const { userId } = requireSession(state, request);
  const { path, blobId, nodeIds } = request.data;
  const entry = state.catalog.stat(userId, path);
  // Replaced or removed since it was read: nothing of the reader's to check.
  if (entry.kind === 'dir' || entry.blobId !== blobId) return Promise.resolve({ data: {} });
  const good = new Set(state.catalog.replicasOf(blobId).filter((replica) => replica.state === 'good').map((replica) => replica.nodeId));
  const nowMs = state.now();
  for (const nodeId of new Set(nodeIds)) {
    const channel = state.nodes.get(nodeId)?.channel;
    if (!good.has(nodeId) || !channel || !state.suspects.admit(blobId, nodeId, nowMs)) continue;
    state.log.info(`blob ${blobId}: a reader found the bytes from ${nodeId} wrong; asking it to re-hash its copy`);
    channel.request('node.blob.verify', { blobId }).then(
      () => undefined,
      (error: unknown) => {
        if (isDfsError(error, 'NOT_FOUND')) return markBad(state, blobId, nodeId, DfsError.wrap(error).message);
        state.log.debug(`node ${nodeId} did not take blob ${blobId} to re-hash: ${DfsError.wrap(error).message}`);
        return undefined;
      },
    ).catch((error: unknown) => state.log.warn(`blob ${blobId}: ${DfsError.wrap(error).message}`));
  }
  return Promise.resolve({ data: {} });
}

export async function blobError(state: MasterState, request: Incoming<'node.blob.error'>): Promise<Reply<'node.blob.error'>> {
  const nodeId = requireNode(request);
  const { blobId, problem, message } = request.data;
  if (problem === 'aborted') {
    state.log.debug(`node ${nodeId}: transfer of blob ${blobId} aborted: ${message}`);
    // An upload the node refused or lost will never be stored: its booked space is free again now.
    if (state.uploads.peek(blobId)?.nodeId === nodeId) await abandonUpload(state, blobId);
    return { data: {} };
  }
  await markBad(state, blobId, nodeId, `${problem}: ${message}`, problem === 'corrupt');
  return { data: {} };
}

/** A copy that is missing or damaged no longer counts; the repairer copies the blob again, then deletes it. With
 * `evenIfUnrecorded` (its node found it damaged), a copy the catalog has no record of is recorded bad too. */
async function markBad(state: MasterState, blobId: string, nodeId: string, why: string, evenIfUnrecorded = false): Promise<void> {
  const known = state.catalog.replicasOf(blobId).find((replica) => replica.nodeId === nodeId);
  // A damaged copy the master never heard of (its report went unanswered) is remembered as bad, so a later report
  // of the node's blobs does not count it good, and it is deleted like any bad copy.
  const unrecorded = known === undefined && evenIfUnrecorded && state.catalog.blobFiles([blobId]).has(blobId);
  if (known?.state !== 'good' && !unrecorded) return;
  state.log.warn(`replica of blob ${blobId} on ${nodeId} is bad: ${why}`);
  await state.catalog.setReplica(blobId, nodeId, 'bad');
  state.repairer.poke();
}

/** A file's copies as stat shows them: good copies on live nodes, the factor wanted, and where they are. */
export function replicaSummary(state: MasterState, blobId: string): ReplicaSummary {
  return summarize(state, state.catalog.replicasOf(blobId), state.now(), state.catalog.wantsOf([blobId]).get(blobId) ?? state.replicas);
}

/** The copies of a page of entries (one catalog query): their summaries by blob id. */
export function replicaSummaries(state: MasterState, blobIds: readonly string[]): Map<string, ReplicaSummary> {
  const nowMs = state.now();
  const byBlob = state.catalog.replicasOfBlobs(blobIds);
  const wants = state.catalog.wantsOf(blobIds);
  return new Map(blobIds.map((blobId) => [blobId, summarize(state, byBlob.get(blobId) ?? [], nowMs, wants.get(blobId) ?? state.replicas)]));
}

type ReplicaSummary = { have: number; want: number; nodes: string[] };

function summarize(state: MasterState, replicas: readonly Replica[], nowMs: number, want: number): ReplicaSummary {
  const nodes: string[] = [];
  let have = 0;
  for (const replica of replicas) {
    if (replica.state !== 'good') continue;
    const record = state.nodes.get(replica.nodeId);
    const alive = record !== undefined && state.nodes.stateOf(record, nowMs) === 'alive';
    if (alive) have++;
    nodes.push(`${replica.nodeId}${record ? ` (${record.advertise})` : ''}${alive ? '' : ' dead'}`);
  }
  return { have, want, nodes };
}

// ---- Deleting blobs no file needs: best effort now (a node that is away keeps its rows in the
// catalog as `deleting`, retried at the next scheduling); a later step adds retries and orphan scans.

const deletionRuns = new WeakMap<MasterState, { again: boolean }>();

/** Starts (or, if one is running, repeats once more) a pass over the catalog's `deleting` copies. */
export function scheduleDeletions(state: MasterState): void {
  const running = deletionRuns.get(state);
  if (running) {
    running.again = true;
    return;
  }
  const run = { again: true };
  deletionRuns.set(state, run);
  void (async () => {
    try {
      while (run.again) {
        run.again = false;
        await deleteOnce(state);
      }
    } catch (error) {
      state.log.warn(`deleting freed blobs: ${DfsError.wrap(error).message}`);
    } finally {
      deletionRuns.delete(state);
    }
  })();
}

async function deleteOnce(state: MasterState): Promise<void> {
  const byNode = new Map<string, string[]>();
  for (const { blobId, nodeId } of state.catalog.replicasToDelete(BLOB_DELETE_BATCH_MAX * 16)) {
    if (state.repairer.holdsOrphan(blobId, nodeId)) continue;
    const list = byNode.get(nodeId) ?? [];
    if (list.length < BLOB_DELETE_BATCH_MAX) list.push(blobId);
    byNode.set(nodeId, list);
  }
  for (const [nodeId, blobIds] of byNode) {
    const channel = state.nodes.get(nodeId)?.channel;
    if (!channel) continue; // away: its rows wait for the next pass
    try {
      await channel.request('node.blob.delete', { blobIds });
      for (const blobId of blobIds) await state.catalog.forgetReplica(blobId, nodeId);
      state.repairer.poke(); // a node rid of a damaged copy can take a good one
    } catch (error) {
      state.log.warn(`node ${nodeId} did not delete ${blobIds.length} blob(s): ${DfsError.wrap(error).message}`);
    }
  }
}
