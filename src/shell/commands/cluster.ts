// The cluster itself: nodes, fsck, df, and the admin's drain, undrain, forget, token rotate and backup.

import * as path from 'node:path';
import { REBALANCE_THRESHOLD_PCT_DEFAULT } from '../../limits';
import { printable } from '../../printable';
import type { ClusterTotal, FsckReport, NodeInfo } from '../../client/api';
import { resolvePath } from '../../paths';
import { formatSize, parseCount } from '../../units';
import type { ShellCommand } from '../context';
import { CommandFailed, UsageError, usageParse, withReasons } from '../errors';
import { formatTable, rebalanceText, totalText } from '../format';
import { printJson, takeJsonFlag } from '../json';
import { expectOperands, parseFlags } from '../parse';

const NODE_HEADER = ['NODE', 'ADDRESS', 'STATE', 'CAPACITY', 'USED', 'FREE', 'BLOBS'];

function nodeRow(node: NodeInfo): string[] {
  return [
    node.nodeId,
    node.advertise,
    node.state,
    formatSize(node.capacityBytes),
    formatSize(node.usedBytes),
    formatSize(node.freeBytes),
    String(node.blobs),
  ];
}

/** The totals as `nodes --json` and `df --json` print them. */
function totalJson(total: ClusterTotal): Record<string, number> {
  const { nodes: count, alive, full, stopping, draining, drained, readOnly, unreachable, dead, capacityBytes, usedBytes, freeBytes, blobs } = total;
  return { nodes: count, alive, full, stopping, draining, drained, readOnly, unreachable, dead, capacityBytes, usedBytes, freeBytes, blobs };
}

export const nodes: ShellCommand = {
  name: 'nodes',
  usage: 'nodes [--json]',
  summary: 'storage nodes: address, state, capacity, used, free, blobs (the admin); the totals (everyone)',
  details: [
    'Each node\'s address and usage is shown to the admin only; everyone sees the totals.',
    '--json  one JSON document: {"nodes": [{"id", "address", "state", "capacityBytes", "usedBytes", "freeBytes",',
    '        "blobs", "lastSeenMs"}], "total": {"nodes", "alive", "full", "stopping", "draining", "drained",',
    '        "readOnly", "unreachable", "dead", "capacityBytes", "usedBytes", "freeBytes", "blobs"}}',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    const { json, rest } = takeJsonFlag(args);
    expectOperands(parseFlags(rest, '').operands, 0, 0);
    const { nodes: list, total, rebalance: balancing } = await ctx.api.cluster();
    if (json) {
      const nodeJson = (node: NodeInfo): Record<string, string | number> => ({
        id: node.nodeId, address: node.advertise, state: node.state, capacityBytes: node.capacityBytes, usedBytes: node.usedBytes, freeBytes: node.freeBytes, blobs: node.blobs, lastSeenMs: node.lastSeenMs,
      });
      return printJson(out, { nodes: list.map(nodeJson), total: totalJson(total) });
    }
    if (total.nodes === 0) {
      out.stdout('no storage nodes have registered; start one with: dfs node --master HOST:PORT --token-file join-token --data DIR\n');
      return;
    }
    if (list.length > 0) out.stdout(formatTable([NODE_HEADER, ...list.map(nodeRow)], ['left', 'left', 'left', 'right', 'right', 'right', 'right']));
    out.stdout(`${totalText(total)}\n`);
    if (balancing) out.stdout(`${rebalanceText(balancing)}\n`);
  },
};

const PROBLEM_TEXTS: Record<FsckReport['problems'][number]['problem'], string> = {
  under: 'under-replicated',
  missing: 'MISSING',
  corrupt: 'damaged copy',
};

export const fsck: ShellCommand = {
  name: 'fsck',
  usage: 'fsck [PATH]',
  summary: 'check files: copies on live nodes against the replication factor, damaged copies',
  details: [
    'Lists each file that is under-replicated, missing (no good copy on a live node) or has a damaged',
    'copy, then the totals. The admin at / sees every user\'s files, named user:/path.',
    'Fails (exit 1) only when a file is missing: the others are being repaired and stay readable.',
  ],
  operands: 'remote',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 0, 1);
    const report = await ctx.api.fsck(resolvePath(ctx.cwd, operands[0] ?? '.'));
    for (const problem of report.problems) {
      const bad = problem.bad > 0 ? `, ${problem.bad} damaged` : '';
      out.stdout(`${printable(problem.path)}: ${PROBLEM_TEXTS[problem.problem]}: ${problem.have}/${problem.want} live copies${bad}\n`);
    }
    const shown = report.under + report.missing + report.corrupt - report.problems.length;
    if (shown > 0) out.stdout(`… and ${shown} more\n`);
    const status = report.missing > 0 ? 'MISSING FILES' : report.under + report.corrupt > 0 ? 'DEGRADED (being repaired)' : 'HEALTHY';
    const rows = [
      ['Files:', `${report.files} (${formatSize(report.bytes)})`],
      ['Healthy:', String(report.healthy)],
      ['Under-replicated:', String(report.under)],
      ['Missing:', String(report.missing)],
      ['Damaged copies:', String(report.corrupt)],
      ...(report.copying > 0 ? [['Copying now:', String(report.copying)]] : []),
      ...(report.safeMode ? [['Safe mode:', 'the master waits for nodes to report; copies are not judged yet']] : []),
      ['Status:', status],
    ];
    out.stdout(formatTable(rows, ['left', 'left']));
    if (report.missing > 0) throw new CommandFailed(report.missing);
  },
};

/** "5.0M of 10M (50%)", or the used part alone without a limit. */
function againstLimit(used: number, limit: number | undefined, show: (value: number) => string): string {
  if (limit === undefined) return `${show(used)} (no quota)`;
  const percent = limit === 0 ? 100 : Math.round((used / limit) * 100);
  return `${show(used)} of ${show(limit)} (${percent}%)`;
}

export const df: ShellCommand = {
  name: 'df',
  usage: 'df [--json]',
  summary: 'the cluster\'s capacity, used and free space, and your own usage and quota',
  details: [
    'The cluster\'s numbers are the nodes\' disks (every replica counts); yours are your files\' sizes,',
    'each counted once as du does, against your quota if the admin set one.',
    '--json  one JSON document: {"cluster": (nodes --json\'s "total"), "user": {"name", "files", "bytes",',
    '        "quotaBytes", "quotaFiles"}} (a quota is null when none is set)',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    const { json, rest } = takeJsonFlag(args);
    expectOperands(parseFlags(rest, '').operands, 0, 0);
    const { total, user } = await ctx.api.df();
    if (json) {
      return printJson(out, {
        cluster: totalJson(total),
        user: { name: user.user, files: user.files, bytes: user.bytes, quotaBytes: user.quotaBytes ?? null, quotaFiles: user.quotaFiles ?? null },
      });
    }
    const usedPercent = total.capacityBytes === 0 ? 0 : Math.round((total.usedBytes / total.capacityBytes) * 100);
    const rows = [
      ['Cluster:', `${formatSize(total.capacityBytes)} capacity, ${formatSize(total.usedBytes)} used (${usedPercent}%), ${formatSize(total.freeBytes)} free on ${total.alive} of ${total.nodes} node(s) alive`],
      [`${user.user}:`, `${againstLimit(user.bytes, user.quotaBytes, formatSize)}, ${againstLimit(user.files, user.quotaFiles, (count) => `${count} files`)}`],
    ];
    out.stdout(formatTable(rows, ['left', 'left']));
  },
};

/** What the master says when a node is not found names where to look. */
const aboutNode = <T>(request: () => Promise<T>): Promise<T> => withReasons(['NOT_FOUND'], request);

export const drain: ShellCommand = {
  name: 'drain',
  usage: 'drain NODE',
  summary: 'decommission a node: its files get their copies elsewhere, then it shows drained (admin only)',
  details: [
    'NODE is its id or address, as nodes shows them. No new blob goes to it; every file with a copy there gets',
    'its full count of copies on other nodes, read from it meanwhile. Once none needs it, nodes shows it drained:',
    'stop it and forget it with nothing under-replicated. undrain NODE cancels.',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, 1);
    const nodeId = await aboutNode(() => ctx.api.drain(operands[0] ?? '', true));
    out.stdout(`draining ${nodeId}: nodes shows it drained once every file it holds has its copies elsewhere\n`);
  },
};

export const undrain: ShellCommand = {
  name: 'undrain',
  usage: 'undrain NODE',
  summary: 'stop draining a node: it takes new blobs again (admin only)',
  operands: 'nothing',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, 1);
    const nodeId = await aboutNode(() => ctx.api.drain(operands[0] ?? '', false));
    out.stdout(`${nodeId} takes new blobs again\n`);
  },
};

export const forget: ShellCommand = {
  name: 'forget',
  usage: 'forget NODE',
  summary: 'remove a dead or drained node from the cluster; its certificate is refused (admin only)',
  details: [
    'The copies it held no longer count (files short of copies are repaired from the others). To bring the machine',
    'back, wipe its data directory and join it again; `token rotate` first if it must not.',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, 1);
    const nodeId = await aboutNode(() => ctx.api.forget(operands[0] ?? ''));
    out.stdout(`forgot ${nodeId}\n`);
  },
};

export const token: ShellCommand = {
  name: 'token',
  usage: 'token rotate',
  summary: 'make a new join token; the old one joins no new node (admin only)',
  details: ['The new token is in the master\'s data directory (join-token). Nodes that joined keep their certificates.'],
  operands: 'nothing',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, 1);
    if (operands[0] !== 'rotate') throw new UsageError(`unknown token command '${operands[0] ?? ''}'`);
    await ctx.api.rotateToken();
    out.stdout('a new join token is in the master\'s data directory (join-token); the old one joins no new node\n');
  },
};

export const backup: ShellCommand = {
  name: 'backup',
  usage: 'backup LOCAL_DIR',
  summary: 'copy the master\'s state (catalog, CA and keys, ticket key, join token) to a local directory (admin only)',
  details: [
    'Taken online: the catalog is exported at one moment while writes go on. LOCAL_DIR must be new or empty, and holds',
    'the cluster\'s keys (mode 0700). `dfs master --data LOCAL_DIR` starts a master from it, on this machine or another;',
    'nodes reconnect and report what they hold. Blobs the restored catalog does not know are kept for --orphan-grace',
    '(an hour by default) before they are deleted.',
  ],
  operands: 'local',
  async run(args, ctx, out) {
    const { operands } = parseFlags(args, '');
    expectOperands(operands, 1, 1);
    const directory = path.resolve(operands[0] ?? '');
    const { catalogBytes } = await ctx.api.backup(directory);
    out.stdout(`backup written to ${printable(directory)} (catalog ${formatSize(catalogBytes)}); start a master from it with: dfs master --data ${printable(directory)}\n`);
  },
};

export const rebalance: ShellCommand = {
  name: 'rebalance',
  usage: 'rebalance [--threshold PCT] [--stop]',
  summary: 'move blobs from fuller to emptier nodes until each is within PCT% of the mean (admin only)',
  details: [
    'PCT is 1 to 100 (default 10): a node\'s used fraction may differ from the cluster\'s mean by that many points.',
    'Moves run in the background, a bounded number at a time; each copies a blob to the emptier node before the',
    'fuller one gives its copy up, so no file ever has fewer copies than it wants. nodes shows the progress.',
    '--stop stops it after the moves under way.',
  ],
  operands: 'nothing',
  async run(args, ctx, out) {
    const stop = args.includes('--stop');
    let thresholdPct = REBALANCE_THRESHOLD_PCT_DEFAULT;
    const rest: string[] = [];
    for (let index = 0; index < args.length; index++) {
      const arg = args[index] ?? '';
      if (arg === '--stop') continue;
      const inline = /^--threshold=(.*)$/.exec(arg);
      if (arg !== '--threshold' && !inline) {
        rest.push(arg);
        continue;
      }
      const text = inline ? (inline[1] ?? '') : (args[++index] ?? '');
      thresholdPct = usageParse(() => parseCount(text.replace(/%$/, ''), '--threshold', 1, 100));
    }
    expectOperands(parseFlags(rest, '').operands, 0, 0);
    const status = await ctx.api.rebalance(thresholdPct, stop);
    out.stdout(stop ? `${rebalanceText(status)}\n` : `rebalancing until every node is within ${status.thresholdPct}% of the mean; nodes shows the progress\n`);
  },
};
