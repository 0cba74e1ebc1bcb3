// How mend loads its own TypeScript: the installed command (bin/mend), every process of mend's own
// (workers/node-args.ts TS_HOOK_ARGS: npm start and its children, workers, agents, the workflow
// bundler) and the test files' processes (scripts/run-tests.ts). Each .ts file is compiled by
// esbuild with this package's tsconfig, as tsx does, and kept in a cache on disk keyed by its
// content, so that a file compiles once until it changes. Leaner than tsx, whose CommonJS hook also
// reads every JavaScript file of node_modules to see whether it needs compiling, and whose `--import`
// form starts an ESM loader: `mend components --help` takes 0.8 s and 0.9 CPU-s through this hook
// against 1.3 s and 1.5 CPU-s through tsx (2 cores, quiet). What users write still runs through tsx
// (`mend runbook test`'s test files). Plain JavaScript: it is what makes TypeScript load.
'use strict';
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const { compilerOptions } = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8'));
const esbuildVersion = require('esbuild/package.json').version;
const options = {
  loader: 'ts',
  format: 'cjs',
  target: `node${process.versions.node}`,
  sourcemap: 'inline',
  tsconfigRaw: { compilerOptions },
};
const cacheDir = path.join(os.tmpdir(), `mend-ts-${process.getuid?.() ?? 'user'}`);
const optionsKey = JSON.stringify([esbuildVersion, options]);
let esbuild;

function compileTs(source, filename) {
  const key = createHash('sha256').update(optionsKey).update('\0').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  try {
    return readFileSync(cached, 'utf8');
  } catch {
    // not compiled yet (or since it changed)
  }
  esbuild ??= require('esbuild');
  const { code } = esbuild.transformSync(source, { ...options, sourcefile: filename });
  try {
    mkdirSync(cacheDir, { recursive: true });
    // Written aside and renamed: processes starting at once never read half a file.
    const partial = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(partial, code);
    renameSync(partial, cached);
  } catch {
    // an unwritable cache costs a compile next time, nothing else
  }
  return code;
}

require.extensions['.ts'] = function loadTypeScript(module, filename) {
  module._compile(compileTs(readFileSync(filename, 'utf8'), filename), filename);
};
// Stack traces point into the TypeScript, through the inline source maps. Only mend's own files:
// with source maps on, node also scans every module of node_modules it loads for a map comment, and
// reads and parses the map files the SDK and others ship, some 0.05 CPU-s per process (a test file's,
// a worker's, an agent's; averaged over 8 loads of the test helpers + the SDK's worker: 0.774 CPU-s
// with maps for all, 0.728 for mend's own only). Their frames keep their JavaScript positions.
process.setSourceMapsEnabled(true);
const Module = require('node:module');
const compile = Module.prototype._compile;
Module.prototype._compile = function compileWithoutSourceMap(content, filename) {
  if (!filename.includes(`${path.sep}node_modules${path.sep}`)) return compile.call(this, content, filename);
  process.setSourceMapsEnabled(false);
  try {
    return compile.call(this, content, filename);
  } finally {
    process.setSourceMapsEnabled(true);
  }
};

// A TypeScript file may import its neighbour as './lib.js' (the NodeNext way, which tsx resolves to
// lib.ts): when no such JavaScript file exists, the .ts beside it is taken.
const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveTsFromJs(request, parent, ...rest) {
  try {
    return resolve.call(this, request, parent, ...rest);
  } catch (err) {
    if (!request.startsWith('.') || !request.endsWith('.js') || !parent?.filename?.endsWith('.ts')) throw err;
    try {
      return resolve.call(this, `${request.slice(0, -3)}.ts`, parent, ...rest);
    } catch {
      throw err;
    }
  }
};
