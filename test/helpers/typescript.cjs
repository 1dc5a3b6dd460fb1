// Loaded into every test process by tap (package.json, "tap" > "node-arg"). Compiles the TypeScript of
// tests and sources with esbuild's transform, which only strips types (`npm run typecheck` checks them):
// about 2 CPU-seconds less per test file than ts-node. Files are compiled to CommonJS, as the package is;
// the hook below tells Node's ES-module loader, which tap's --import flags put in charge of the entry
// file, to hand .ts files to this CommonJS loader.
// The output is kept in node_modules/.cache/dfs-tests, named by a hash of the source and its path: the test
// files of a run share their sources, and a process whose files are all cached never starts esbuild's service.
// prepare.ts fills the cache before the test files start (tap's `before`).
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { register } = require('node:module');
const path = require('node:path');

const cacheDir = path.join(__dirname, '../../node_modules/.cache/dfs-tests');
mkdirSync(cacheDir, { recursive: true });
const options = (filename) => ({ loader: 'ts', format: 'cjs', target: 'node20', sourcemap: 'inline', sourcefile: filename });

/** The CommonJS of a TypeScript file, from the cache or compiled into it. */
function compiled(filename) {
  const source = readFileSync(filename, 'utf8');
  const cached = path.join(cacheDir, `${createHash('sha256').update(filename).update('\0').update(source).digest('hex')}.js`);
  try {
    return readFileSync(cached, 'utf8');
  } catch {
    const code = require('esbuild').transformSync(source, options(filename)).code;
    // Written aside and renamed: test processes run side by side and must never read half a file.
    const temporary = `${cached}.${process.pid}`;
    writeFileSync(temporary, code);
    renameSync(temporary, cached);
    return code;
  }
}

require.extensions['.ts'] = (module, filename) => {
  module._compile(compiled(filename), filename);
};

const hooks = `export async function load(url, context, nextLoad) {
  return url.endsWith('.ts') ? { format: 'commonjs', shortCircuit: true } : nextLoad(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

module.exports = { compiled };
