// Data-plane tickets, like HDFS block tokens: the master signs a short-lived claim
// "the holder may <op> blob(s) <id>, up to <bytes> bytes, at node <node>, forwarding them down <chain>" with an
// HMAC-SHA256 key of that node's own — derived from the cluster's ticket key and the node id, so a node holds
// only its own key and can neither read another node's blobs nor mint tickets for it. A node checks the
// signature, the claims and that the ticket was not used before. Format: base64url(JSON claims) + '.' +
// base64url(HMAC over the first part's text). Deletion has no ticket on purpose: only the master orders it, over
// mutual TLS, never a bearer.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TICKET_CHARS_MAX, TICKET_CLOCK_SKEW_MS, TICKET_NONCES_MAX, TICKET_TTL_MS_MAX } from '../limits';
import { isBlobId } from '../store/blobs';
import { DfsError } from '../wire/errors';

/** 'get' names one blob; 'put' and 'replicate' name an upload's blobs by blobsSubject: one ticket per node for them all. */
export const TICKET_OPS = ['put', 'get', 'replicate'] as const;
export type TicketOp = (typeof TICKET_OPS)[number];

/** The id a put or replicate ticket names: the first 128 bits of SHA-256 over the upload's blob ids in their order.
 * The ticket thus covers exactly those blobs, in that order, and stays one short claim however many blobs the
 * upload holds (one, or a put -r group of small files). */
export function blobsSubject(blobIds: readonly string[]): string {
  return createHash('sha256').update(blobIds.join('\n')).digest('hex').slice(0, 32);
}

/** What a ticket names as the rest of a replication chain (chainSubject of its members after the holder's node):
 * the node forwards only there, so a client cannot make it open connections anywhere else. */
export function chainSubject(rest: readonly { nodeId: string; address: string }[]): string {
  return createHash('sha256').update(rest.map((link) => `${link.nodeId}@${link.address}`).join('\n')).digest('hex').slice(0, 32);
}

/** A node's own ticket key: HMAC(cluster key, node id). The master derives it to sign that node's tickets and
 * hands it to the node at registration. */
export function nodeTicketKey(clusterKey: Buffer, nodeId: string): Buffer {
  return createHmac('sha256', clusterKey).update(`dfs node ticket key\0${nodeId}`).digest();
}

export interface TicketClaims {
  /** The blob of a get; blobsSubject of the blobs of a put or replicate. */
  blobId: string;
  op: TicketOp;
  /** The most bytes the holder may write (put, replicate) or read (get) with this ticket. */
  bytesMax: number;
  nodeId: string;
  /** chainSubject of the members the node forwards to (none for a get or a chain's last member). */
  chain: string;
  expiresMs: number;
  nonce: string;
}

export type TicketRequest = Omit<TicketClaims, 'nonce' | 'expiresMs'> & { ttlMs: number; nowMs: number };

/** No one to forward to: the chain a get ticket, or a chain's last member's, names. */
export const NO_CHAIN = chainSubject([]);

const FORMAT_VERSION = 2;
const KEY_BYTES = 32;
const MAC_BYTES = 32;
const NONCE_BYTES = 16;
const CLAIM_KEYS = ['v', 'blobId', 'op', 'bytesMax', 'nodeId', 'chain', 'expiresMs', 'nonce'].sort().join(',');
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAC_TEXT = /^[A-Za-z0-9_-]{43}$/; // 32 bytes
const NONCE_TEXT = /^[A-Za-z0-9_-]{22}$/; // 16 bytes
const NODE_ID = /^[a-z0-9-]{1,64}$/; // as src/wire/messages.ts names nodes

/** A new ticket key: 32 random bytes (RFC 2104 asks for at least the hash output length). */
export function createTicketKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

function unauthenticated(why: string): DfsError {
  return new DfsError('UNAUTHENTICATED', `ticket refused: ${why}`);
}

/** Signs a ticket (master). Claims come from checked requests, so a bad one here is a bug, not bad input. */
export function signTicket(key: Buffer, request: TicketRequest): string {
  if (key.length < KEY_BYTES) throw new Error(`ticket: a key has at least ${KEY_BYTES} bytes`);
  if (!Number.isSafeInteger(request.ttlMs) || request.ttlMs <= 0 || request.ttlMs > TICKET_TTL_MS_MAX) {
    throw new Error(`ticket: ttl ${request.ttlMs} ms is outside 1..${TICKET_TTL_MS_MAX}`);
  }
  const claims: TicketClaims = {
    blobId: request.blobId,
    op: request.op,
    bytesMax: request.bytesMax,
    nodeId: request.nodeId,
    chain: request.chain,
    expiresMs: request.nowMs + request.ttlMs,
    nonce: randomBytes(NONCE_BYTES).toString('base64url'),
  };
  const problem = claimsProblem({ v: FORMAT_VERSION, ...claims });
  if (problem !== undefined) throw new Error(`ticket: cannot sign: ${problem}`);
  const payload = Buffer.from(JSON.stringify({ v: FORMAT_VERSION, ...claims })).toString('base64url');
  const ticket = `${payload}.${mac(key, payload).toString('base64url')}`;
  if (ticket.length > TICKET_CHARS_MAX) throw new Error(`ticket: ${ticket.length} characters, over ${TICKET_CHARS_MAX}`);
  return ticket;
}

/** Why a decoded payload is not a valid set of claims, or undefined if it is. Strict: exactly these fields. */
function claimsProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'claims are not an object';
  const record = value as Record<string, unknown>;
  if (Object.keys(record).sort().join(',') !== CLAIM_KEYS) return 'unexpected or missing claims';
  if (record.v !== FORMAT_VERSION) return `format version ${String(record.v)} is not ${FORMAT_VERSION}`;
  if (!isBlobId(record.blobId)) return 'malformed blob id';
  if (!(TICKET_OPS as readonly unknown[]).includes(record.op)) return 'unknown operation';
  if (!isByteCount(record.bytesMax)) return 'malformed byte limit';
  if (typeof record.nodeId !== 'string' || !NODE_ID.test(record.nodeId)) return 'malformed node id';
  if (!isBlobId(record.chain)) return 'malformed chain';
  if (!Number.isSafeInteger(record.expiresMs) || (record.expiresMs as number) <= 0) return 'malformed expiry';
  if (typeof record.nonce !== 'string' || !NONCE_TEXT.test(record.nonce)) return 'malformed nonce';
  return undefined;
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export interface TicketExpectation {
  blobId: string;
  op: TicketOp;
  /** The bytes this transfer will move (the declared upload size, the blob's size for a read). */
  bytes: number;
  /** chainSubject of the members this request asks the node to forward to. */
  chain: string;
}

/** A node's check of tickets. Remembers accepted nonces until their ticket expires, so each ticket works once. */
export class TicketVerifier {
  private readonly nonces = new NonceMemory(TICKET_NONCES_MAX);
  private latestMs = 0;

  constructor(
    /** Current key first, then the previous one (rotation); asked at every check. */
    private readonly keys: () => Buffer[],
    private readonly nodeId: string,
    private readonly now: () => number,
  ) {}

  /** Nonces held right now (for tests and the node's status). */
  get rememberedNonces(): number {
    return this.nonces.size;
  }

  /** UNAUTHENTICATED: missing, malformed, forged, another node's, expired or replayed. FORBIDDEN: another
   * blob or op, or more bytes than allowed. RATE_LIMITED: too many live tickets remembered. */
  verify(ticket: unknown, expected: TicketExpectation): TicketClaims {
    if (!isByteCount(expected.bytes)) throw new DfsError('BAD_REQUEST', 'transfer size must be a whole number of bytes');
    const claims = this.authenticate(ticket);
    // A clock that steps back must not revive expired tickets whose nonces were already forgotten.
    const nowMs = Math.max(this.now(), this.latestMs);
    this.latestMs = nowMs;
    if (claims.nodeId !== this.nodeId) throw unauthenticated(`issued for node ${claims.nodeId}, this is ${this.nodeId}`);
    if (claims.expiresMs <= nowMs) throw unauthenticated(`expired ${nowMs - claims.expiresMs} ms ago`);
    if (claims.expiresMs > nowMs + TICKET_TTL_MS_MAX + TICKET_CLOCK_SKEW_MS) throw unauthenticated('expires too far in the future');
    if (claims.op !== expected.op) throw new DfsError('FORBIDDEN', `ticket is for ${claims.op}, not ${expected.op}`);
    if (claims.blobId !== expected.blobId) throw new DfsError('FORBIDDEN', `ticket is for another blob than ${expected.blobId}`);
    if (expected.bytes > claims.bytesMax) throw new DfsError('FORBIDDEN', `ticket allows ${claims.bytesMax} bytes, not ${expected.bytes}`);
    if (claims.chain !== expected.chain) throw new DfsError('FORBIDDEN', 'the chain to forward to is not the one the master signed');
    this.nonces.accept(claims.nonce, claims.expiresMs, nowMs);
    return claims;
  }

  /** Checks the shape and the MAC before the payload is decoded: only signed JSON is ever parsed. */
  private authenticate(ticket: unknown): TicketClaims {
    if (typeof ticket !== 'string' || ticket.length === 0) throw unauthenticated('missing');
    if (ticket.length > TICKET_CHARS_MAX) throw unauthenticated(`over ${TICKET_CHARS_MAX} characters`);
    const dot = ticket.indexOf('.');
    const payload = ticket.slice(0, dot);
    const macText = ticket.slice(dot + 1);
    if (dot <= 0 || !BASE64URL.test(payload) || !MAC_TEXT.test(macText)) throw unauthenticated('malformed');
    const offered = Buffer.from(macText, 'base64url');
    // 43 characters carry 2 spare bits: accept one spelling only, so a ticket has one text.
    if (offered.length !== MAC_BYTES || offered.toString('base64url') !== macText) throw unauthenticated('malformed');
    const keys = this.keys();
    if (keys.length === 0) throw unauthenticated('this node has no ticket key yet');
    if (!keys.some((key) => timingSafeEqual(mac(key, payload), offered))) throw unauthenticated('bad signature');
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw unauthenticated('malformed claims');
    }
    const problem = claimsProblem(decoded);
    if (problem !== undefined) throw unauthenticated(problem);
    const { blobId, op, bytesMax, nodeId, chain, expiresMs, nonce } = decoded as TicketClaims;
    return { blobId, op, bytesMax, nodeId, chain, expiresMs, nonce };
  }
}

/** Nonces of accepted tickets, each kept until its ticket expires (a min-heap by expiry finds them),
 * at most `capacity`: past it new tickets are refused rather than unexpired nonces forgotten. */
class NonceMemory {
  private readonly expiries = new Map<string, number>();
  private readonly heap: Array<{ expiresMs: number; nonce: string }> = [];

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.expiries.size;
  }

  accept(nonce: string, expiresMs: number, nowMs: number): void {
    this.forgetExpired(nowMs);
    if (this.expiries.has(nonce)) throw unauthenticated('already used (replay)');
    if (this.expiries.size >= this.capacity) {
      throw new DfsError('RATE_LIMITED', 'too many live tickets on this node: retry shortly');
    }
    this.expiries.set(nonce, expiresMs);
    this.push({ expiresMs, nonce });
  }

  private forgetExpired(nowMs: number): void {
    for (let top = this.heap[0]; top !== undefined && top.expiresMs <= nowMs; top = this.heap[0]) {
      this.pop();
      this.expiries.delete(top.nonce);
    }
  }

  private push(entry: { expiresMs: number; nonce: string }): void {
    const heap = this.heap;
    heap.push(entry);
    for (let index = heap.length - 1; index > 0; ) {
      const parent = (index - 1) >> 1;
      const [child, above] = [heap[index], heap[parent]];
      if (child === undefined || above === undefined || above.expiresMs <= child.expiresMs) break;
      [heap[index], heap[parent]] = [above, child];
      index = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    for (let index = 0; ; ) {
      const [left, right] = [2 * index + 1, 2 * index + 2];
      let smallest = index;
      if ((heap[left]?.expiresMs ?? Infinity) < (heap[smallest]?.expiresMs ?? Infinity)) smallest = left;
      if ((heap[right]?.expiresMs ?? Infinity) < (heap[smallest]?.expiresMs ?? Infinity)) smallest = right;
      if (smallest === index) return;
      const [here, there] = [heap[index], heap[smallest]];
      if (here === undefined || there === undefined) return;
      [heap[index], heap[smallest]] = [there, here];
      index = smallest;
    }
  }
}
