// How much a node can still take: the smaller of what --capacity leaves and what the disk has.

import { promises as fs } from 'node:fs';

export interface Space {
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
}

export async function measureSpace(dataDir: string, usedBytes: number, capacityLimitBytes: number | undefined): Promise<Space> {
  const stats = await fs.statfs(dataDir);
  const diskTotalBytes = stats.blocks * stats.bsize;
  const diskFreeBytes = stats.bavail * stats.bsize;
  const capacityBytes = capacityLimitBytes ?? diskTotalBytes;
  const freeBytes = Math.max(0, Math.min(capacityBytes - usedBytes, diskFreeBytes));
  return { capacityBytes, usedBytes, freeBytes };
}
