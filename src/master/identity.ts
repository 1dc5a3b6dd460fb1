// The master's trust material in its data dir: the cluster CA, its own server certificate, the join
// token. Created once, reused on every start.

import { randomBytes, X509Certificate } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { caDigest, createCa, issueServerIdentity, type KeyCert } from '../trust/ca';
import { isWildcard } from '../wire/address';
import { DfsError } from '../wire/errors';
import { BACKUP_FILES } from '../wire/messages';
import { MASTER_CN, type TlsIdentity } from '../trust/tls';
import { createTicketKey } from '../trust/ticket';
import { createJoinToken, formatJoinToken, parseJoinToken, type JoinToken } from '../trust/token';
import { readFileIfExists, writeFileAtomic } from '../store/files';
import type { Log } from '../log';

export const MASTER_FILES = {
  caCert: 'ca.pem',
  caKey: 'ca-key.pem',
  serverCert: 'master-cert.pem',
  serverKey: 'master-key.pem',
  joinToken: 'join-token',
  adminPassword: 'admin-password',
  ticketKey: 'ticket-key',
} as const;

// A backup (backup.ts) carries the identity's files but the admin password's (the catalog holds its hash).
for (const name of BACKUP_FILES) {
  if (!(Object.values(MASTER_FILES) as string[]).includes(name)) throw new Error(`identity: the backup's ${name} is not a master file`);
}

export interface MasterIdentity {
  ca: KeyCert;
  tls: TlsIdentity;
  joinToken: JoinToken;
  /** The HMAC key of data-plane tickets, shared with nodes when they register. */
  ticketKey: Buffer;
}

const SECRET = 0o600;

export async function loadOrCreateMasterIdentity(dataDir: string, hosts: string[], log: Log): Promise<MasterIdentity> {
  const file = (name: string): string => path.join(dataDir, name);
  const ca = (await readCa(file)) ?? (await createAndStoreCa(file, log));
  const server = await loadOrIssueServer(file, ca, hosts, log);
  const joinToken = await loadOrCreateToken(file, ca);
  const ticketKey = await loadOrCreateTicketKey(file(MASTER_FILES.ticketKey));
  return { ca, tls: { ...server, caPem: ca.certPem }, joinToken, ticketKey };
}

/** The ticket key, as base64url text in a 0600 file; made at first start. */
async function loadOrCreateTicketKey(keyFile: string): Promise<Buffer> {
  const text = await readFileIfExists(keyFile);
  if (text !== undefined) {
    const key = Buffer.from(text.trim(), 'base64url');
    if (key.length < 32) throw new DfsError('INTERNAL', `${keyFile} holds no valid ticket key: remove it to make a new one`);
    return key;
  }
  const key = createTicketKey();
  await writeFileAtomic(keyFile, `${key.toString('base64url')}\n`, SECRET);
  return key;
}

async function readCa(file: (name: string) => string): Promise<KeyCert | undefined> {
  const certPem = await readFileIfExists(file(MASTER_FILES.caCert));
  const keyPem = await readFileIfExists(file(MASTER_FILES.caKey));
  if (certPem === undefined) return undefined; // first start, or one that died before the CA was whole
  if (keyPem === undefined) {
    throw new DfsError('INTERNAL', `${file(MASTER_FILES.caKey)} is missing but ${MASTER_FILES.caCert} exists: restore the CA key from a backup`);
  }
  return { certPem, keyPem };
}

async function createAndStoreCa(file: (name: string) => string, log: Log): Promise<KeyCert> {
  const ca = createCa(`dfs cluster CA ${randomBytes(4).toString('hex')}`);
  // Key first: a certificate on disk always has its key beside it.
  await writeFileAtomic(file(MASTER_FILES.caKey), ca.keyPem, SECRET);
  await writeFileAtomic(file(MASTER_FILES.caCert), ca.certPem, SECRET);
  log.info(`created cluster CA in ${file(MASTER_FILES.caCert)}`);
  return ca;
}

/** Reissues the server certificate whenever it does not cover every address the master is known by. */
async function loadOrIssueServer(file: (name: string) => string, ca: KeyCert, hosts: string[], log: Log): Promise<KeyCert> {
  const certPem = await readFileIfExists(file(MASTER_FILES.serverCert));
  const keyPem = await readFileIfExists(file(MASTER_FILES.serverKey));
  if (certPem !== undefined && keyPem !== undefined && coversHosts(certPem, ca.certPem, hosts)) return { certPem, keyPem };
  const server = issueServerIdentity(ca, { commonName: MASTER_CN, hosts });
  await writeFileAtomic(file(MASTER_FILES.serverKey), server.keyPem, SECRET);
  await writeFileAtomic(file(MASTER_FILES.serverCert), server.certPem);
  log.info(`issued master certificate for ${hosts.join(', ')}`);
  return server;
}

function coversHosts(certPem: string, caPem: string, hosts: string[]): boolean {
  const cert = new X509Certificate(certPem);
  if (!cert.checkIssued(new X509Certificate(caPem))) return false;
  if (Date.parse(cert.validTo) - Date.now() < 30 * 24 * 3600 * 1000) return false;
  const names = cert.subjectAltName ?? '';
  return hosts.every((host) => names.includes(`:${host}`));
}

/** A new join token in place of the old one (which then joins nothing), written before it is used. */
export async function rotateJoinToken(dataDir: string, identity: MasterIdentity): Promise<void> {
  const token = createJoinToken(caDigest(identity.ca.certPem));
  await writeFileAtomic(path.join(dataDir, MASTER_FILES.joinToken), `${formatJoinToken(token)}\n`, SECRET);
  identity.joinToken = token;
}

async function loadOrCreateToken(file: (name: string) => string, ca: KeyCert): Promise<JoinToken> {
  const text = await readFileIfExists(file(MASTER_FILES.joinToken));
  const digest = caDigest(ca.certPem);
  if (text !== undefined) {
    const token = parseJoinToken(text);
    if (token.caDigest === digest) return token;
  }
  const token = createJoinToken(digest);
  await writeFileAtomic(file(MASTER_FILES.joinToken), `${formatJoinToken(token)}\n`, SECRET);
  return token;
}

/** Every address a client may use to reach the master, for the certificate's SAN. */
export function masterHosts(listenHost: string, advertiseHost: string | undefined): string[] {
  const hosts = new Set<string>([os.hostname()]);
  if (advertiseHost) hosts.add(advertiseHost);
  if (!isWildcard(listenHost)) hosts.add(listenHost);
  else {
    for (const addresses of Object.values(os.networkInterfaces())) {
      for (const entry of addresses ?? []) hosts.add(entry.address.replace(/%.*$/, ''));
    }
  }
  return [...hosts].sort();
}
