// Run once by tap before any test file (package.json, "tap" > "before"). On a clean checkout, what every test
// process would otherwise make for itself, side by side with the others, is made here once: the compiled
// TypeScript of src/ and test/ (typescript.cjs's cache) and the cluster identity test masters share. On a clean
// clone this was ~30 CPU-s of a run, spent while the test files competed for the two cores.

import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { stopCoverage } from 'node:v8';
import { copyClusterIdentity } from './binary';

// Not a test: what it runs must not count as covered.
stopCoverage();

const { compiled } = require('./typescript.cjs') as { compiled: (filename: string) => string };

function typeScriptFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '../..');
  for (const file of [...typeScriptFiles(path.join(root, 'src')), ...typeScriptFiles(path.join(root, 'test'))]) compiled(file);
  const directory = await mkdtemp(path.join(tmpdir(), 'dfs-prepare-'));
  try {
    await copyClusterIdentity(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`prepare: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
