// The cluster dashboard (Tab): every storage node's state and usage as a bar, the cluster's totals,
// the files' health from fsck (under-replicated, missing, damaged), and a blessed-contrib line chart of transfer rates over time — bytes the cluster stored per
// second (growth of the nodes' used space, replication included) and this client's own transfers.

import * as blessed from 'blessed';
import type { Widgets as ContribWidgets } from 'blessed-contrib';
import line from 'blessed-contrib/lib/widget/charts/line';
import type { ClusterTotal, FsckReport, NodeInfo, RebalanceStatus } from '../client/api';
import { rebalanceText, totalText } from '../shell/format';
import { KIB, MIB } from '../limits';
import { formatSize } from '../units';
import { TUI_RATE_SAMPLES_MAX } from './constants';
import { literal } from './dialogs';
import { lineWidth } from './explorer';
import { fit } from './model';

export interface RateSample {
  atMs: number;
  /** Bytes per second the nodes' used space grew, summed over nodes (deletions count as 0, not less). */
  clusterBytesPerS: number;
  /** Bytes per second this client moved (get and put). */
  clientBytesPerS: number;
}

/** Turns successive node lists and the client's byte count into rate samples, the last N kept. */
export class RateHistory {
  readonly samples: RateSample[] = [];
  private last: { atMs: number; usedBytes: Map<string, number>; clientBytes: number } | undefined;

  /** Samples closer together than `gapMs` are not taken (an extra poll after a key press). */
  constructor(private readonly gapMs: number) {}

  /** `nodes`: each node's used bytes (the admin's view), or the cluster's total under one name (anyone else's). */
  record(atMs: number, nodes: readonly Pick<NodeInfo, 'nodeId' | 'usedBytes'>[], clientBytes: number): void {
    const previous = this.last;
    if (previous && atMs - previous.atMs < this.gapMs) return;
    const usedBytes = new Map(nodes.map((node) => [node.nodeId, node.usedBytes]));
    this.last = { atMs, usedBytes, clientBytes };
    if (!previous) return;
    // Growth per node seen both times: a node that (re)appears, or a master that restarted and
    // hears from its nodes again, is not a transfer.
    let grownBytes = 0;
    for (const [nodeId, used] of usedBytes) grownBytes += Math.max(0, used - (previous.usedBytes.get(nodeId) ?? used));
    const seconds = (atMs - previous.atMs) / 1000;
    this.samples.push({
      atMs,
      clusterBytesPerS: grownBytes / seconds,
      clientBytesPerS: Math.max(0, clientBytes - previous.clientBytes) / seconds,
    });
    if (this.samples.length > TUI_RATE_SAMPLES_MAX) this.samples.shift();
  }
}

const STATE_COLORS: Record<NodeInfo['state'], string> = { alive: 'green', full: 'yellow', stopping: 'yellow', draining: 'yellow', drained: 'blue', 'read-only': 'red', unreachable: 'red', dead: 'red' };



/** One node as a line of `width` characters: id, state, a usage bar, percent, used/capacity, free, blobs. */
export function nodeLine(node: NodeInfo, width: number, idChars: number): { text: string; color: string } {
  const used = node.capacityBytes > 0 ? Math.min(1, node.usedBytes / node.capacityBytes) : 0;
  const figures = `${String(Math.round(used * 100)).padStart(3)}%  ${formatSize(node.usedBytes).padStart(5)}/${formatSize(node.capacityBytes).padEnd(5)} free ${formatSize(node.freeBytes).padStart(5)}  ${node.blobs} blobs`;
  const head = `${fit(node.nodeId, idChars)} ${node.state.padEnd(5)} `;
  const barChars = Math.max(5, width - head.length - figures.length - 3);
  const filled = Math.round(used * barChars);
  return { text: `${head}[${'█'.repeat(filled)}${'░'.repeat(barChars - filled)}] ${figures}`, color: STATE_COLORS[node.state] };
}

function rateUnit(samples: readonly RateSample[]): { name: string; bytes: number } {
  const most = samples.reduce((max, sample) => Math.max(max, sample.clusterBytesPerS, sample.clientBytesPerS), 0);
  return most >= MIB ? { name: 'MiB/s', bytes: MIB } : { name: 'KiB/s', bytes: KIB };
}

/** What the dashboard shows, as last heard from the master. */
export interface ClusterView {
  /** Each node (the admin's view; empty for anyone else). */
  nodes: readonly NodeInfo[] | undefined;
  total: ClusterTotal | undefined;
  /** Why the nodes could not be listed, last time. */
  nodesProblem: string | undefined;
  /** The balancer's last or current run (the admin's). */
  rebalance?: RebalanceStatus | undefined;
  health: FsckReport | undefined;
  healthProblem: string | undefined;
  /** The admin's fsck covers every user's files; anyone else's only their own. */
  admin: boolean;
}

/** "Your files: 12 (1.2G): 11 healthy, 1 under-replicated, 0 missing, 0 damaged; 1 copy being made". */
export function healthSummary(report: FsckReport, admin: boolean): { text: string; color: string | undefined } {
  if (report.safeMode) return { text: 'Files: not judged yet (the master just started and waits for the nodes\' reports)', color: 'yellow' };
  const whose = admin ? 'All files' : 'Your files';
  const copying = report.copying > 0 ? `; ${report.copying} cop${report.copying === 1 ? 'y' : 'ies'} being made` : '';
  const text = `${whose}: ${report.files} (${formatSize(report.bytes)}): ${report.healthy} healthy, ${report.under} under-replicated, ${report.missing} missing, ${report.corrupt} damaged${copying}`;
  return { text, color: report.missing > 0 ? 'red' : report.under + report.corrupt > 0 ? 'yellow' : 'green' };
}

export class DashboardView {
  readonly root: blessed.Widgets.BoxElement;
  private readonly nodesBox: blessed.Widgets.BoxElement;
  private chart: ContribWidgets.LineElement | undefined;
  private cluster: ClusterView | undefined;

  constructor(
    parent: blessed.Widgets.Node,
    private readonly history: RateHistory,
  ) {
    this.root = blessed.box({ parent, top: 1, bottom: 1, left: 0, width: '100%', hidden: true });
    this.nodesBox = blessed.box({
      parent: this.root,
      top: 0,
      left: 0,
      width: '100%',
      height: 6,
      label: ' Cluster ',
      border: { type: 'line' },
      tags: true,
      scrollable: true,
      style: { border: { fg: 'cyan' }, label: { fg: 'cyan', bold: true } },
    });
  }

  /** Lines the nodes box may scroll by (up/down on the dashboard). */
  scroll(lines: number): void {
    this.nodesBox.scroll(lines);
  }

  show(cluster: ClusterView): void {
    this.cluster = cluster;
    this.root.show();
    this.layout();
  }

  hide(): void {
    this.root.hide();
  }

  get visible(): boolean {
    return this.root.visible;
  }

  /** Redraws everything at the current size (after new data or a resize). */
  layout(): void {
    if (!this.root.visible || !this.cluster) return;
    const { nodes, nodesProblem } = this.cluster;
    const rootHeight = Number(this.root.height);
    const width = lineWidth(this.nodesBox) - 2;
    const lines = [...this.summaryLines(width), ''];
    const idChars = Math.min(16, Math.max(4, ...(nodes ?? []).map((node) => node.nodeId.length)));
    for (const node of nodes ?? []) {
      const { text, color } = nodeLine(node, width, idChars);
      lines.push(`{${color}-fg}${literal(text)}{/${color}-fg}`);
    }
    if (this.cluster.total?.nodes === 0) lines.push('no storage nodes have registered');
    // Above the last known state, which stays shown.
    if (nodesProblem !== undefined) lines.unshift(`{red-fg}${literal(fit(nodesProblem, width).trimEnd())}{/red-fg}`);
    this.nodesBox.height = Math.max(5, Math.min(lines.length + 2, Math.floor(rootHeight / 2)));
    this.nodesBox.setContent(lines.join('\n'));
    this.drawChart(rootHeight - Number(this.nodesBox.height));
  }

  private summaryLines(width: number): string[] {
    const { total, health, healthProblem, admin } = this.cluster as ClusterView;
    const { rebalance } = this.cluster as ClusterView;
    const lines = [total === undefined ? 'asking the master…' : literal(fit(totalText(total), width).trimEnd())];
    if (rebalance) lines.push(literal(fit(rebalanceText(rebalance), width).trimEnd()));
    if (health) {
      const { text, color } = healthSummary(health, admin);
      const shown = literal(fit(text, width).trimEnd());
      lines.push(color ? `{${color}-fg}${shown}{/${color}-fg}` : shown);
    } else {
      lines.push(healthProblem !== undefined ? `{red-fg}${literal(fit(`files: ${healthProblem}`, width).trimEnd())}{/red-fg}` : 'checking the files…');
    }
    return lines;
  }

  /** The chart is rebuilt at each layout: blessed-contrib sizes its canvas only when attached. */
  private drawChart(height: number): void {
    this.chart?.destroy();
    this.chart = undefined;
    if (height < 6 || Number(this.root.width) < 24) return;
    const unit = rateUnit(this.history.samples);
    const chart = line({
      top: Number(this.nodesBox.height),
      left: 0,
      width: '100%',
      height,
      label: ` Transfer rates (${unit.name}) `,
      border: { type: 'line' },
      showLegend: true,
      legend: { width: 18 },
      xPadding: 4,
      style: { line: 'yellow', text: 'green', baseline: 'white', border: { fg: 'cyan' } },
    } as ContribWidgets.LineOptions);
    this.root.append(chart);
    this.chart = chart;
    const samples = this.history.samples.length > 0 ? this.history.samples : [{ atMs: Date.now(), clusterBytesPerS: 0, clientBytesPerS: 0 }];
    const newest = samples[samples.length - 1]?.atMs ?? 0;
    const labels = samples.map((sample) => {
      const seconds = Math.round((newest - sample.atMs) / 1000);
      return seconds === 0 ? 'now' : `-${seconds}s`;
    });
    const series = (pick: (sample: RateSample) => number): number[] => samples.map((sample) => pick(sample) / unit.bytes);
    const most = samples.reduce((max, sample) => Math.max(max, sample.clusterBytesPerS, sample.clientBytesPerS), 0) / unit.bytes;
    chart.options.maxY = Math.max(1, most * 1.25);
    chart.setData([
      { title: 'cluster stored', x: labels, y: series((sample) => sample.clusterBytesPerS), style: { line: 'yellow' } },
      { title: 'this client', x: labels, y: series((sample) => sample.clientBytesPerS), style: { line: 'magenta' } },
    ]);
  }
}
