// How the test files' processes load TypeScript (`node --require scripts/test-ts-hook.js`, see
// scripts/run-tests.ts): each .ts file compiled by esbuild, with this project's tsconfig, as tsx
// does, and kept in a cache on disk keyed by its content, so that a file compiles once until it
// changes. Leaner than tsx's CommonJS hook, which also reads every JavaScript file of node_modules
// to see whether it needs compiling: some 0.3 CPU-s per process on the ~1,000 modules a test
// loads, in each of the ~80 test files' processes and each in-process worker's workflow thread.
// The tests load code this way, and so do the workers and agents they start (test/helpers.ts
// TEST_TS_LOADER); the installed command (bin/mend), the dev stack's children and `mend runbook
// test` run through tsx, as users run them. Plain JavaScript: it is what makes TypeScript load.
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
const cacheDir = path.join(os.tmpdir(), `mend-test-ts-${process.getuid?.() ?? 'user'}`);
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
