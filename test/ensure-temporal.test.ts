/**
 * How the Temporal CLI is found or built, with small stand-in executables (shell scripts) for
 * `temporal` and `go`, so the order, the lock and the error message are checked without a real build.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { cacheDir, ensureTemporal } from '../scripts/ensure-temporal';
import { tempDir } from './helpers';

function fakeTemporal(file: string, version: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `#!/bin/sh\necho "temporal version ${version}"\n`);
  chmodSync(file, 0o755);
  return file;
}

/** A `go` that "builds" a fake temporal into $GOBIN after a pause and counts its runs. */
function fakeGo(binDir: string, counter: string): void {
  mkdirSync(binDir, { recursive: true });
  const file = path.join(binDir, 'go');
  writeFileSync(
    file,
    `#!/bin/sh\necho "run $*" >> "${counter}"\necho "go: downloading github.com/temporalio/cli v1.5.1" >&2\nsleep 1\nprintf '#!/bin/sh\\necho "temporal version built"\\n' > "$GOBIN/temporal"\nchmod +x "$GOBIN/temporal"\n`,
  );
  chmodSync(file, 0o755);
}

const quiet = () => undefined;
const basePath = '/usr/bin:/bin';

describe('ensure-temporal', () => {
  test('TEMPORAL_CLI_PATH wins over PATH and the cache', async () => {
    const dir = tempDir('et-env');
    const explicit = fakeTemporal(path.join(dir, 'explicit/temporal'), 'explicit');
    fakeTemporal(path.join(dir, 'bin/temporal'), 'on-path');
    const bin = await ensureTemporal({ env: { TEMPORAL_CLI_PATH: explicit, PATH: `${dir}/bin:${basePath}`, HOME: dir }, log: quiet });
    assert.deepEqual([bin.path, bin.source, bin.version], [explicit, 'env', 'temporal version explicit']);
  });

  test('a TEMPORAL_CLI_PATH that does not run is an error, not a silent fallback', async () => {
    const dir = tempDir('et-bad');
    await assert.rejects(
      ensureTemporal({ env: { TEMPORAL_CLI_PATH: path.join(dir, 'missing'), PATH: basePath, HOME: dir }, log: quiet }),
      /TEMPORAL_CLI_PATH=.*does not run/,
    );
  });

  test('`temporal` on PATH comes before the cache', async () => {
    const dir = tempDir('et-path');
    const onPath = fakeTemporal(path.join(dir, 'bin/temporal'), 'on-path');
    fakeTemporal(path.join(cacheDir({ HOME: dir }), 'temporal'), 'cached');
    const bin = await ensureTemporal({ env: { PATH: `${dir}/bin:${basePath}`, HOME: dir }, log: quiet });
    assert.deepEqual([bin.path, bin.source], [onPath, 'path']);
  });

  test('the per-user cache is used when nothing else is there', async () => {
    const dir = tempDir('et-cache');
    const cached = fakeTemporal(path.join(cacheDir({ XDG_CACHE_HOME: path.join(dir, 'xdg') }), 'temporal'), 'cached');
    assert.equal(cached, path.join(dir, 'xdg/mend/temporal-cli/v1.5.1/temporal'));
    const bin = await ensureTemporal({ env: { PATH: basePath, XDG_CACHE_HOME: path.join(dir, 'xdg') }, log: quiet });
    assert.deepEqual([bin.path, bin.source], [cached, 'cache']);
  });

  test('two concurrent callers build once, under the lock, and both get the binary', async () => {
    const dir = tempDir('et-build');
    const counter = path.join(dir, 'go-runs');
    fakeGo(path.join(dir, 'gobin'), counter);
    const env = { PATH: `${dir}/gobin:${basePath}`, HOME: dir };
    const lines: string[] = [];
    const [a, b] = await Promise.all([ensureTemporal({ env, log: (l) => lines.push(l) }), ensureTemporal({ env, log: (l) => lines.push(l) })]);
    assert.equal(readFileSync(counter, 'utf8').trim().split('\n').length, 1, 'go ran exactly once');
    assert.deepEqual([a.path, b.path], [path.join(cacheDir({ HOME: dir }), 'temporal'), path.join(cacheDir({ HOME: dir }), 'temporal')]);
    assert.deepEqual([a.source, b.source].sort(), ['built', 'cache']);
    assert.ok(
      lines.some((l) => l.includes('building the Temporal CLI v1.5.1')),
      'progress was printed',
    );
    assert.ok(
      lines.some((l) => l.includes('is building the Temporal CLI; waiting')),
      'the second caller said it waits',
    );
  });

  test('with no binary and no Go, one message says how to install it', async () => {
    const dir = tempDir('et-none');
    mkdirSync(path.join(dir, 'empty'));
    await assert.rejects(ensureTemporal({ env: { PATH: path.join(dir, 'empty'), HOME: dir }, log: quiet }), (err: Error) => {
      assert.match(err.message, /Go is not installed/);
      assert.match(err.message, /brew install temporal/);
      assert.match(err.message, /docker compose up/);
      assert.match(err.message, /TEMPORAL_CLI_PATH/);
      return true;
    });
  });

  test('the build stamps the release version, so `temporal --version` says 1.5.1 and not 0.0.0-DEV', async () => {
    const dir = tempDir('et-stamp');
    const counter = path.join(dir, 'go-runs');
    fakeGo(path.join(dir, 'gobin'), counter);
    await ensureTemporal({ env: { PATH: `${dir}/gobin:${basePath}`, HOME: dir }, log: quiet });
    assert.match(
      readFileSync(counter, 'utf8'),
      /^run install -ldflags=-X github\.com\/temporalio\/cli\/temporalcli\.Version=1\.5\.1 github\.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1$/m,
    );
  });

  test('a cached binary built without the version stamp is rebuilt once', async () => {
    const dir = tempDir('et-unstamped');
    const counter = path.join(dir, 'go-runs');
    fakeGo(path.join(dir, 'gobin'), counter);
    fakeTemporal(path.join(cacheDir({ HOME: dir }), 'temporal'), '0.0.0-DEV (Server 1.29.1, UI 2.42.1)');
    const lines: string[] = [];
    const env = { PATH: `${dir}/gobin:${basePath}`, HOME: dir };
    const bin = await ensureTemporal({ env, log: (l) => lines.push(l) });
    assert.deepEqual([bin.source, bin.version], ['built', 'temporal version built']);
    assert.ok(
      lines.some((l) => l.includes('reports 0.0.0-DEV')),
      'it said why it rebuilds',
    );
    const again = await ensureTemporal({ env, log: quiet });
    assert.equal(again.source, 'cache');
    assert.equal(readFileSync(counter, 'utf8').trim().split('\n').length, 1, 'go ran once in all');
  });
});
