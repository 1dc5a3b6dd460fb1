// Catalog at scale: builds 1,000,000 entries through the public API (1,000 directories x 1,000
// files, plus one directory of 10,000), then prints build rate, RSS, find/ls times, snapshot time
// and size, and cold start (snapshot load + replay of a nearly full journal) in a fresh process.
// Prints; asserts nothing. Run (bundled, so the cold start can re-run this file in a child):
//   npx esbuild bench/catalog.ts --bundle --platform=node --external:sql.js --outfile=build/.out/bench-catalog.cjs
//   node --expose-gc build/.out/bench-catalog.cjs [DIRECTORIES] [FILES_PER_DIRECTORY]

import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { JOURNAL_BYTES_MAX_DEFAULT, JOURNAL_RECORDS_MAX_DEFAULT, MIB } from '../src/limits';
import { Catalog } from '../src/master/catalog/catalog';

const MB = 1e6;
const directories = Number(process.argv[2] ?? 1000);
const filesPerDirectory = Number(process.argv[3] ?? 1000);
const WIDE_ENTRIES = 10_000;
const IN_FLIGHT = 2_000;

function rssMb(): string {
  (globalThis as { gc?: () => void }).gc?.();
  return `${(process.memoryUsage().rss / MB).toFixed(0)} MB (peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB)`;
}

function fakeFile(index: number): { size: number; blobId: string; sha256: string; overwrite: boolean } {
  const hex = index.toString(16).padStart(8, '0');
  return { size: 1000 + (index % 100_000), blobId: `${hex}${'0'.repeat(24)}`, sha256: `${hex}${'ab'.repeat(28)}`, overwrite: false };
}

async function timed<T>(label: string, work: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  console.log(`${label}: ${(performance.now() - started).toFixed(0)} ms`);
  return result;
}

/** Bulk: one createFiles call (one transaction, one journal record) per directory. */
async function build(catalog: Catalog, owner: number): Promise<void> {
  let index = 0;
  const started = performance.now();
  const batch = (count: number, prefix: string, suffix: string): { name: string; size: number; blobId: string; sha256: string }[] =>
    Array.from({ length: count }, (_, file) => ({ name: `${prefix}${String(file).padStart(5, '0')}${suffix}`, ...fakeFile(index++) }));
  for (let directory = 0; directory < directories; directory++) {
    const name = `/dir${String(directory).padStart(4, '0')}`;
    await catalog.mkdir(owner, name);
    await catalog.createFiles(owner, name, batch(filesPerDirectory, 'file', '.dat'));
    if (directory % 100 === 99) console.log(`  ${catalog.entryCount()} entries, ${((performance.now() - started) / 1000).toFixed(0)} s, RSS ${rssMb()}`);
  }
  await catalog.mkdir(owner, '/wide');
  await catalog.createFiles(owner, '/wide', batch(WIDE_ENTRIES, 'w', '.bin'));
  const seconds = (performance.now() - started) / 1000;
  console.log(`built ${catalog.entryCount()} entries in ${seconds.toFixed(0)} s (${(catalog.entryCount() / seconds).toFixed(0)} per second); ${JSON.stringify(catalog.stats())}`);
}

/** Through the one-file API, as the master commits uploads: many in flight, group commit. */
async function perFileRate(catalog: Catalog, owner: number): Promise<void> {
  await catalog.mkdir(owner, '/single');
  const pending: Promise<unknown>[] = [];
  const started = performance.now();
  for (let file = 0; file < 20_000; file++) {
    pending.push(catalog.createFile(owner, `/single/s${file}`, fakeFile(20_000_000 + file)));
    if (pending.length >= IN_FLIGHT) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const seconds = (performance.now() - started) / 1000;
  console.log(`createFile one by one (${IN_FLIGHT} in flight): ${(20_000 / seconds).toFixed(0)} per second`);
}

/** Fills the journal to just under a snapshot threshold, so a crash now means the longest replay. */
async function fillJournal(catalog: Catalog, owner: number): Promise<void> {
  await catalog.mkdir(owner, '/late');
  const pending: Promise<unknown>[] = [];
  let index = 10_000_000;
  const full = (): boolean => {
    const { journalBytes, journalRecords } = catalog.stats();
    return journalBytes >= JOURNAL_BYTES_MAX_DEFAULT - 2 * MIB || journalRecords >= JOURNAL_RECORDS_MAX_DEFAULT - IN_FLIGHT;
  };
  while (!full()) {
    pending.push(catalog.createFile(owner, `/late/f${index}`, fakeFile(index++)));
    if (pending.length >= IN_FLIGHT) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  console.log(`journal holds ${(catalog.stats().journalBytes / MIB).toFixed(1)} MiB, ${catalog.stats().journalRecords} records since the snapshot`);
}

async function coldOpen(directory: string): Promise<void> {
  const started = performance.now();
  const catalog = await Catalog.open(directory);
  console.log(`cold open: ${(performance.now() - started).toFixed(0)} ms for ${catalog.entryCount()} entries; RSS ${rssMb()}`);
}

async function main(): Promise<void> {
  if (process.argv[2] === 'open') return coldOpen(process.argv[3] as string);
  const directory = mkdtempSync(path.join(tmpdir(), 'dfs-bench-catalog-'));
  try {
    console.log(`RSS at start ${rssMb()}`);
    const catalog = await Catalog.open(directory);
    const owner = (await catalog.createUser('bench', null, false)).id;
    await build(catalog, owner);
    console.log(`RSS after build ${rssMb()}`);
    await perFileRate(catalog, owner);
    const found = await timed('find / -name "*7.dat" (first page)', () => catalog.find(owner, '/', { name: '*7.dat' }));
    const none = await timed('find / -name "nomatch*" (scans all)', () => catalog.find(owner, '/', { name: 'nomatch*' }));
    const big = await timed('find / -size +100k -type f (first page)', () => catalog.find(owner, '/', { type: 'file', size: { cmp: 'gt', count: 100, unitBytes: 1000 } }));
    console.log(`  (${found.items.length}, ${none.items.length}, ${big.items.length} found)`);
    for (let run = 0; run < 3; run++) await timed(`ls of ${WIDE_ENTRIES} entries`, () => catalog.list(owner, '/wide'));
    await timed('du -s /', () => catalog.du(owner, '/', { summary: true }));
    await timed('snapshot (export + write + rename)', () => catalog.snapshot());
    const snapshotBytes = statSync(path.join(directory, 'catalog.snapshot')).size;
    console.log(`snapshot: ${(snapshotBytes / MB).toFixed(0)} MB (${(snapshotBytes / catalog.entryCount()).toFixed(0)} bytes per entry); RSS ${rssMb()}`);
    await fillJournal(catalog, owner);
    const crashed = `${directory}-crash`;
    cpSync(directory, crashed, { recursive: true }); // the state a kill -9 would leave
    console.log(`data dir: ${readdirSync(crashed).join(', ')}`);
    const output = execFileSync(process.execPath, [...process.execArgv, __filename, 'open', crashed], { encoding: 'utf8' });
    process.stdout.write(output);
    rmSync(crashed, { recursive: true, force: true });
    await catalog.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

void main();
