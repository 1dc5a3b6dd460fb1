// Connections kept open between transfers. A TLS handshake costs an RSA signature on each side that
// presents a certificate — more than a small file's bytes — so clients and nodes reuse an idle
// connection to the same node instead of opening one per blob. One request at a time per connection;
// only a connection whose work succeeded goes back (a failed one may hold half a body); idle ones close
// after POOL_IDLE_MS and never keep the process alive.

import { POOL_IDLE_MS, POOL_IDLE_PER_PEER_MAX } from '../limits';
import type { Channel } from './channel';
import { Interrupted } from './errors';

interface Idle {
  channel: Channel;
  timer: NodeJS.Timeout;
}

export class ChannelPool {
  private readonly idle = new Map<string, Idle[]>();
  private readonly busy = new Set<Channel>();
  private closed = false;
  private interrupted = false;

  /** Runs `work` on an idle connection to `key` (or a new one from `open`); keeps it if `work` succeeded. */
  async use<T>(key: string, open: () => Promise<Channel>, work: (channel: Channel) => Promise<T>): Promise<T> {
    if (this.interrupted) throw new Interrupted();
    const channel = this.take(key) ?? (await open());
    if (this.interrupted) {
      channel.close();
      throw new Interrupted();
    }
    channel.keepProcessAlive(true);
    this.busy.add(channel);
    let result: T;
    try {
      result = await work(channel);
    } catch (error) {
      channel.close();
      throw this.interrupted ? new Interrupted() : error;
    } finally {
      this.busy.delete(channel);
    }
    this.give(key, channel);
    return result;
  }

  /** Breaks the connections at work (their work fails with Interrupted) and refuses new work until resume(). */
  interrupt(): void {
    this.interrupted = true;
    for (const channel of this.busy) channel.close();
  }

  resume(): void {
    this.interrupted = false;
  }

  /** Closes every idle connection; later ones are closed instead of kept. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const { channel, timer } of list) {
      clearTimeout(timer);
      channel.close();
    }
    this.idle.clear();
  }

  private take(key: string): Channel | undefined {
    const list = this.idle.get(key);
    for (let entry = list?.pop(); entry; entry = list?.pop()) {
      clearTimeout(entry.timer);
      if (!entry.channel.closed) return entry.channel;
    }
    return undefined;
  }

  private give(key: string, channel: Channel): void {
    const list = this.idle.get(key) ?? [];
    if (this.closed || channel.closed || list.length >= POOL_IDLE_PER_PEER_MAX) {
      channel.close();
      return;
    }
    channel.keepProcessAlive(false);
    const entry: Idle = {
      channel,
      timer: setTimeout(() => {
        const index = list.indexOf(entry);
        if (index >= 0) list.splice(index, 1);
        channel.close();
      }, POOL_IDLE_MS),
    };
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }
}

/** How to reach nodes by address and id: `work` runs on a pooled connection to one. */
export interface PeerLinks {
  use<T>(address: string, nodeId: string, work: (channel: Channel) => Promise<T>): Promise<T>;
}

export function peerLinks(connect: (address: string, nodeId: string) => Promise<Channel>, pool = new ChannelPool()): PeerLinks {
  return { use: (address, nodeId, work) => pool.use(`${nodeId}@${address}`, () => connect(address, nodeId), work) };
}
