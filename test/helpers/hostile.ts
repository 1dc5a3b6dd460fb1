// An attacker's tools against real `build/dfs` processes: connections from any loopback address (127.0.0.0/8 is
// all local on Linux, so each address is another "source"), floods of requests with their outcomes counted by
// code, a process's resident memory, and how long a logged-in user's request takes meanwhile.

import { promises as fs } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Test } from 'tap';
import { FRAME_BYTES_MAX } from '../../src/limits';
import type { HostPort } from '../../src/wire/address';
import type { Channel } from '../../src/wire/channel';
import { isDfsError } from '../../src/wire/errors';
import { FRAME_HEADER_BYTES, FRAME_MAGIC, FRAME_VERSION } from '../../src/wire/frame';
import { connectTls, MASTER_CN } from '../../src/trust/tls';

/** A frame header announcing `payloadBytes` of JSON. */
export function frameHeader(payloadBytes: number): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES);
  frame.writeUInt16BE(FRAME_MAGIC, 0);
  frame.writeUInt8(FRAME_VERSION, 2);
  frame.writeUInt32BE(payloadBytes, 4);
  return frame;
}

/** All but the last byte of a frame announcing FRAME_BYTES_MAX, written in 64 KiB pieces as fast as the server
 * takes them (the attacker buffers nothing of its own). */
export function allButLastByte(socket: TLSSocket): void {
  socket.write(frameHeader(FRAME_BYTES_MAX));
  const piece = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const more = (): void => {
    while (sent + piece.length < FRAME_BYTES_MAX && !socket.destroyed) {
      sent += piece.length;
      if (!socket.write(piece)) return void socket.once('drain', more);
    }
    if (!socket.destroyed) socket.write(piece.subarray(0, FRAME_BYTES_MAX - sent - 1));
  };
  more();
}

/** A TLS connection from `source` that runs `write` once connected, reads what the server says, and resolves once
 * the server closes it (or after `holdMs`, then closing it itself). */
export function attack(address: HostPort, source: string, write: (socket: TLSSocket) => void, holdMs: number): Promise<'closed by the server' | 'still open'> {
  return new Promise((resolve) => {
    // tls.connect hands localAddress to net.connect; its typings leave it out.
    const options = { host: address.host, port: address.port, localAddress: source, rejectUnauthorized: false };
    const socket = tlsConnect(options, () => write(socket));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('still open');
    }, holdMs);
    socket.on('error', () => undefined);
    socket.resume(); // reads what the server says (its refusal), so its close is seen
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed by the server');
    });
  });
}

/** A TLS connection to the master from `source` (a 127.x.y.z address), closed at teardown. */
export async function connectFrom(t: Test, master: HostPort, caPem: string, source = '127.0.0.1'): Promise<Channel> {
  const channel = await connectTls({ address: master, caPem, expectCommonName: MASTER_CN, localAddress: source });
  t.teardown(() => channel.close());
  return channel;
}

/** The n-th loopback address of a /16 block other tests do not use: 127.<block>.<n / 250>.<n % 250 + 1>. */
export function loopback(block: number, n: number): string {
  return `127.${block}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}

/** How a batch of requests ended: count per outcome ('OK' or the DfsError code). */
export async function outcomes(requests: Promise<unknown>[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const result of await Promise.allSettled(requests)) {
    const key = result.status === 'fulfilled' ? 'OK' : isDfsError(result.reason) ? result.reason.code : String(result.reason);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** A process's resident memory in MB (VmRSS). */
export async function rssMb(pid: number | undefined): Promise<number> {
  const status = await fs.readFile(`/proc/${pid ?? 0}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** How long `work` takes, in ms. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
