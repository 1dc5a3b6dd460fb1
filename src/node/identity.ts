// A node's membership: the key, the CA-signed certificate and the node id it got when it joined,
// kept in its data dir so a restart rejoins as the same node without the token.

import * as path from 'node:path';
import { createCsr } from '../trust/ca';
import type { HostPort } from '../wire/address';
import { DfsError } from '../wire/errors';
import { connectPinned, connectTls, MASTER_CN } from '../trust/tls';
import { parseJoinToken } from '../trust/token';
import { readFileIfExists, writeFileAtomic } from '../store/files';
import type { Log } from '../log';

export const NODE_IDENTITY_FILE = 'node-identity.json';

export interface NodeIdentity {
  nodeId: string;
  keyPem: string;
  certPem: string;
  caPem: string;
}

export async function loadNodeIdentity(dataDir: string): Promise<NodeIdentity | undefined> {
  const file = path.join(dataDir, NODE_IDENTITY_FILE);
  const text = await readFileIfExists(file);
  if (text === undefined) return undefined;
  const parsed = JSON.parse(text) as Partial<NodeIdentity>;
  const { nodeId, keyPem, certPem, caPem } = parsed;
  if (typeof nodeId !== 'string' || typeof keyPem !== 'string' || typeof certPem !== 'string' || typeof caPem !== 'string') {
    throw new DfsError('INTERNAL', `${file} is damaged: remove it and join again with --token`);
  }
  return { nodeId, keyPem, certPem, caPem };
}

export interface JoinOptions {
  master: HostPort;
  tokenText: string;
  /** With --ca the master is verified against it; otherwise against the digest in the token. */
  caPem: string | undefined;
  /** The address to put in the certificate; undefined means "the address the master sees us on". */
  advertiseHost: string | undefined;
  dataDir: string;
  log: Log;
}

export async function joinCluster(options: JoinOptions): Promise<NodeIdentity> {
  const token = parseJoinToken(options.tokenText);
  const { channel, caPem } = options.caPem
    ? { channel: await connectTls({ address: options.master, caPem: options.caPem, expectCommonName: MASTER_CN }), caPem: options.caPem }
    : await connectPinned(options.master, token.caDigest);
  try {
    const csr = createCsr('dfs node');
    const host = options.advertiseHost ?? channel.localHost;
    const response = await channel.request('join', { secret: token.secret, csrPem: csr.csrPem, host });
    // The CA we verified the master with is the one we keep, whatever the response claims.
    const identity: NodeIdentity = { nodeId: response.data.nodeId, keyPem: csr.keyPem, certPem: response.data.certPem, caPem };
    await writeFileAtomic(path.join(options.dataDir, NODE_IDENTITY_FILE), JSON.stringify(identity, null, 2), 0o600);
    options.log.info(`joined the cluster as ${identity.nodeId}`);
    return identity;
  } finally {
    channel.close();
  }
}
