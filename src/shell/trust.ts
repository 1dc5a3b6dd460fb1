// Which cluster CA the shell trusts for a master: --ca / DFS_CA, else one remembered on first use
// in ~/.dfs/known_masters (env DFS_HOME moves ~/.dfs), like ssh's known_hosts. The file has lines
// `HOST:PORT <sha-256 of the CA certificate, hex>`; the certificates are kept as cas/<hex>.pem.
// A master that presents a different CA than the remembered one is refused, loudly.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatHostPort, type HostPort } from '../wire/address';
import { caDigest, fingerprint } from '../trust/ca';
import { DfsError } from '../wire/errors';

export interface TrustOptions {
  address: HostPort;
  /** --ca or DFS_CA. */
  caFile: string | undefined;
  /** The directory holding known_masters and cas/ (DFS_HOME, else ~/.dfs). */
  home: string;
  /** The CA certificate the master presents (tls.fetchPresentedCa outside tests). */
  fetchPresentedCa(address: HostPort): Promise<string>;
  /** Asks a yes/no question; undefined when stdin and stdout are not both terminals. */
  confirm: ((question: string) => Promise<boolean>) | undefined;
  /** Tells the person what happened (stderr). */
  notice(text: string): void;
}

export function trustHome(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env.DFS_HOME;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : path.join(os.homedir(), '.dfs');
}

export function knownMastersFile(home: string): string {
  return path.join(home, 'known_masters');
}

/** The remembered CA digests by HOST:PORT; comments, blank and malformed lines are skipped. */
export function parseKnownMasters(text: string): Map<string, string> {
  const known = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [address, digest, ...rest] = line.trim().split(/\s+/);
    if (address === undefined || address.startsWith('#') || rest.length > 0) continue;
    if (digest !== undefined && /^[0-9a-f]{64}$/.test(digest)) known.set(address, digest);
  }
  return known;
}

async function readKnownMasters(home: string): Promise<Map<string, string>> {
  try {
    return parseKnownMasters(await fs.readFile(knownMastersFile(home), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new DfsError('BAD_REQUEST', `cannot read ${knownMastersFile(home)}: ${(error as Error).message}`);
  }
}

/** The PEM of the CA to verify the master with, or an error saying what to do. */
export async function resolveTrustedCa(options: TrustOptions): Promise<string> {
  if (options.caFile !== undefined) return readCaFile(options.caFile);
  const key = formatHostPort(options.address);
  const remembered = (await readKnownMasters(options.home)).get(key);
  if (remembered !== undefined) return checkRememberedCa(options, key, remembered);
  if (!options.confirm) {
    throw new DfsError(
      'UNAUTHENTICATED',
      `no CA to verify the master ${key} with: pass --ca FILE (or set DFS_CA); the CA is ca.pem in the master's data dir. ` +
        'An interactive shell can instead trust it on first use.',
    );
  }
  return trustOnFirstUse(options, key, options.confirm);
}

async function readCaFile(file: string): Promise<string> {
  try {
    const pem = await fs.readFile(file, 'utf8');
    fingerprint(pem);
    return pem;
  } catch (error) {
    const reason = error instanceof DfsError || (error as NodeJS.ErrnoException).code !== undefined ? (error as Error).message : 'not a PEM certificate';
    throw new DfsError('BAD_REQUEST', `cannot use CA file ${file}: ${reason}`);
  }
}

async function checkRememberedCa(options: TrustOptions, key: string, remembered: string): Promise<string> {
  const pemFile = path.join(options.home, 'cas', `${remembered}.pem`);
  let pem: string;
  try {
    pem = await fs.readFile(pemFile, 'utf8');
    if (caDigest(pem) !== remembered) throw new Error('its digest does not match');
  } catch (error) {
    throw new DfsError(
      'UNAUTHENTICATED',
      `the CA remembered for ${key} (${pemFile}) is unusable: ${(error as Error).message}; ` +
        `remove the line for ${key} from ${knownMastersFile(options.home)} and connect again, or pass --ca FILE`,
    );
  }
  const presented = await options.fetchPresentedCa(options.address);
  if (caDigest(presented) !== remembered) throw changedCaError(options, key, pem, presented);
  return pem;
}

function changedCaError(options: TrustOptions, key: string, rememberedPem: string, presentedPem: string): DfsError {
  const lines = [
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    `@    WARNING: THE CLUSTER CA OF ${key} HAS CHANGED!`,
    '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@',
    'Someone could be intercepting your connection, or the master was re-created with a new CA.',
    `Remembered CA fingerprint (SHA-256): ${fingerprint(rememberedPem)}`,
    `Presented CA fingerprint (SHA-256):  ${fingerprint(presentedPem)}`,
    `If the change is expected, remove the line for ${key} from ${knownMastersFile(options.home)},`,
    'or pass --ca with the master\'s ca.pem. Refusing to connect.',
  ];
  return new DfsError('UNAUTHENTICATED', lines.join('\n'));
}

async function trustOnFirstUse(options: TrustOptions, key: string, confirm: (question: string) => Promise<boolean>): Promise<string> {
  const pem = await options.fetchPresentedCa(options.address);
  options.notice(
    `The authenticity of the dfs master ${key} can't be established.\n` +
      `Its cluster CA certificate has the SHA-256 fingerprint\n  ${fingerprint(pem)}\n` +
      'Compare it with: openssl x509 -noout -fingerprint -sha256 -in ca.pem (in the master\'s data dir)\n',
  );
  if (!(await confirm('Trust this cluster CA? [y/N] '))) {
    throw new DfsError('UNAUTHENTICATED', `not trusted; nothing was saved. Pass --ca FILE to connect to ${key} without the question`);
  }
  await rememberCa(options.home, key, pem);
  options.notice(`Remembered the CA of ${key} in ${knownMastersFile(options.home)}\n`);
  return pem;
}

export async function rememberCa(home: string, key: string, pem: string): Promise<void> {
  const digest = caDigest(pem);
  await fs.mkdir(path.join(home, 'cas'), { recursive: true, mode: 0o700 });
  await fs.writeFile(path.join(home, 'cas', `${digest}.pem`), pem, { mode: 0o600 });
  await fs.appendFile(knownMastersFile(home), `${key} ${digest}\n`, { mode: 0o600 });
}
