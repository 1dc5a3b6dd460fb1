// Request/response over one connection: ids, timeouts, typed errors, and bodies of any size
// streamed after a frame with back-pressure both ways. Either side may send requests.
// A framing error closes this connection with a typed error; it never throws into a role.

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { BODY_BUFFER_BYTES, FRAME_BYTES_MAX, FRAME_BYTES_UNTRUSTED_MAX, FRAMES_PER_TURN, IDLE_TIMEOUT_MS, IO_CHUNK_BYTES, PRINCIPAL_REQUESTS_IN_FLIGHT_MAX, REQUESTS_IN_FLIGHT_MAX, REQUEST_TIMEOUT_MS, UNTRUSTED_IDLE_MS } from '../limits';
import { FileRegion } from '../streams';
import { DfsError, isDfsError } from './errors';
import { encodeFrame, FrameDecoder } from './frame';
import { isMessageType, MESSAGES, type MessageType, type RequestOf, type ResponseOf, type ServedBy } from './messages';

export type Peer = { kind: 'anonymous' } | { kind: 'node'; nodeId: string } | { kind: 'master' };

/** A body to send after a frame: exactly `bytes` bytes will be read from `stream`. Once handed to a channel, the
 * channel owns the stream: it is read to its end, or destroyed if it cannot be sent (its errors end the request). */
export interface OutgoingBody {
  stream: Readable;
  bytes: number;
}

export interface Incoming<T extends MessageType = MessageType> {
  type: T;
  data: RequestOf<T>;
  /** Present when the request carries bytes; handlers must consume or destroy it. */
  body: Readable | undefined;
  bodyBytes: number;
  peer: Peer;
  channel: Link;
}

/** What a handler may do with the connection a request came on: a Channel, or in the master's deterministic
 * simulation a simulated link to a simulated node or client. */
export interface Link {
  readonly peer: Peer;
  /** The peer's IP address, for rate limits and logs. */
  readonly remoteHost: string;
  readonly closed: boolean;
  /** Who the peer proved to be; undefined while it proved nothing. */
  readonly trusted: string | undefined;
  trust(principal: string): void;
  request<T extends MessageType>(type: T, data: RequestOf<T>, options?: { body?: OutgoingBody; timeoutMs?: number }): Promise<Response<T>>;
  close(reason?: DfsError): void;
}

export interface Reply<T extends MessageType = MessageType> {
  data: ResponseOf<T>;
  body?: OutgoingBody;
}

export interface Response<T extends MessageType> {
  data: ResponseOf<T>;
  body: Readable | undefined;
  bodyBytes: number;
}

/** A request of one of the types T, discriminated by its type so a role's switch narrows the data. */
export type IncomingOf<T extends MessageType> = { [K in T]: Incoming<K> }[T];
export type AnyIncoming = IncomingOf<MessageType>;

/** A role's handler sees only the messages that role serves; the channel refuses the rest. */
export type RoleHandler<R extends Role> = (request: IncomingOf<ServedBy<R>>) => Promise<Reply>;
export type Role = 'master' | 'node';

export interface Service {
  role: Role;
  handler: (request: AnyIncoming) => Promise<Reply>;
}

export function service<R extends Role>(role: R, handler: RoleHandler<R>): Service {
  // Sound because onRequest checks MESSAGES[type].server against the role before calling.
  return { role, handler: handler as (request: AnyIncoming) => Promise<Reply> };
}

type Envelope =
  | { k: 'q'; id: number; t: string; d: unknown }
  | { k: 'r'; id: number; d: unknown }
  | { k: 'e'; id: number; e: unknown };

interface Pending {
  type: MessageType;
  resolve(response: { data: unknown; body: Readable | undefined; bodyBytes: number }): void;
  reject(error: DfsError): void;
  timer: NodeJS.Timeout;
}

interface QueuedWrite {
  frame: Buffer;
  body: OutgoingBody | undefined;
  done(error?: Error): void;
}

export interface ChannelOptions {
  peer: Peer;
  /** What this side answers; without it every request is refused. */
  service?: Service;
  /** For logs: who is on the other end. */
  label?: string;
  remoteHost?: string;
  localHost?: string;
  idleTimeoutMs?: number;
}

/** Channels whose peer has not yet logged in, shown a cluster certificate or a valid ticket: small frames, short
 * idle time. The peer's certificate (or our own verification of the server we dialled) trusts it from the start. */
function trustedFromStart(peer: Peer): boolean {
  return peer.kind !== 'anonymous';
}

export class Channel extends EventEmitter implements Link {
  readonly peer: Peer;
  readonly label: string;
  /** The peer's IP address, for rate limits and logs. */
  readonly remoteHost: string;
  /** Our own address on this connection: what peers on that network can reach us at. */
  readonly localHost: string;
  private service: Service | undefined;
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private inFlight = 0;
  private incomingBody: BodyReadable | undefined;
  private writeQueue: QueuedWrite[] = [];
  private writing = false;
  private closedError: DfsError | undefined;
  private isClosed = false;
  private trustedAs: string | undefined;
  private readonly idleTimeoutMs: number;
  /** Requests parsed and accepted, waiting for their principal's turn (Fairness). */
  private readonly waitingRequests: (() => void)[] = [];
  /** Why the socket is not being read now; it is read again when no reason is left. */
  private readonly pausedFor = new Set<'body' | 'turn' | 'fairness'>();

  constructor(
    private readonly socket: Duplex,
    options: ChannelOptions,
  ) {
    super();
    this.peer = options.peer;
    this.label = options.label ?? 'peer';
    this.remoteHost = options.remoteHost ?? 'unknown';
    this.localHost = options.localHost ?? 'unknown';
    this.service = options.service;
    if (trustedFromStart(options.peer)) this.trustedAs = options.peer.kind === 'node' ? `node:${options.peer.nodeId}` : options.peer.kind;
    this.decoder = new FrameDecoder(
      {
        frame: (payload, bodyBytes) => this.onFrame(payload, bodyBytes),
        body: (chunk) => this.onBody(chunk),
        bodyEnd: () => this.onBodyEnd(),
      },
      { frameBytesMax: () => (this.trustedAs === undefined ? FRAME_BYTES_UNTRUSTED_MAX : FRAME_BYTES_MAX), framesPerPush: () => (this.trustedAs === undefined ? 1 : FRAMES_PER_TURN) },
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.fail(new DfsError('UNAVAILABLE', `${this.label} closed the connection`)));
    socket.on('close', () => this.fail(new DfsError('UNAVAILABLE', `connection to ${this.label} lost`)));
    socket.on('error', (error: Error) => this.fail(new DfsError('UNAVAILABLE', `${this.label}: ${error.message}`)));
    socket.on('timeout', () => this.fail(new DfsError('TIMEOUT', `${this.label} sent nothing for too long`)));
    this.idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.armIdleTimer();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Who the peer proved to be (a user, a node, a ticket holder); undefined while it proved nothing. */
  get trusted(): string | undefined {
    return this.trustedAs;
  }

  /**
   * The peer proved who it is (`principal`: "user:NAME", or a ticket holder's address): larger frames and the long
   * idle time from now on. Servers hear of it ('trusted') to count the connection as that principal's.
   */
  trust(principal: string): void {
    if (this.trustedAs === principal) return;
    const first = this.trustedAs === undefined;
    this.trustedAs = principal;
    if (first) this.armIdleTimer();
    this.emit('trusted', principal);
  }

  /** A peer that sends nothing valid for its idle time is dropped: a short time until it is trusted. */
  private armIdleTimer(): void {
    const idle = this.trustedAs === undefined ? Math.min(this.idleTimeoutMs, UNTRUSTED_IDLE_MS) : this.idleTimeoutMs;
    if ('setTimeout' in this.socket && typeof this.socket.setTimeout === 'function') {
      (this.socket as Duplex & { setTimeout(ms: number, cb?: () => void): void }).setTimeout(0);
      (this.socket as Duplex & { setTimeout(ms: number, cb?: () => void): void }).setTimeout(idle);
    }
  }

  setService(service: Service): void {
    this.service = service;
  }

  request<T extends MessageType>(
    type: T,
    data: RequestOf<T>,
    options: { body?: OutgoingBody; timeoutMs?: number } = {},
  ): Promise<Response<T>> {
    if (options.body) adoptBody(options.body);
    if (this.isClosed) {
      options.body?.stream.destroy();
      return Promise.reject(this.closedError ?? new DfsError('UNAVAILABLE', 'connection closed'));
    }
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    return new Promise<Response<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DfsError('TIMEOUT', `${type}: no answer from ${this.label} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { type, resolve: resolve as Pending['resolve'], reject, timer });
      this.send({ k: 'q', id, t: type, d: data }, options.body).catch((error: unknown) => {
        const entry = this.pending.get(id);
        if (!entry) return;
        this.pending.delete(id);
        clearTimeout(entry.timer);
        reject(error instanceof DfsError ? error : new DfsError('UNAVAILABLE', `${type}: ${String(error)}`));
      });
    });
  }

  /** Whether this connection alone keeps the process running (an idle pooled one must not). */
  keepProcessAlive(keep: boolean): void {
    const socket = this.socket as Duplex & { ref?: () => void; unref?: () => void };
    if (keep) socket.ref?.();
    else socket.unref?.();
  }

  /** Closes the connection; pending requests fail with `reason`. */
  close(reason = new DfsError('UNAVAILABLE', 'connection closed')): void {
    this.fail(reason);
  }

  /** Frames and sends; a body that cannot be sent (no frame, or the connection is gone) is destroyed. */
  private send(envelope: Envelope, body?: OutgoingBody): Promise<void> {
    let frame: Buffer;
    try {
      frame = encodeFrame(Buffer.from(JSON.stringify(envelope)), body?.bytes ?? 0);
    } catch (error) {
      // Too large, or a bad body length: refused before anything is written; the caller decides.
      body?.stream.destroy();
      return Promise.reject(DfsError.wrap(error));
    }
    if (!this.writing && !body) {
      this.socket.write(frame);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.writeQueue.push({ frame, body, done: (error) => (error ? reject(error) : resolve()) });
      if (!this.writing) void this.drainQueue();
    });
  }

  private async drainQueue(): Promise<void> {
    this.writing = true;
    try {
      for (let next = this.writeQueue.shift(); next; next = this.writeQueue.shift()) {
        try {
          if (this.isClosed) throw this.closedError ?? new DfsError('UNAVAILABLE', 'connection closed');
          // A body that failed while it waited costs only its own request: its frame is never sent.
          if (next.body?.stream.destroyed) throw new DfsError('UNAVAILABLE', `body failed before it was sent: ${String(next.body.stream.errored?.message ?? 'destroyed')}`);
          // A body announced empty is checked empty before its frame goes: the peer acts on the frame alone.
          if (next.body?.bytes === 0) await expectEmpty(next.body.stream);
          this.socket.write(next.frame);
          if (next.body && next.body.bytes > 0) await this.writeBody(next.body);
          next.done();
        } catch (error) {
          next.body?.stream.destroy();
          next.done(error instanceof Error ? error : new Error(String(error)));
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * Streams exactly body.bytes bytes; anything else breaks the framing, so the connection ends. The last chunk read
   * is held back until the next read shows the stream goes on or ends: a source longer or shorter than announced
   * (a file that changed while it was read) never delivers a whole body, so the peer never acts on one.
   */
  private async writeBody(body: OutgoingBody): Promise<void> {
    let read = 0;
    let held: Buffer | undefined;
    try {
      if (body.stream instanceof FileRegion) return await this.writeRegion(body.stream, body.bytes);
      for await (const chunk of body.stream as AsyncIterable<Buffer>) {
        if (this.isClosed) throw this.closedError ?? new DfsError('UNAVAILABLE', 'connection closed');
        read += chunk.length;
        if (read > body.bytes) throw new DfsError('BAD_REQUEST', `body longer than the announced ${body.bytes} bytes`);
        if (held && !this.socket.write(held)) await this.waitDrain();
        held = chunk;
      }
      if (read !== body.bytes) throw bodyEnded(read, body.bytes);
      if (this.isClosed) throw this.closedError ?? new DfsError('UNAVAILABLE', 'connection closed');
      if (held && !this.socket.write(held)) await this.waitDrain();
    } catch (error) {
      const reason = error instanceof DfsError ? error : new DfsError('UNAVAILABLE', `sending body: ${String(error)}`);
      body.stream.destroy();
      this.fail(reason);
      throw reason;
    }
  }

  /**
   * A file region's bytes, read into two buffers used in turn: the next chunk is read while the last one is sent, and
   * a buffer is read into again only once the socket is done with what it held (its write's callback). The region
   * ends no later than announced; a file that ends sooner leaves the peer without a whole body, as a short stream does.
   */
  private async writeRegion(region: FileRegion, bytes: number): Promise<void> {
    const size = Math.min(IO_CHUNK_BYTES, bytes);
    const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)] as const;
    const written: [Promise<void>, Promise<void>] = [Promise.resolve(), Promise.resolve()];
    const readChunk = async (slot: 0 | 1): Promise<Buffer> => {
      await written[slot];
      return buffers[slot].subarray(0, await region.readInto(buffers[slot]));
    };
    let sent = 0;
    let slot: 0 | 1 = 0;
    let next = readChunk(slot);
    try {
      while (sent < bytes) {
        const chunk = await next;
        if (chunk.length === 0) throw bodyEnded(sent, bytes);
        if (this.isClosed) throw this.closedError ?? new DfsError('UNAVAILABLE', 'connection closed');
        sent += chunk.length;
        const other: 0 | 1 = slot === 0 ? 1 : 0;
        if (sent < bytes) next = readChunk(other);
        // Resolved on success or failure alike: a failed write fails the connection, which the loop sees.
        let flowing = true;
        written[slot] = new Promise<void>((resolve) => {
          flowing = this.socket.write(chunk, () => resolve());
        });
        if (!flowing) await this.waitDrain();
        slot = other;
      }
    } catch (error) {
      await next.catch(() => undefined); // no read left running into a buffer or a closed file
      // A read that failed fails the region as it would a stream read through (the node reports it).
      if (!(error instanceof DfsError)) region.destroy(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    region.destroy();
  }

  private waitDrain(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.socket.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        this.socket.off('drain', onDrain);
        reject(this.closedError ?? new DfsError('UNAVAILABLE', 'connection closed'));
      };
      this.socket.once('drain', onDrain);
      this.socket.once('close', onClose);
    });
  }

  /**
   * Decodes at most FRAMES_PER_TURN frames of what arrived, then lets the event loop serve other connections before
   * the rest: a peer that sends hundreds of requests in one packet cannot hold the process for all of them at once.
   */
  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    let rest: Buffer | undefined;
    try {
      rest = this.decoder.push(chunk);
    } catch (error) {
      const reason = error instanceof DfsError ? error : new DfsError('BAD_FRAME', String(error));
      this.failWithNotice(reason);
      return;
    }
    if (rest === undefined) return;
    this.pauseFor('turn');
    setImmediate(() => {
      this.resumeFor('turn');
      this.onData(rest);
    });
  }

  private pauseFor(reason: 'body' | 'turn' | 'fairness'): void {
    this.pausedFor.add(reason);
    this.socket.pause();
  }

  private resumeFor(reason: 'body' | 'turn' | 'fairness'): void {
    this.pausedFor.delete(reason);
    if (this.pausedFor.size === 0) this.socket.resume();
  }

  private onFrame(payload: Buffer, bodyBytes: number): void {
    const body = bodyBytes > 0 ? this.startBody() : undefined;
    const envelope = parseEnvelope(payload);
    if (envelope.k === 'q') this.onRequest(envelope, body, bodyBytes);
    else this.onResponse(envelope, body, bodyBytes);
  }

  private startBody(): BodyReadable {
    const body = new BodyReadable(() => this.resumeFor('body'));
    this.incomingBody = body;
    return body;
  }

  private onBody(chunk: Buffer): void {
    const body = this.incomingBody;
    if (body && !body.destroyed && !body.push(chunk)) this.pauseFor('body');
  }

  private onBodyEnd(): void {
    const body = this.incomingBody;
    this.incomingBody = undefined;
    if (body && !body.destroyed) body.push(null);
  }

  private onRequest(envelope: { id: number; t: string; d: unknown }, body: BodyReadable | undefined, bodyBytes: number): void {
    const { id } = envelope;
    const reject = (error: DfsError): void => {
      body?.discard();
      void this.send({ k: 'e', id, e: error.toWire() }).catch(() => undefined);
    };
    if (!isMessageType(envelope.t)) return reject(new DfsError('BAD_REQUEST', `unknown message type ${JSON.stringify(envelope.t).slice(0, 80)}`));
    const server = MESSAGES[envelope.t].server;
    if (!this.service) return reject(new DfsError('BAD_REQUEST', `${envelope.t}: this peer accepts no requests`));
    if (server !== 'any' && server !== this.service.role) {
      return reject(new DfsError('BAD_REQUEST', `${envelope.t} is served by the ${server}, not by a ${this.service.role}`));
    }
    const caller = MESSAGES[envelope.t].caller;
    if (caller === 'node' && this.peer.kind !== 'node') {
      return reject(new DfsError('UNAUTHENTICATED', `${envelope.t}: only cluster nodes may send this`));
    }
    if (caller === 'master' && this.peer.kind !== 'master') {
      return reject(new DfsError('UNAUTHENTICATED', `${envelope.t}: only the master may send this`));
    }
    // 'ticket' messages: the serving role checks the ticket; 'user' ones: the master checks the session.
    if (this.inFlight >= REQUESTS_IN_FLIGHT_MAX) return reject(new DfsError('RATE_LIMITED', 'too many requests in flight'));
    let data: unknown;
    try {
      data = MESSAGES[envelope.t].request.parse(envelope.d, envelope.t);
    } catch (error) {
      return reject(DfsError.wrap(error));
    }
    this.inFlight++;
    const incoming = { type: envelope.t, data, body, bodyBytes, peer: this.peer, channel: this } as AnyIncoming;
    const handler = this.service.handler;
    const key = this.fairnessKey();
    const run = (): void => {
      void this.runHandler(handler, incoming, id).finally(() => {
        this.inFlight--;
        body?.discard();
        if (key !== undefined) fairness.leave(key);
      });
    };
    // Behind requests already waiting on this connection, never ahead of them: a connection's requests start in order.
    if (key === undefined || (this.waitingRequests.length === 0 && fairness.enter(key))) return run();
    // Its principal has its share of the server's turns in flight: this request waits here, and the socket stops
    // being read, until one of that principal's requests finishes.
    this.waitingRequests.push(run);
    this.pauseFor('fairness');
    fairness.wait(key, this);
  }

  /** Whose share of the server this connection's requests count against: its principal once it proved one, else
   * its address. Cluster members (certificates) are not limited. */
  private fairnessKey(): string | undefined {
    if (this.peer.kind !== 'anonymous') return undefined;
    return this.trustedAs ?? `address:${this.remoteHost}`;
  }

  get hasWaiting(): boolean {
    return this.waitingRequests.length > 0;
  }

  /** A turn freed up for this connection's principal: its oldest waiting request runs (the turn was taken for it). */
  runWaiting(): boolean {
    const next = this.waitingRequests.shift();
    if (next === undefined || this.isClosed) return false;
    next();
    if (this.waitingRequests.length === 0) this.resumeFor('fairness');
    return true;
  }

  private async runHandler(handler: Service['handler'], incoming: AnyIncoming, id: number): Promise<void> {
    let reply: Reply;
    try {
      reply = await handler(incoming);
    } catch (error) {
      if (!(error instanceof DfsError)) this.emit('bug', error);
      await this.send({ k: 'e', id, e: DfsError.wrap(error).toWire() }).catch(() => undefined);
      return;
    }
    if (reply.body) adoptBody(reply.body);
    try {
      await this.send({ k: 'r', id, d: reply.data }, reply.body);
    } catch (error) {
      if (this.isClosed) return; // the connection is gone (or the body broke it); send let go of the body
      // The reply could not be framed (too large, bad body length): a bug in the handler.
      this.emit('bug', error);
      await this.send({ k: 'e', id, e: new DfsError('INTERNAL', 'internal error').toWire() }).catch(() => undefined);
    }
  }

  private onResponse(envelope: Exclude<Envelope, { k: 'q' }>, body: BodyReadable | undefined, bodyBytes: number): void {
    if (envelope.id === 0 && envelope.k === 'e') {
      // The peer refuses the whole connection and is about to close it.
      this.fail(DfsError.fromWire(envelope.e));
      return;
    }
    const entry = this.pending.get(envelope.id);
    if (!entry) {
      body?.discard(); // answer to a request that already timed out
      return;
    }
    this.pending.delete(envelope.id);
    clearTimeout(entry.timer);
    if (envelope.k === 'e') {
      body?.discard();
      entry.reject(DfsError.fromWire(envelope.e));
      return;
    }
    try {
      const data = MESSAGES[entry.type].response.parse(envelope.d, `${entry.type} response`);
      entry.resolve({ data, body, bodyBytes });
    } catch (error) {
      body?.discard();
      entry.reject(DfsError.wrap(error));
    }
  }

  /** Tells the peer why before closing, for errors the peer caused (bad frames, refusals). */
  failWithNotice(reason: DfsError): void {
    if (this.isClosed) return;
    try {
      // Mid-body, a notice would land inside the body's bytes; the close alone must say it then.
      if (!this.writing) this.socket.write(encodeFrame(Buffer.from(JSON.stringify({ k: 'e', id: 0, e: reason.toWire() }))));
    } catch {
      // the socket is already gone; closing is all that is left
    }
    this.socket.end();
    const destroyTimer = setTimeout(() => this.socket.destroy(), 1_000);
    destroyTimer.unref();
    this.fail(reason);
  }

  private fail(reason: DfsError): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closedError = reason;
    this.decoder.release();
    if (this.incomingBody && !this.incomingBody.destroyed) {
      this.incomingBody.destroy(new DfsError('UNAVAILABLE', `transfer interrupted: ${reason.message}`));
    }
    this.incomingBody = undefined;
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(reason);
    }
    this.pending.clear();
    for (const queued of this.writeQueue.splice(0)) {
      queued.body?.stream.destroy();
      queued.done(reason);
    }
    // A socket we are ending gracefully still has a notice to deliver; its timer destroys it.
    if (!this.socket.writableEnded) this.socket.destroy();
    this.emit('close', reason);
  }
}

/**
 * Turns of a server shared fairly between principals (a user, a ticket holder's address, an address that has not
 * logged in): each may have PRINCIPAL_REQUESTS_IN_FLIGHT_MAX requests running, over all its connections; more wait
 * in their connections, whose sockets stop being read, and run as that principal's earlier requests finish —
 * connection after connection, each on a later turn of the event loop. One user's flood then holds a bounded share
 * of the server, and everyone else's requests still go straight in.
 */
class Fairness {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, Channel[]>();

  enter(key: string): boolean {
    const count = this.running.get(key) ?? 0;
    if (count >= PRINCIPAL_REQUESTS_IN_FLIGHT_MAX) return false;
    this.running.set(key, count + 1);
    return true;
  }

  wait(key: string, channel: Channel): void {
    const queue = this.waiting.get(key) ?? [];
    if (!queue.includes(channel)) queue.push(channel);
    this.waiting.set(key, queue);
  }

  /** A request of `key` finished: its turn goes to the next waiting connection of the same principal, if any. */
  leave(key: string): void {
    const queue = this.waiting.get(key);
    const next = queue?.shift();
    if (queue !== undefined && next !== undefined) {
      if (queue.length === 0) this.waiting.delete(key);
      // The turn passes on at once (the count stays); the request runs on the next turn of the event loop, so other
      // sockets are read in between.
      setImmediate(() => {
        if (!next.runWaiting()) this.leave(key);
        else if (next.hasWaiting) this.wait(key, next);
      });
      return;
    }
    const count = (this.running.get(key) ?? 1) - 1;
    if (count <= 0) this.running.delete(key);
    else this.running.set(key, count);
  }
}

const fairness = new Fairness();

/** Whether a request failed because its body's source held more or fewer bytes than announced (writeBody,
 * expectEmpty): the sender's data changed under it, and the peer never got a whole body. */
export function isBodyLengthMismatch(error: unknown): boolean {
  return isDfsError(error, 'BAD_REQUEST') && /^body (longer than|ended after)/.test(error.message);
}

/** A body's source ended before the bytes announced (writeBody, writeRegion); isBodyLengthMismatch knows it. */
function bodyEnded(read: number, bytes: number): DfsError {
  return new DfsError('BAD_REQUEST', `body ended after ${read} of ${bytes} bytes`);
}

/** Reads a stream announced as empty: BAD_REQUEST if it holds a byte. */
async function expectEmpty(stream: Readable): Promise<void> {
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (chunk.length > 0) throw new DfsError('BAD_REQUEST', 'body longer than the announced 0 bytes');
  }
}

/** The channel owns a body it was given: its errors surface where the channel reads it (writeBody's loop), never
 * as an uncaught 'error' event while it waits in the queue or after a failed request let it go. */
function adoptBody(body: OutgoingBody): void {
  body.stream.on('error', () => undefined);
}

function parseEnvelope(payload: Buffer): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new DfsError('BAD_FRAME', 'frame payload is not JSON');
  }
  const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { k, id } = record;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new DfsError('BAD_FRAME', 'frame without a valid id');
  if (k === 'q' && typeof record.t === 'string' && id > 0) return { k, id, t: record.t, d: record.d };
  if (k === 'r') return { k, id, d: record.d };
  if (k === 'e') return { k, id, e: record.e };
  throw new DfsError('BAD_FRAME', 'frame of unknown kind');
}

/**
 * The receiving side of a body: resumes the socket when its reader wants more.
 *
 * The connection can break at any moment: before a handler starts reading the body (it may be waiting on a
 * disk or a lock), while it reads, or after it let go. The error is kept in the stream's state, where
 * `for await`, pipeline() and finished() find it whenever they attach; the 'error' event itself has a
 * listener from birth, so a body nobody listens to at that moment never becomes an uncaught exception
 * that takes the whole process down with one transfer.
 */
class BodyReadable extends Readable {
  constructor(private readonly resumeSource: () => void) {
    super({ highWaterMark: BODY_BUFFER_BYTES });
    this.on('error', () => undefined);
  }

  override _read(): void {
    this.resumeSource();
  }

  /** A destroyed body is read no further, but the frames after it must be: its rest is dropped. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.resumeSource();
    callback(error);
  }

  /** Drops the rest of an unread body so the frames after it can be decoded. */
  discard(): void {
    if (this.readableEnded || this.destroyed) return;
    this.resume();
  }
}
