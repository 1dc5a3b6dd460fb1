// The protocol, declared once: every message type dfs peers exchange, who may send it, and the
// shape of its request and response. Names are never reused for something else.

import { array, bool, empty, int, literal, obj, str, type Infer, type Schema } from './schema';

/** Who may send a message: anyone who completed TLS, or a node with a CA-signed certificate. */
export type Caller = 'anyone' | 'node';

interface MessageSpec<Request, Response> {
  caller: Caller;
  request: Schema<Request>;
  response: Schema<Response>;
}

function message<Request, Response>(
  caller: Caller,
  request: Schema<Request>,
  response: Schema<Response>,
): MessageSpec<Request, Response> {
  return { caller, request, response };
}

const nodeId = str({ min: 1, max: 64, pattern: /^[a-z0-9-]+$/ });
const address = str({ min: 3, max: 300 });
const pem = str({ min: 1, max: 64 * 1024 });
const bytes = int();

const space = {
  capacityBytes: bytes,
  usedBytes: bytes,
  freeBytes: bytes,
};

export const MESSAGES = {
  /** Liveness and identification; answers who this peer is. */
  ping: message('anyone', empty, obj({ role: literal('master', 'node'), version: str({ max: 64 }) })),

  /** A new node asks for a certificate: the join token's secret, a CSR, and the host its certificate names. */
  join: message(
    'anyone',
    obj({ secret: str({ min: 1, max: 256 }), csrPem: pem, host: str({ min: 1, max: 253 }) }),
    obj({ nodeId, certPem: pem, caPem: pem }),
  ),

  /** A node with a CA-signed certificate announces itself (after every connect) and its space. */
  'node.register': message(
    'node',
    obj({ advertise: address, version: str({ max: 64 }), ...space }),
    obj({ heartbeatIntervalMs: int({ min: 100, max: 60_000 }) }),
  ),

  'node.heartbeat': message('node', obj({ ...space, activeTransfers: int() }), empty),

  /** The cluster as the master sees it. */
  'cluster.nodes': message(
    'anyone',
    empty,
    obj({
      nodes: array(
        obj({
          nodeId,
          advertise: address,
          state: literal('alive', 'dead'),
          ...space,
          lastSeenMs: int(),
          connected: bool(),
        }),
      ),
    }),
  ),
} satisfies Record<string, MessageSpec<unknown, unknown>>;

export type Messages = typeof MESSAGES;
export type MessageType = keyof Messages;
export type RequestOf<T extends MessageType> = Infer<Messages[T]['request']>;
export type ResponseOf<T extends MessageType> = Infer<Messages[T]['response']>;

export function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(MESSAGES, value);
}
