// A running test cluster seen from outside: the shell's address and environment, the blob files on the
// nodes' disks, and which process a node id is.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ClusterApi } from '../../src/client/api';
import { ADMIN_PASSWORD, type DfsProcess, type TestCluster } from './binary';

export function masterAddress(cluster: TestCluster): string {
  return `${cluster.master.address.host}:${cluster.master.address.port}`;
}

/** The environment `dfs shell` runs in: the cluster's CA, logged in as `user` (admin by default). */
export function shellEnv(cluster: TestCluster, user = 'admin', password: string | undefined = ADMIN_PASSWORD): NodeJS.ProcessEnv {
  return { ...process.env, DFS_CA: path.join(cluster.masterDir, 'ca.pem'), DFS_USER: user, ...(password !== undefined ? { DFS_PASSWORD: password } : {}) };
}

export interface BlobFile {
  /** The node's data directory name (node1…). */
  node: string;
  file: string;
  name: string;
  /** A file being written (under blobs/tmp), not a blob. */
  temporary: boolean;
}

/** Every file under the nodes' blob directories, temporary ones included. */
export async function blobFiles(cluster: TestCluster): Promise<BlobFile[]> {
  const found: BlobFile[] = [];
  for (const node of (await fs.readdir(cluster.dataDir)).sort()) {
    if (!node.startsWith('node')) continue;
    const stack = [path.join(cluster.dataDir, node, 'blobs')];
    for (let directory = stack.pop(); directory !== undefined; directory = stack.pop()) {
      for (const entry of await fs.readdir(directory, { withFileTypes: true }).catch(() => [])) {
        const full = path.join(directory, entry.name);
        if (entry.isDirectory()) stack.push(full);
        else found.push({ node, file: full, name: entry.name, temporary: path.basename(directory) === 'tmp' });
      }
    }
  }
  return found;
}

/** The node process a node id belongs to (matched by its listening port). */
export async function processOf(cluster: TestCluster, admin: ClusterApi, nodeId: string): Promise<DfsProcess> {
  const info = (await admin.nodes()).find((node) => node.nodeId === nodeId);
  const found = cluster.nodes.find((node) => info?.advertise.endsWith(`:${node.address.port}`));
  if (!found) throw new Error(`no process for node ${nodeId}`);
  return found;
}
