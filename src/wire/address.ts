// HOST:PORT parsing and printing, the one place that knows about IPv6 brackets.

import { isIP } from 'node:net';
import { DfsError } from './errors';

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string, defaultPort?: number): HostPort {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  const plain = /^([^:\s[\]]+)(?::(\d+))?$/.exec(trimmed);
  const match = bracketed ?? plain;
  const host = match?.[1];
  const portText = match?.[2];
  if (!host || (bracketed && isIP(host) !== 6)) throw new DfsError('BAD_REQUEST', `invalid address "${text}": expected HOST:PORT`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (port === undefined) throw new DfsError('BAD_REQUEST', `invalid address "${text}": missing :PORT`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DfsError('BAD_REQUEST', `invalid address "${text}": port must be 0 to 65535`);
  }
  return { host, port };
}

export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for loopback hosts (127.0.0.0/8, ::1, localhost), which only this machine can dial. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host);
}

/** True for wildcard listen hosts, which a peer cannot dial. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}
