// The cluster itself: nodes.

import type { NodeInfo } from '../../../client/api';
import { formatSize } from '../../../units';
import type { ShellCommand } from '../context';
import { formatTable } from '../format';
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

export const nodes: ShellCommand = {
  name: 'nodes',
  usage: 'nodes',
  summary: 'list storage nodes: address, state, capacity, used, free, blobs',
  completes: 'nothing',
  async run(args, ctx, out) {
    expectOperands(parseFlags(args, '').operands, 0, 0);
    const list = await ctx.api.nodes();
    if (list.length === 0) {
      out.stdout('no storage nodes have registered; start one with: dfs node --master HOST:PORT --token-file join-token --data DIR\n');
      return;
    }
    out.stdout(formatTable([NODE_HEADER, ...list.map(nodeRow)], ['left', 'left', 'left', 'right', 'right', 'right', 'right']));
  },
};
