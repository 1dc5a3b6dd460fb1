// TLS for every dfs connection: servers that tell members (CA-signed certificates) from anonymous
// clients, clients that verify the master against the cluster CA, and the one unverified-CA connect
// a joining node makes, pinned to the CA digest its join token carries.

import { createHash, X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as tls from 'node:tls';
import { CONNECT_TIMEOUT_MS } from '../limits';
import type { Socket } from 'node:net';
import { formatHostPort, type HostPort } from '../wire/address';
import { Admission, admissionLimits, type Displacement } from '../wire/admission';
import { Channel, type Peer, type Service } from '../wire/channel';
import { NODE_CN_PREFIX } from './ca';
import { DfsError } from '../wire/errors';

export const MASTER_CN = 'dfs-master';

export interface TlsIdentity {
  keyPem: string;
  certPem: string;
  caPem: string;
}

export interface TlsServeOptions {
  identity: TlsIdentity;
  service: Service;
  /** Whether peers without a certificate may talk at all (clients on the master: yes). */
  acceptAnonymous: boolean;
  label: string;
  onChannel?: (channel: Channel) => void;
  onBug?: (error: unknown) => void;
  /** The listener's own trouble once it is listening (accept failing for want of descriptors): logged, the
   * server keeps serving the connections it has. */
  onServerError?: (error: Error) => void;
  /** A connection displaced or refused because too many are open (src/wire/admission.ts). */
  onAdmission?: (decision: Displacement) => void;
  /** A peer presented a certificate this cluster's CA did not sign: the connection was refused. */
  onCertificateRefused?: (remote: string) => void;
}

export interface TlsServer {
  address: HostPort;
  channels: Set<Channel>;
  admission: Admission;
  close(): Promise<void>;
}

/** A port held before there is anything to serve on it: connections are refused until `serve`. */
export interface BoundPort {
  address: HostPort;
  serve(options: TlsServeOptions): TlsServer;
  close(): Promise<void>;
}

const TLS_BASE = { minVersion: 'TLSv1.3' as const };

/**
 * Takes the port first, so that a role whose port is taken fails before it creates anything on disk (a CA, keys,
 * an admin password) or joins a cluster. Until `serve` gives it a certificate, every handshake fails.
 */
export function bindTls(listen: HostPort): Promise<BoundPort> {
  const channels = new Set<Channel>();
  const server = tls.createServer({
    ...TLS_BASE,
    requestCert: true,
    rejectUnauthorized: false, // decided per connection below, so refusals can say why
    handshakeTimeout: CONNECT_TIMEOUT_MS,
  });
  // Failed handshakes (plain HTTP, random bytes, bad certificates, or anything before `serve`) only cost that socket.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  let onServerError: ((error: Error) => void) | undefined;
  const serve = (address: HostPort, options: TlsServeOptions): TlsServer => {
    const { identity } = options;
    server.setSecureContext({
      key: identity.keyPem,
      cert: identity.certPem + identity.caPem, // send the chain so pinned joins can check the CA
      ca: identity.caPem,
    });
    const admission = new Admission(admissionLimits(), options.onAdmission);
    // Counted from the first TCP byte, before any TLS work: strangers that never finish a handshake count too.
    server.on('connection', (socket: Socket) => admission.admit(socket));
    server.on('secureConnection', (socket) => {
      const channel = acceptChannel(socket, options);
      if (!channel) return;
      const raw = rawSocketOf(socket);
      if (channel.trusted !== undefined) admission.trusted(raw, channel.trusted);
      channel.on('trusted', (principal: string) => admission.trusted(raw, principal));
      channels.add(channel);
      channel.on('close', () => channels.delete(channel));
      channel.on('bug', (error: unknown) => options.onBug?.(error));
      options.onChannel?.(channel);
    });
    onServerError = options.onServerError;
    return { address, channels, admission, close: () => closeServer(server, channels) };
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      server.on('error', (error: Error) => onServerError?.(error));
      const bound = server.address();
      const address = { host: listen.host, port: typeof bound === 'object' && bound ? bound.port : listen.port };
      resolve({ address, serve: (options) => serve(address, options), close: () => closeServer(server, channels) });
    });
  });
}

/** The TCP socket under a server-side TLS socket: the one admission counted when it connected. */
function rawSocketOf(socket: tls.TLSSocket): Socket {
  return (socket as tls.TLSSocket & { _parent?: Socket })._parent ?? socket;
}

function acceptChannel(socket: tls.TLSSocket, options: TlsServeOptions): Channel | undefined {
  socket.setNoDelay(true);
  const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const presented = Object.keys(socket.getPeerCertificate()).length > 0;
  const peer = peerOf(socket);
  const channel = new Channel(socket, { peer, service: options.service, label: remote, ...socketHosts(socket) });
  if (presented && !socket.authorized) {
    channel.failWithNotice(new DfsError('UNAUTHENTICATED', 'certificate not signed by this cluster\'s CA'));
    options.onCertificateRefused?.(remote);
    return undefined;
  }
  if (peer.kind === 'anonymous' && !options.acceptAnonymous) {
    channel.failWithNotice(
      new DfsError('UNAUTHENTICATED', `${options.label} serves cluster members only: present a certificate signed by the cluster CA`),
    );
    return undefined;
  }
  return channel;
}

function peerOf(socket: tls.TLSSocket): Peer {
  if (!socket.authorized) return { kind: 'anonymous' };
  const commonName = socket.getPeerCertificate().subject?.CN;
  if (typeof commonName === 'string' && commonName.startsWith(NODE_CN_PREFIX)) {
    return { kind: 'node', nodeId: commonName.slice(NODE_CN_PREFIX.length) };
  }
  if (commonName === MASTER_CN) return { kind: 'master' };
  return { kind: 'anonymous' };
}

async function closeServer(server: tls.Server, channels: Set<Channel>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const channel of channels) channel.close(new DfsError('UNAVAILABLE', 'server shutting down'));
  await closed;
}

export interface ConnectOptions {
  address: HostPort;
  caPem: string;
  /** A member's own certificate, for mutual TLS. */
  identity?: { keyPem: string; certPem: string };
  /** Check this common name instead of the host name (node certificates name the node, not a host). */
  expectCommonName?: string;
  service?: Service;
  timeoutMs?: number;
  /** The local address to connect from (a host with several). */
  localAddress?: string;
}

/** Client contexts by their PEMs: parsing the CA, key and certificate for every connection cost more CPU than
 * a resumed handshake. A few identities at most (a certificate renewal adds one). */
const clientContexts = new Map<string, tls.SecureContext>();
const CLIENT_CONTEXTS_MAX = 8;

function clientContext(caPem: string, identity: { keyPem: string; certPem: string } | undefined): tls.SecureContext {
  const key = `${caPem}\0${identity?.keyPem ?? ''}\0${identity?.certPem ?? ''}`;
  let context = clientContexts.get(key);
  if (context === undefined) {
    context = tls.createSecureContext({ ...TLS_BASE, ca: caPem, ...(identity ? { key: identity.keyPem, cert: identity.certPem } : {}) });
    if (clientContexts.size >= CLIENT_CONTEXTS_MAX) clientContexts.clear();
    clientContexts.set(key, context);
  }
  return context;
}

export async function connectTls(options: ConnectOptions): Promise<Channel> {
  const { address, expectCommonName } = options;
  const socket = await openSocket(address, {
    secureContext: clientContext(options.caPem, options.identity),
    rejectUnauthorized: true,
    ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    checkServerIdentity: (host, cert) => {
      if (expectCommonName === undefined) return tls.checkServerIdentity(host, cert);
      if (cert.subject?.CN === expectCommonName) return undefined;
      return new Error(`expected certificate of ${expectCommonName}, got ${String(cert.subject?.CN)}`);
    },
  }, options.timeoutMs);
  const peer: Peer = expectCommonName?.startsWith(NODE_CN_PREFIX)
    ? { kind: 'node', nodeId: expectCommonName.slice(NODE_CN_PREFIX.length) }
    : { kind: 'master' };
  return new Channel(socket, { peer, ...(options.service ? { service: options.service } : {}), label: formatHostPort(address), ...socketHosts(socket) });
}

/**
 * Connects without knowing the CA, then accepts the server only if the CA it presents has the
 * SHA-256 digest the join token carries and really issued the server's certificate.
 */
export async function connectPinned(address: HostPort, caDigest: string, timeoutMs?: number): Promise<{ channel: Channel; caPem: string }> {
  const socket = await openSocket(address, { rejectUnauthorized: false }, timeoutMs);
  try {
    const caPem = verifyPinnedChain(socket.getPeerCertificate(true), caDigest);
    const channel = new Channel(socket, { peer: { kind: 'master' }, label: formatHostPort(address), ...socketHosts(socket) });
    return { channel, caPem };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/**
 * Trust on first use: the CA certificate a master presents, checked only for consistency (it issued
 * the master's certificate). The caller shows its fingerprint to a person before trusting it.
 */
export async function fetchPresentedCa(address: HostPort, timeoutMs?: number): Promise<string> {
  const socket = await openSocket(address, { rejectUnauthorized: false }, timeoutMs);
  try {
    return verifyPinnedChain(socket.getPeerCertificate(true), undefined);
  } finally {
    socket.destroy();
  }
}

function verifyPinnedChain(leaf: tls.DetailedPeerCertificate, caDigest: string | undefined): string {
  const issuer: PeerCertificate | undefined = leaf.issuerCertificate;
  if (!leaf.raw || !issuer?.raw || issuer === leaf) {
    throw new DfsError('UNAUTHENTICATED', 'the master did not present its CA certificate');
  }
  const digest = createHash('sha256').update(issuer.raw).digest('hex');
  if (caDigest !== undefined && digest !== caDigest.toLowerCase()) {
    throw new DfsError('UNAUTHENTICATED', 'the master\'s CA does not match the join token (wrong master or wrong token)');
  }
  const ca = new X509Certificate(issuer.raw);
  const server = new X509Certificate(leaf.raw);
  if (!ca.ca || !server.checkIssued(ca) || !server.verify(ca.publicKey)) {
    throw new DfsError('UNAUTHENTICATED', 'the master\'s certificate is not issued by the CA in the join token');
  }
  return ca.toString();
}

function openSocket(address: HostPort, options: tls.ConnectionOptions, timeoutMs = CONNECT_TIMEOUT_MS): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const servername = /^[\d.]+$|:/.test(address.host) ? undefined : address.host;
    const socket = tls.connect({ ...TLS_BASE, ...options, host: address.host, port: address.port, ...(servername ? { servername } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DfsError('UNAVAILABLE', `cannot reach ${formatHostPort(address)}: no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new DfsError('UNAVAILABLE', `cannot reach ${formatHostPort(address)}: ${describeSocketError(error)}`));
    });
  });
}

function socketHosts(socket: tls.TLSSocket): { remoteHost: string; localHost: string } {
  return { remoteHost: socket.remoteAddress ?? 'unknown', localHost: socket.localAddress ?? 'unknown' };
}

function describeSocketError(error: NodeJS.ErrnoException): string {
  if (error.code === 'ECONNREFUSED') return 'connection refused (is it running, and is the port right?)';
  if (error.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || error.code === 'SELF_SIGNED_CERT_IN_CHAIN' || error.code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
    return 'its certificate is not signed by the CA given (--ca); wrong cluster?';
  }
  if (error.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `its certificate does not name this address: ${error.message}`;
  return error.message;
}
