/**
 * Starting the dev server when a port it picked for itself is taken before it binds it: the CLI
 * exits at once, and startDevServer starts it again (it picks other ports); any other early exit
 * is the caller's to see, at once. A stand-in binary plays the first start's failure, then runs the
 * real Temporal CLI.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startDevServer } from '../scripts/temporal-server';
import { sharedServer, tempDir } from './helpers';

/** A binary that fails its first `failures` starts with `message` (exit 2), then runs the real CLI; counts its starts. */
function standIn(dir: string, failures: number, message: string): { binary: string; starts: () => number } {
  const count = path.join(dir, 'starts');
  const binary = path.join(dir, 'temporal');
  writeFileSync(
    binary,
    [
      '#!/bin/sh',
      `n=$(cat '${count}' 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > '${count}'`,
      `if [ "$n" -le ${failures} ]; then echo '${message}'; exit 2; fi`,
      `exec '${sharedServer().temporalCli}' "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(binary, 0o755);
  return { binary, starts: () => (existsSync(count) ? Number(readFileSync(count, 'utf8')) : 0) };
}

describe('dev server start-up', () => {
  test('a start that lost one of its own ports to another process is started again, and serves', async () => {
    const dir = tempDir('devserver-retry');
    const { binary, starts } = standIn(dir, 1, 'level=ERROR msg="Failed to start gRPC listener" error="listen tcp 127.0.0.1:1: bind: address already in use"');
    const server = await startDevServer({ binary, uiPort: false, logFile: path.join(dir, 'temporal.log') });
    try {
      assert.equal(starts(), 2);
      assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    } finally {
      await server.stop();
    }
  });

  test('any other failure at start-up is reported at once, not retried', async () => {
    const dir = tempDir('devserver-fail');
    const { binary, starts } = standIn(dir, 5, 'level=ERROR msg="unable to open database file"');
    await assert.rejects(startDevServer({ binary, uiPort: false, logFile: path.join(dir, 'temporal.log') }), /stopped during start-up \(exit 2\)/);
    assert.equal(starts(), 1);
  });
});
