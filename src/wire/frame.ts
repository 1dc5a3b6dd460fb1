// The frame codec: every message on every dfs connection is one frame, optionally followed by a
// raw body (file bytes) of a length the header announces. Bodies are never copied into frames.
//
//   0      2        3      4             8                     16
//   | "DF" | version | flags | payload u32 | body bytes u64      | payload (JSON) | body ...
//
// The magic tells a stray client apart at once; the payload length is checked against
// FRAME_BYTES_MAX before any allocation, so a hostile length costs nothing.

import { BODY_BYTES_MAX, FRAME_BYTES_MAX, FRAME_MEMORY_BYTES_MAX } from '../limits';
import { DfsError } from './errors';

export const FRAME_MAGIC = 0x4446; // "DF"
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 16;

export function encodeFrame(payload: Buffer, bodyBytes = 0): Buffer {
  if (payload.length > FRAME_BYTES_MAX) {
    throw new DfsError('BAD_REQUEST', `message of ${payload.length} bytes exceeds the ${FRAME_BYTES_MAX} byte limit`);
  }
  if (!Number.isSafeInteger(bodyBytes) || bodyBytes < 0 || bodyBytes > BODY_BYTES_MAX) {
    throw new DfsError('BAD_REQUEST', `invalid body length ${bodyBytes}`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt16BE(FRAME_MAGIC, 0);
  frame.writeUInt8(FRAME_VERSION, 2);
  frame.writeUInt8(0, 3);
  frame.writeUInt32BE(payload.length, 4);
  frame.writeBigUInt64BE(BigInt(bodyBytes), 8);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export interface FrameSink {
  frame(payload: Buffer, bodyBytes: number): void;
  /** A slice of the body as it arrives; the sink applies back-pressure by pausing the source. */
  body(chunk: Buffer): void;
  bodyEnd(): void;
}

type State = 'header' | 'payload' | 'body';

/**
 * Payload bytes every decoder of this process holds for frames still arriving: one budget for all connections, so
 * many peers each announcing a large frame and sending it slowly cannot make the process hold them all.
 */
class PayloadBudget {
  private heldBytes = 0;

  constructor(private readonly maxBytes: number) {}

  get held(): number {
    return this.heldBytes;
  }

  take(bytes: number): void {
    if (this.heldBytes + bytes > this.maxBytes) throw new DfsError('RATE_LIMITED', 'too many large messages arriving at once; try again shortly');
    this.heldBytes += bytes;
  }

  give(bytes: number): void {
    this.heldBytes -= bytes;
  }
}

export const payloadBudget = new PayloadBudget(FRAME_MEMORY_BYTES_MAX);

export interface FrameDecoderOptions {
  /** The largest payload this peer may send now (it grows once the peer is trusted). */
  frameBytesMax?: () => number;
  /** Frames one push() decodes at most now; push() returns the bytes it left for later. */
  framesPerPush?: () => number;
}

/** Incremental decoder: feed it socket chunks of any size; it throws DfsError BAD_FRAME on garbage. */
export class FrameDecoder {
  private state: State = 'header';
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private payload: Buffer = Buffer.alloc(0);
  private payloadFilled = 0;
  private bodyBytes = 0;
  private bodyLeft = 0;
  private broken = false;
  /** Payload bytes taken from the budget for the frame now arriving. */
  private budgeted = 0;
  private framesDecoded = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly options: FrameDecoderOptions = {},
  ) {}

  /** Gives back what the frame being read holds: the connection is gone. */
  release(): void {
    this.broken = true;
    payloadBudget.give(this.budgeted);
    this.budgeted = 0;
    this.payload = Buffer.alloc(0);
  }

  /** True when the decoder sits between frames: a stream may end here without truncation. */
  get atBoundary(): boolean {
    return this.state === 'header' && this.headerFilled === 0;
  }

  /** Decodes what `chunk` holds, up to framesPerPush frames; returns the bytes left undecoded, if any. */
  push(chunk: Buffer): Buffer | undefined {
    if (this.broken) throw new DfsError('BAD_FRAME', 'decoder already failed');
    const framesMax = this.options.framesPerPush?.() ?? Infinity;
    const framesBefore = this.framesDecoded;
    try {
      let offset = 0;
      while (offset < chunk.length) {
        offset = this.step(chunk, offset);
        if (this.framesDecoded - framesBefore >= framesMax && offset < chunk.length) return chunk.subarray(offset);
      }
      return undefined;
    } catch (error) {
      this.broken = true;
      throw error;
    }
  }

  private step(chunk: Buffer, offset: number): number {
    switch (this.state) {
      case 'header':
        return this.readHeader(chunk, offset);
      case 'payload':
        return this.readPayload(chunk, offset);
      case 'body':
        return this.readBody(chunk, offset);
    }
  }

  private readHeader(chunk: Buffer, offset: number): number {
    const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - offset);
    chunk.copy(this.header, this.headerFilled, offset, offset + take);
    this.headerFilled += take;
    // Check the magic as soon as two bytes are in, so a stray protocol is refused at once.
    if (this.headerFilled >= 2 && this.header.readUInt16BE(0) !== FRAME_MAGIC) {
      throw new DfsError('BAD_FRAME', 'not a dfs peer (bad magic)');
    }
    if (this.headerFilled < FRAME_HEADER_BYTES) return offset + take;
    this.headerFilled = 0;
    this.startFrame();
    return offset + take;
  }

  private startFrame(): void {
    const version = this.header.readUInt8(2);
    if (version !== FRAME_VERSION) throw new DfsError('BAD_FRAME', `unsupported protocol version ${version}`);
    if (this.header.readUInt8(3) !== 0) throw new DfsError('BAD_FRAME', 'unknown frame flags');
    const payloadBytes = this.header.readUInt32BE(4);
    const limit = Math.min(FRAME_BYTES_MAX, this.options.frameBytesMax?.() ?? FRAME_BYTES_MAX);
    if (payloadBytes > limit) {
      throw new DfsError('BAD_FRAME', `frame of ${payloadBytes} bytes exceeds the ${limit} byte limit${limit < FRAME_BYTES_MAX ? ' before login' : ''}`);
    }
    const bodyBytes = this.header.readBigUInt64BE(8);
    if (bodyBytes > BigInt(BODY_BYTES_MAX)) throw new DfsError('BAD_FRAME', 'body length out of range');
    this.bodyBytes = Number(bodyBytes);
    payloadBudget.take(payloadBytes);
    this.budgeted = payloadBytes;
    this.payload = Buffer.allocUnsafe(payloadBytes);
    this.payloadFilled = 0;
    this.state = 'payload';
    if (payloadBytes === 0) this.finishPayload();
  }

  private readPayload(chunk: Buffer, offset: number): number {
    const take = Math.min(this.payload.length - this.payloadFilled, chunk.length - offset);
    chunk.copy(this.payload, this.payloadFilled, offset, offset + take);
    this.payloadFilled += take;
    if (this.payloadFilled === this.payload.length) this.finishPayload();
    return offset + take;
  }

  private finishPayload(): void {
    const payload = this.payload;
    this.payload = Buffer.alloc(0);
    payloadBudget.give(this.budgeted);
    this.budgeted = 0;
    this.framesDecoded++;
    this.bodyLeft = this.bodyBytes;
    this.state = this.bodyLeft > 0 ? 'body' : 'header';
    this.sink.frame(payload, this.bodyBytes);
  }

  private readBody(chunk: Buffer, offset: number): number {
    const take = Math.min(this.bodyLeft, chunk.length - offset);
    this.bodyLeft -= take;
    if (this.bodyLeft === 0) this.state = 'header';
    this.sink.body(offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
    if (this.bodyLeft === 0) this.sink.bodyEnd();
    return offset + take;
  }
}
