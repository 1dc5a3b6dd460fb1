// Every maximum, timeout and interval in dfs, in one place. Units are the last part of each name.
// Relations between limits are asserted at the bottom so a careless edit fails at start-up.

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;

/** A control frame's JSON payload; checked before anything is allocated for it. */
export const FRAME_BYTES_MAX = 16 * MIB;
/** A body streamed after a frame (file bytes): any size a node could hold. */
export const BODY_BYTES_MAX = Number.MAX_SAFE_INTEGER;
/** Bytes a receiver buffers for a body before it pauses the socket (back-pressure). */
export const BODY_BUFFER_BYTES = 1 * MIB;
/** Size of read and write chunks on the data path (16 KiB defaults are 4x slower here). */
export const IO_CHUNK_BYTES = 1 * MIB;

export const REQUEST_TIMEOUT_MS = 30_000;
export const CONNECT_TIMEOUT_MS = 10_000;
/** A TLS peer that sends nothing valid for this long is dropped. */
export const IDLE_TIMEOUT_MS = 5 * 60_000;
/** Requests in flight on one connection; past it the peer is told to slow down. */
export const REQUESTS_IN_FLIGHT_MAX = 256;

export const HEARTBEAT_INTERVAL_MS = 2_000;
export const NODE_TIMEOUT_S_DEFAULT = 30;
export const RECONNECT_DELAY_MS_MIN = 200;
export const RECONNECT_DELAY_MS_MAX = 5_000;

/** Failed joins tolerated per address per window before further tries are refused outright. */
export const JOIN_FAILURES_MAX = 5;
export const JOIN_FAILURE_WINDOW_MS = 60_000;

export const REPLICAS_DEFAULT = 3;
export const REPLICAS_MAX = 16;
export const DEMO_NODES_DEFAULT = 3;
export const DEMO_NODES_MAX = 16;

export const NAME_BYTES_MAX = 255;
export const PATH_BYTES_MAX = 4096;

function assert(condition: boolean, what: string): void {
  if (!condition) throw new Error(`limits: ${what}`);
}
assert(IO_CHUNK_BYTES <= BODY_BUFFER_BYTES, 'a chunk fits in the body buffer');
assert(FRAME_BYTES_MAX < 2 ** 32, 'frame length fits the u32 header field');
assert(HEARTBEAT_INTERVAL_MS * 3 < NODE_TIMEOUT_S_DEFAULT * 1000, 'a node misses several heartbeats before it is dead');
assert(RECONNECT_DELAY_MS_MIN < RECONNECT_DELAY_MS_MAX, 'reconnect backoff grows');
assert(NAME_BYTES_MAX < PATH_BYTES_MAX, 'a name fits in a path');
