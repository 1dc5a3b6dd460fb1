// Logging in: which master (HOST:PORT, else DFS_MASTER), which CA (trust.ts), which user
// (--user, DFS_USER, default shared) with which password (DFS_PASSWORD or a hidden prompt; none
// for shared), then connectCluster and whoami. Network and prompts are passed in for tests.

import type { ClusterApi, Identity } from '../client/api';
import { formatHostPort, parseHostPort, type HostPort } from '../wire/address';
import { DfsError } from '../wire/errors';
import type { Prompter } from './context';
import { resolveTrustedCa, trustHome } from './trust';

export const SHARED_USER = 'shared';

export interface ConnectClusterOptions {
  address: HostPort;
  caPem: string;
  user: string;
  password: string | undefined;
}

export type ConnectCluster = (options: ConnectClusterOptions) => Promise<ClusterApi>;
export type FetchPresentedCa = (address: HostPort) => Promise<string>;

export interface SessionOptions {
  /** The positional HOST:PORT. */
  address: string | undefined;
  /** The command the user ran, for the hint when no master is given (default `shell`). */
  command?: 'shell' | 'tui';
  /** --ca FILE. */
  caFile: string | undefined;
  /** --user NAME. */
  user: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  /** Hidden password prompts; undefined when stdin is not a terminal. */
  prompter: Prompter | undefined;
  /** stdin and stdout are both terminals: trust on first use may ask. */
  interactive: boolean;
  /** Messages for the person (trust on first use), written to stderr. */
  notice(text: string): void;
  connect?: ConnectCluster;
  fetchPresentedCa?: FetchPresentedCa;
}

export interface Session {
  api: ClusterApi;
  address: HostPort;
  identity: Identity;
  /** The login needed no password. */
  passwordless: boolean;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

async function connectOverTls(options: ConnectClusterOptions): Promise<ClusterApi> {
  const { connectCluster } = await import('../client/client.js');
  return connectCluster(options);
}

async function fetchCaOverTls(address: HostPort): Promise<string> {
  const { fetchPresentedCa } = await import('../trust/tls.js');
  return fetchPresentedCa(address);
}

async function loginPassword(user: string, address: HostPort, options: SessionOptions): Promise<string | undefined> {
  if (user === SHARED_USER) return undefined;
  const fromEnv = options.env.DFS_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  if (!options.prompter) {
    throw new DfsError('UNAUTHENTICATED', `no password for ${user}: set DFS_PASSWORD to log in without a terminal`);
  }
  return options.prompter.hidden(`Password for ${user}@${formatHostPort(address)}: `);
}

export async function openSession(options: SessionOptions): Promise<Session> {
  const addressText = nonEmpty(options.address) ?? nonEmpty(options.env.DFS_MASTER);
  if (addressText === undefined) throw new DfsError('BAD_REQUEST', `no master given: dfs ${options.command ?? 'shell'} HOST:PORT or DFS_MASTER`);
  const address = parseHostPort(addressText);
  const prompter = options.prompter;
  const caPem = await resolveTrustedCa({
    address,
    caFile: nonEmpty(options.caFile) ?? nonEmpty(options.env.DFS_CA),
    home: trustHome(options.env),
    fetchPresentedCa: options.fetchPresentedCa ?? fetchCaOverTls,
    confirm: options.interactive && prompter ? async (question) => /^\s*y(es)?\s*$/i.test(await prompter.visible(question)) : undefined,
    notice: options.notice,
  });
  const user = nonEmpty(options.user) ?? nonEmpty(options.env.DFS_USER) ?? SHARED_USER;
  const password = await loginPassword(user, address, options);
  const api = await (options.connect ?? connectOverTls)({ address, caPem, user, password });
  try {
    return { api, address, identity: await api.whoami(), passwordless: password === undefined || password === '' };
  } catch (error) {
    api.close();
    throw error;
  }
}
