#!/usr/bin/env node
// Runs the benchmarks under bench/: each bench/NAME.ts is bundled with esbuild and run with node
// against the freshly built build/dfs. `npm run bench` runs all; `npm run bench -- NAME…` some.
// Benchmarks print figures and ratios; they never pass or fail on timing.

import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'build', '.out', 'bench');
// lib.ts holds shared helpers, not a benchmark.
const available = fs.readdirSync(path.join(ROOT, 'bench')).filter((file) => file.endsWith('.ts') && file !== 'lib.ts').map((file) => file.slice(0, -3)).sort();
const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : available;
for (const name of names) {
  if (!available.includes(name)) {
    console.error(`no benchmark "${name}"; have: ${available.join(', ')}`);
    process.exit(2);
  }
}
let failed = false;
for (const name of names) {
  const outfile = path.join(OUT, `${name}.cjs`);
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'bench', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    external: ['sql.js'],
    logLevel: 'warning',
  });
  console.log(`\n== ${name} ==`);
  const result = spawnSync(process.execPath, ['--expose-gc', outfile], { stdio: 'inherit', cwd: ROOT, env: { DFS_BIN: path.join(ROOT, 'build', 'dfs'), ...process.env } });
  if (result.status !== 0) {
    console.error(`benchmark ${name} failed (exit ${result.status ?? result.signal})`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
