#!/usr/bin/env node
// Builds the standalone executable build/dfs from src/main.ts, offline:
//   1. esbuild bundles src/main.ts (and every dependency) into one CommonJS file;
//   2. Node's Single Executable Application (SEA) tooling turns it into a blob (with V8 code cache);
//   3. the blob is injected with postject into a stripped copy of the running Node binary.
// See /work/shared/BUILD.md for why (pkg cannot work offline here).
//
// Environment knobs (for tests/probes; the normal build needs none):
//   DFS_BUILD_ENTRY   entry file instead of src/main.ts
//   DFS_BUILD_OUTPUT  executable path instead of build/dfs
//   DFS_BUILD_FORCE=1 rebuild the executable even if the bundle did not change
//
// Everything intermediate goes to build/.out/ (gitignored).

import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const t0 = performance.now();
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = path.join(ROOT, 'build', '.out');
const ENTRY = path.resolve(ROOT, process.env.DFS_BUILD_ENTRY || 'src/main.ts');
const OUTPUT = path.resolve(ROOT, process.env.DFS_BUILD_OUTPUT || 'build/dfs');
const FORCE = process.env.DFS_BUILD_FORCE === '1';
const require = createRequire(path.join(ROOT, 'package.json'));

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const SELFCHECK_ENV = 'DFS_BUILD_SELFCHECK';

// Stem for intermediate files, distinct per output so probe builds don't clobber the real one.
const STEM = OUTPUT === path.join(ROOT, 'build', 'dfs')
  ? 'dfs'
  : 'custom-' + createHash('sha1').update(OUTPUT).digest('hex').slice(0, 8);
const BUNDLE = path.join(OUT_DIR, `${STEM}.cjs`);
const BLOB = path.join(OUT_DIR, `${STEM}.blob`);
const SEA_CONFIG = path.join(OUT_DIR, `${STEM}.sea-config.json`);
const STAMP = path.join(OUT_DIR, `${STEM}.stamp`);

function fail(msg) {
  console.error(`build failed: ${msg}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// `import bytes from 'x.wasm'` -> default export is a Uint8Array of the file.
// Same result as esbuild's `binary` loader, but emitted as an ES module: the binary loader makes a
// CommonJS module, and a dynamic `await import('...wasm')` of that goes through esbuild's __toESM,
// which copies every index of the 660 KB array as a property (~4 s!). As ESM, both static and
// dynamic imports are instant, and the decoding runs only when the module is first imported.
// ---------------------------------------------------------------------------------------------

const wasmPlugin = {
  name: 'wasm-bytes',
  setup(build) {
    build.onLoad({ filter: /\.wasm$/ }, async (args) => {
      const b64 = (await fs.promises.readFile(args.path)).toString('base64');
      return {
        loader: 'js',
        contents: `import { Buffer } from 'node:buffer';
const buf = Buffer.from(${JSON.stringify(b64)}, 'base64');
// A Uint8Array whose .buffer is exactly the file (so \`bytes.buffer\` can be passed as an ArrayBuffer).
export default buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength
  ? new Uint8Array(buf.buffer)
  : new Uint8Array(buf);
`,
      };
    });
  },
};

// ---------------------------------------------------------------------------------------------
// blessed 0.1.81 is not bundler-friendly. This plugin rewrites its files as they are bundled.
// ---------------------------------------------------------------------------------------------

// Virtual absolute prefix under which blessed's usr/ directory (terminfo, termcap, fonts) is served
// from memory. Chosen so that it contains path.sep (tput treats such names as file paths) and can
// never exist on disk by accident.
const BLESSED_USR = '/$dfs-embedded/blessed/usr/';
const BLESSED_FS_MODULE = 'dfs-embedded:blessed-fs';

function blessedUsrFiles() {
  const usrDir = path.join(path.dirname(require.resolve('blessed/package.json')), 'usr');
  const files = {};
  (function walk(dir, rel) {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) walk(path.join(dir, ent.name), r);
      // Skip docs; keep terminfo/termcap binaries, and the two bigtext fonts.
      else if (!/^(AUTHORS|LICENSE|README)$/.test(ent.name)) {
        files[r] = fs.readFileSync(path.join(dir, ent.name));
      }
    }
  })(usrDir, '');
  return files;
}

// A tiny fs facade: paths under BLESSED_USR come from the embedded files, everything else goes to
// the real fs (users' own terminfo in /usr/share/terminfo etc. keeps working).
function blessedFsSource() {
  const files = blessedUsrFiles();
  const entries = Object.entries(files)
    .map(([name, buf]) => `  ${JSON.stringify(name)}: ${JSON.stringify(buf.toString('base64'))},`)
    .join('\n');
  return `'use strict';
const realFs = require('fs');
const PREFIX = ${JSON.stringify(BLESSED_USR)};
const ROOT = PREFIX.slice(0, -1);
const files = {
${entries}
};
const cache = new Map();
function rel(p) {
  if (typeof p !== 'string') return null;
  if (p === ROOT) return '';
  return p.startsWith(PREFIX) ? p.slice(PREFIX.length).replace(/\\/+$/, '') : null;
}
function enoent(syscall, p) {
  const e = new Error("ENOENT: no such file or directory, " + syscall + " '" + p + "'");
  e.code = 'ENOENT'; e.errno = -2; e.syscall = syscall; e.path = p;
  return e;
}
function isDir(r) {
  return r === '' || Object.keys(files).some((k) => k.startsWith(r + '/'));
}
module.exports = Object.assign({}, realFs, {
  readFileSync(p, opts) {
    const r = rel(p);
    if (r === null) return realFs.readFileSync(p, opts);
    if (!(r in files)) throw enoent('open', p);
    let buf = cache.get(r);
    if (!buf) { buf = Buffer.from(files[r], 'base64'); cache.set(r, buf); }
    const enc = typeof opts === 'string' ? opts : opts && opts.encoding;
    return enc ? buf.toString(enc) : Buffer.from(buf);
  },
  statSync(p, opts) {
    const r = rel(p);
    if (r === null) return realFs.statSync(p, opts);
    const file = r in files;
    if (!file && !isDir(r)) throw enoent('stat', p);
    return { isFile: () => file, isDirectory: () => !file, size: file ? files[r].length * 3 / 4 : 0 };
  },
  existsSync(p) {
    const r = rel(p);
    if (r === null) return realFs.existsSync(p);
    return r in files || isDir(r);
  },
  readdirSync(p, opts) {
    const r = rel(p);
    if (r === null) return realFs.readdirSync(p, opts);
    if (!isDir(r)) throw enoent('scandir', p);
    const pre = r ? r + '/' : '';
    const names = new Set();
    for (const k of Object.keys(files)) if (k.startsWith(pre)) names.add(k.slice(pre.length).split('/')[0]);
    return [...names].sort();
  },
});
`;
}

function replaceOrFail(src, file, from, to) {
  const out = src.replace(from, to);
  if (out === src) fail(`blessed patch did not apply to ${file} (${from}); blessed version changed?`);
  return out;
}

const blessedPlugin = {
  name: 'blessed-sea',
  setup(build) {
    build.onResolve({ filter: /^dfs-embedded:blessed-fs$/ }, (args) => ({
      path: args.path,
      namespace: 'dfs-embedded',
    }));
    build.onLoad({ filter: /.*/, namespace: 'dfs-embedded' }, () => ({
      contents: blessedFsSource(),
      loader: 'js',
      resolveDir: ROOT,
    }));

    const blessedLib = /[\\/]node_modules[\\/]blessed[\\/]lib[\\/](widget|tput|widgets[\\/]bigtext)\.js$/;
    build.onLoad({ filter: blessedLib }, async (args) => {
      const file = args.path.match(blessedLib)[1].replace(/\\/g, '/');
      let src = await fs.promises.readFile(args.path, 'utf8');
      if (file === 'widget') {
        // require('./widgets/' + file): esbuild bundles the directory, but its keys end in '.js'.
        src = replaceOrFail(src, file, "require('./widgets/' + file)", "require('./widgets/' + file + '.js')");
      } else {
        // Serve ../usr (terminfo/termcap fallbacks, bigtext fonts) from the bundle.
        src = replaceOrFail(src, file, /\bfs = require\('fs'\)/, `fs = require(${JSON.stringify(BLESSED_FS_MODULE)})`);
        src = replaceOrFail(src, file, /__dirname \+ '\/(\.\.\/)+usr\//g, `'${BLESSED_USR}`);
        if (file === 'tput') {
          src = replaceOrFail(src, file, TERMINFO_NUMBERS_FROM, TERMINFO_NUMBERS_TO);
          src = replaceOrFail(src, file, TERMINFO_EXT_NUMBERS_FROM, TERMINFO_EXT_NUMBERS_TO);
          src = replaceOrFail(src, file, TERMINFO_HEADER_FROM, TERMINFO_HEADER_TO);
          src = replaceOrFail(src, file, ACS_FROM, ACS_TO);
        }
      }
      return { contents: src, loader: 'js' };
    });
  },
};

// ncurses 6.1+ writes terminfo entries with 32-bit numbers (magic 0o1036 = 0x021e) when a value
// exceeds 32767 (e.g. xterm-256color's pairs#0x10000); Debian 12 ships them so. blessed only knows
// the legacy 16-bit format (magic 0o432), misparses them and falls back to its own usr/xterm. Teach
// the parser the 32-bit number format so the system's real entries (tmux-256color, ...) are used.
const TERMINFO_HEADER_FROM = `    + h.numCount * 2
    + h.strCount * 2
    + h.strTableSize;

  i += h.headerSize;

  // Names Section`;
const TERMINFO_HEADER_TO = `    + h.numCount * (h.magicNumber === 0x21e ? 4 : 2)
    + h.strCount * 2
    + h.strTableSize;

  i += h.headerSize;
  this._numSize = h.magicNumber === 0x21e ? 4 : 2;

  // Names Section`;
const TERMINFO_NUMBERS_FROM = `  l = i + h.numCount * 2;
  o = 0;
  for (; i < l; i += 2) {
    v = Tput.numbers[o++];
    if (data[i + 1] === 0377 && data[i] === 0377) {
      info.numbers[v] = -1;
    } else {
      info.numbers[v] = (data[i + 1] << 8) | data[i];
    }
  }`;
const TERMINFO_NUMBERS_TO = `  var ns = this._numSize || 2;
  l = i + h.numCount * ns;
  o = 0;
  for (; i < l; i += ns) {
    v = Tput.numbers[o++];
    if (ns === 4) {
      info.numbers[v] = data.readInt32LE(i) < 0 ? -1 : data.readInt32LE(i);
    } else if (data[i + 1] === 0377 && data[i] === 0377) {
      info.numbers[v] = -1;
    } else {
      info.numbers[v] = (data[i + 1] << 8) | data[i];
    }
  }`;
// Extended section: same story for its numbers.
const TERMINFO_EXT_NUMBERS_FROM = `  var _numbers = [];
  l = i + h.numCount * 2;
  for (; i < l; i += 2) {
    if (data[i + 1] === 0377 && data[i] === 0377) {
      _numbers.push(-1);
    } else {
      _numbers.push((data[i + 1] << 8) | data[i]);
    }
  }`;
const TERMINFO_EXT_NUMBERS_TO = `  var _numbers = [];
  var ns = this._numSize || 2;
  l = i + h.numCount * ns;
  for (; i < l; i += ns) {
    if (ns === 4) {
      _numbers.push(data.readInt32LE(i) < 0 ? -1 : data.readInt32LE(i));
    } else if (data[i + 1] === 0377 && data[i] === 0377) {
      _numbers.push(-1);
    } else {
      _numbers.push((data[i + 1] << 8) | data[i]);
    }
  }`;

// Borders drawn with the VT100 alternate character set (smacs + 'lqqk') come out as letters in
// tmux (capture-pane, and some terminals); in a UTF-8 locale (or with screen option forceUnicode)
// draw them with Unicode box-drawing characters instead, like ncurses' NCURSES_NO_UTF8_ACS=1.
// NCURSES_NO_UTF8_ACS=0 in the environment still forces ACS.
const ACS_FROM = `    return !!+process.env.NCURSES_NO_UTF8_ACS;
  }
`;
const ACS_TO = `    return !!+process.env.NCURSES_NO_UTF8_ACS;
  }

  if (this.detectUnicode()) {
    return true;
  }
`;

// ---------------------------------------------------------------------------------------------
// 1. Bundle
// ---------------------------------------------------------------------------------------------

fs.mkdirSync(OUT_DIR, { recursive: true });
if (!fs.existsSync(ENTRY)) fail(`entry ${path.relative(ROOT, ENTRY)} does not exist`);

// Runs first in the bundle.
// - `DFS_BUILD_SELFCHECK=1 dfs` reports whether the binary really is a SEA (used below to verify
//   the build) and exits before any application code runs.
// - Node prints DEP0005 ("Buffer() is deprecated") only for callers outside node_modules; bundled,
//   every dependency (blessed's gpmclient, png-js, drawille, memory-streams...) looks like our code,
//   so dependencies' `new Buffer()` would warn on the user's terminal. Drop that one warning.
const banner = `if (process.env.${SELFCHECK_ENV} === '1') {
  let sea = false; try { sea = require('node:sea').isSea(); } catch {}
  process.stdout.write('dfs-selfcheck sea=' + sea + '\\n'); process.exit(sea ? 0 : 3);
}
{ const emitWarning = process.emitWarning;
  process.emitWarning = function (warning, type, code) {
    if (code === 'DEP0005' || (type && type.code === 'DEP0005')) return;
    return emitWarning.apply(this, arguments);
  }; }`;

let result;
try {
  result = await esbuild.build({
    entryPoints: [ENTRY],
    outfile: BUNDLE,
    absWorkingDir: ROOT,
    nodePaths: [path.join(ROOT, 'node_modules')], // lets probe entries outside the repo resolve deps
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // SEA cannot enable source maps (no --enable-source-maps, and process.setSourceMapsEnabled() comes
    // too late for the main script), so the map is external, next to the bundle, for debugging:
    // `node --enable-source-maps build/.out/dfs.cjs ...` runs the very same code with mapped traces.
    sourcemap: 'external',
    sourcesContent: false,
    legalComments: 'none',
    // Whitespace/syntax minification only: ~30 % smaller bundle (faster startup), while identifiers,
    // hence function names in stack traces, stay as written.
    minifyWhitespace: true,
    minifySyntax: true,
    // Optional deps of blessed's Terminal widget (never used by dfs).
    external: ['term.js', 'pty.js'],
    banner: { js: banner },
    plugins: [wasmPlugin, blessedPlugin], // '.wasm' -> Uint8Array; blessed fixes
    logLevel: 'warning',
  });
} catch {
  fail('esbuild reported errors (see above)');
}
if (result.errors.length) fail('esbuild reported errors');

// ---------------------------------------------------------------------------------------------
// 2..4. SEA blob, stripped node, injection — skipped when nothing changed.
// ---------------------------------------------------------------------------------------------

const bundleBytes = fs.readFileSync(BUNDLE);
const stamp = createHash('sha256')
  .update(bundleBytes)
  .update(process.version + process.execPath + fs.statSync(process.execPath).mtimeMs)
  .update(fs.readFileSync(fileURLToPath(import.meta.url)))
  .digest('hex');

// The stamp records the inputs' hash and the identity of the executable it produced, so a rebuild is
// skipped only if build/dfs is still exactly that file.
const outputId = () => { const st = fs.statSync(OUTPUT); return `${st.size}:${st.mtimeMs}:${st.ino}`; };
const upToDate = !FORCE && fs.existsSync(OUTPUT) && fs.existsSync(STAMP)
  && fs.readFileSync(STAMP, 'utf8') === `${stamp}\n${outputId()}\n`;

if (!upToDate) {
  // 2. SEA blob (with V8 code cache: ~77 ms startup instead of ~110 ms).
  fs.writeFileSync(SEA_CONFIG, JSON.stringify({
    main: BUNDLE,
    output: BLOB,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
  }, null, 2));
  try {
    execFileSync(process.execPath, ['--experimental-sea-config', SEA_CONFIG], {
      cwd: OUT_DIR, stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    fail(`node --experimental-sea-config failed:\n${e.stdout}${e.stderr}`);
  }
  const blob = fs.readFileSync(BLOB);

  // 3. A stripped copy of this Node binary, cached across builds (strip takes ~1 s).
  const nodeKey = createHash('sha1')
    .update(process.version + process.execPath + fs.statSync(process.execPath).mtimeMs + process.arch)
    .digest('hex').slice(0, 12);
  const strippedNode = path.join(OUT_DIR, `node-${process.version}-${nodeKey}`);
  if (!fs.existsSync(strippedNode)) {
    const tmp = `${strippedNode}.tmp${process.pid}`;
    fs.copyFileSync(process.execPath, tmp);
    fs.chmodSync(tmp, 0o755);
    if (process.platform === 'linux') {
      try {
        execFileSync('strip', [tmp], { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        console.warn(`warning: strip failed, keeping an unstripped node (${String(e.stderr || e.message).trim()})`);
      }
    }
    fs.renameSync(tmp, strippedNode);
  }
  const nodeBytes = fs.readFileSync(strippedNode);
  if (nodeBytes.indexOf(`${SEA_FUSE}:0`) === -1) {
    fail(`${process.execPath} has no unflipped SEA fuse: it is not a plain Node >= 20 binary (or is already a SEA)`);
  }

  // 4. Inject (postject's JS API; its wasm LIEF prints harmless "Can't find string offset for
  //    section name" warnings through console.log/warn: swallow those, show anything else).
  const tmpOut = `${OUTPUT}.tmp${process.pid}`;
  fs.mkdirSync(path.dirname(OUTPUT), { recursive: true });
  fs.copyFileSync(strippedNode, tmpOut);
  const { inject } = require('postject');
  const saved = { log: console.log, warn: console.warn, error: console.error };
  const noise = [];
  const capture = (...a) => noise.push(a.join(' '));
  console.log = console.warn = console.error = capture;
  try {
    await inject(tmpOut, 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE, machoSegmentName: 'NODE_SEA' });
  } catch (e) {
    Object.assign(console, saved);
    fs.rmSync(tmpOut, { force: true });
    for (const line of noise) console.error(line);
    fail(`postject: ${e.message}`);
  } finally {
    Object.assign(console, saved);
  }
  for (const line of noise) {
    if (!/Can't find string offset for section name|^\s*$/.test(line)) console.warn(`postject: ${line}`);
  }
  fs.chmodSync(tmpOut, 0o755);

  // Verify before replacing the previous executable: fuse flipped, blob present, runs as a SEA.
  const outBytes = fs.readFileSync(tmpOut);
  if (outBytes.indexOf(`${SEA_FUSE}:1`) === -1 || outBytes.indexOf(blob.subarray(0, 4096)) === -1) {
    fs.rmSync(tmpOut, { force: true });
    fail('injection did not take: the SEA fuse is not flipped or the blob is missing');
  }
  let check = '';
  try {
    check = execFileSync(tmpOut, [], {
      env: { ...process.env, [SELFCHECK_ENV]: '1' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000,
    }).toString();
  } catch (e) {
    check = `${e.stdout || ''}${e.stderr || ''}${e.message}`;
  }
  if (!check.includes('dfs-selfcheck sea=true')) {
    fs.rmSync(tmpOut, { force: true });
    fail(`the built executable is NOT a working single executable application:\n${check.trim()}`);
  }
  fs.renameSync(tmpOut, OUTPUT); // atomic: a running old build/dfs is not disturbed
  fs.writeFileSync(STAMP, `${stamp}\n${outputId()}\n`);
}

const mb = fs.statSync(OUTPUT).size / 1e6;
const secs = (performance.now() - t0) / 1000;
console.log(`built ${path.relative(process.cwd(), OUTPUT) || OUTPUT} (${mb.toFixed(0)} MB) in ${secs.toFixed(1)}s${upToDate ? ' (up to date)' : ''}`);
