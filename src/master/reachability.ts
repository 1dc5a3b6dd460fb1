// Nodes whose advertised address cannot be reached (a wrong --advertise, a firewall, NAT). Such a node heartbeats to
// the master over a link it opened itself, so it looks alive, while every client and chain member sent to it fails.
// Whoever cannot connect to a node says so (a client in file.put.begin, a member in its report of a broken chain);
// the master then probes the node's address itself. A word from outside is never trusted alone — any user could
// take nodes out of service — so only a failed probe marks a node unreachable: no new blobs go there, it is read
// from last, and `nodes` shows it. Unreachable nodes are probed again every UNREACHABLE_PROBE_INTERVAL_MS and
// trusted again once a probe gets through. Probes of one node are at least UNREACHABLE_PROBE_GAP_MS apart, however
// many reports come in.

import { UNREACHABLE_PROBE_GAP_MS, UNREACHABLE_PROBE_INTERVAL_MS } from '../limits';
import type { MasterState, ReachabilityService } from './state';

/** Whether a connection to the node at `address` can be made (a TLS handshake with the node's certificate). */
export type Probe = (nodeId: string, address: string) => Promise<boolean>;

export class Reachability implements ReachabilityService {
  private readonly lastProbeMs = new Map<string, number>();
  private readonly probing = new Set<string>();
  private cancelTimer: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly stateOf: () => MasterState,
    private readonly probe: Probe | undefined,
  ) {}

  start(): void {
    const again = (): void => {
      if (this.stopped) return;
      for (const node of this.stateOf().nodes.list()) if (node.unreachable) void this.check(node.nodeId);
      this.cancelTimer = this.stateOf().clock.after(UNREACHABLE_PROBE_INTERVAL_MS, again);
    };
    this.cancelTimer = this.stateOf().clock.after(UNREACHABLE_PROBE_INTERVAL_MS, again);
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
  }

  /** `reporter` could not connect to the node: the master looks for itself. */
  suspect(nodeId: string, reporter: string): void {
    const node = this.stateOf().nodes.get(nodeId);
    if (!node || node.unreachable) return;
    void this.check(nodeId, reporter);
  }

  private async check(nodeId: string, reporter?: string): Promise<void> {
    const state = this.stateOf();
    const nowMs = state.now();
    if (!this.probe || this.probing.has(nodeId) || nowMs - (this.lastProbeMs.get(nodeId) ?? -Infinity) < UNREACHABLE_PROBE_GAP_MS) return;
    const node = state.nodes.get(nodeId);
    if (!node) return;
    this.probing.add(nodeId);
    this.lastProbeMs.set(nodeId, nowMs);
    const address = node.advertise;
    const reached = await this.probe(nodeId, address).catch(() => false);
    this.probing.delete(nodeId);
    state.log.debug(`probed node ${nodeId} at ${address}: ${reached ? 'reachable' : 'unreachable'}`);
    const now = state.nodes.get(nodeId);
    if (!now || now.advertise !== address || now.unreachable === !reached) return;
    now.unreachable = !reached;
    if (reached) state.log.info(`node ${nodeId} is reachable again at ${address}: new blobs may go there`);
    else state.log.warn(`node ${nodeId} is unreachable at ${address}${reporter ? ` (${reporter} could not connect, nor could the master)` : ''}: no new blobs go there until it can be reached; check its --advertise and firewall`);
  }
}
