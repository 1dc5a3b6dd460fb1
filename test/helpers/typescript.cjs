// Loaded into every test process by tap (package.json, "tap" > "node-arg"). Compiles the TypeScript of
// tests and sources with esbuild's transform, which only strips types (`npm run typecheck` checks them):
// about 2 CPU-seconds less per test file than ts-node. Files are compiled to CommonJS, as the package is;
// the hook below tells Node's ES-module loader, which tap's --import flags put in charge of the entry
// file, to hand .ts files to this CommonJS loader.
const { readFileSync } = require('node:fs');
const { register } = require('node:module');
const { transformSync } = require('esbuild');

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), { loader: 'ts', format: 'cjs', target: 'node20', sourcemap: 'inline', sourcefile: filename });
  module._compile(code, filename);
};

const hooks = `export async function load(url, context, nextLoad) {
  return url.endsWith('.ts') ? { format: 'commonjs', shortCircuit: true } : nextLoad(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
