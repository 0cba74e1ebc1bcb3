/** `mend checkpoint` through the CLI's own main(argv) (runCli, in this process) on a temp config: its output and exit codes. */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runCli, tempDir } from './helpers';

/** A config with one component `store` whose state is `data/state.json` and `data/db/`. */
function setup(): { dir: string; config: string; env: NodeJS.ProcessEnv; checkpoints: string } {
  const dir = tempDir('ckpt-cli');
  mkdirSync(path.join(dir, 'data', 'db'), { recursive: true });
  writeFileSync(path.join(dir, 'data', 'state.json'), '{"version":1}\n');
  writeFileSync(path.join(dir, 'data', 'db', 'rows'), 'a'.repeat(2048));
  const config = path.join(dir, 'mend.config.yaml');
  writeFileSync(
    config,
    [
      'components:',
      '  - id: store',
      '    adapter: { type: process, command: [node, x.js] }',
      '    probe: { type: http, url: "http://127.0.0.1:1/healthz" }',
      '    state: { paths: [data/state.json, data/db], checkpointDir: checkpoints }',
      '',
    ].join('\n'),
  );
  return { dir, config, env: { MEND_HOME: path.join(dir, 'home') }, checkpoints: path.join(dir, 'checkpoints') };
}

describe('mend checkpoint', () => {
  test('create, list and verify a checkpoint', async () => {
    const { config, env } = setup();
    const created = await runCli(['checkpoint', 'create', 'store', '-c', config, '--label', 'before upgrade'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^store: checkpoint \d{8}T\d{9}Z \(2 files, 2 KiB\)/);

    const json = await runCli(['checkpoint', 'list', 'store', '-c', config, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const [info] = JSON.parse(json.stdout) as Array<{ id: string; files: number; totalBytes: number; label: string }>;
    assert.deepEqual({ files: info!.files, totalBytes: info!.totalBytes, label: info!.label }, { files: 2, totalBytes: 2048 + 14, label: 'before upgrade' });

    const listed = await runCli(['checkpoint', 'list', 'store', '-c', config, '--verify'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+CREATED\s+FILES\s+SIZE\s+STATUS\s+LABEL$/);
    assert.match(lines[1]!, new RegExp(`^${info!.id}\\s+\\S+\\s+2\\s+2 KiB\\s+ok\\s+before upgrade$`));

    const verified = await runCli(['checkpoint', 'verify', 'store', '-c', config], env);
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(verified.stdout.trim(), `store: checkpoint ${info!.id} ok`);
  });

  test('a tampered checkpoint fails verify with exit 1, naming the file', async () => {
    const { config, env, checkpoints } = setup();
    assert.equal((await runCli(['checkpoint', 'create', 'store', '-c', config], env)).code, 0);
    const [id] = readdirSync(checkpoints);
    writeFileSync(path.join(checkpoints, id!, 'data', '1-db', 'rows'), 'b'.repeat(2048));

    const res = await runCli(['checkpoint', 'verify', 'store', id!, '-c', config], env);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /1-db\/rows: changed \(sha256 differs from the manifest\)/);
    assert.equal(res.stderr.trim().split('\n').length, 1);
    assert.match(res.stderr, /^mend: checkpoint \S+ of store does not verify \(1 problem: 1-db\/rows: changed/);

    const listed = await runCli(['checkpoint', 'list', 'store', '-c', config, '--verify'], env);
    assert.match(listed.stdout, /TAMPERED/);
  });

  test('prune keeps the newest N', async () => {
    const { config, env, checkpoints } = setup();
    for (let i = 0; i < 3; i++) assert.equal((await runCli(['checkpoint', 'create', 'store', '-c', config], env)).code, 0);
    const before = readdirSync(checkpoints).sort();
    assert.equal(before.length, 3);
    const res = await runCli(['checkpoint', 'prune', 'store', '-c', config, '--keep', '1', '--max-age', '7d'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^store: removed 2 checkpoints \(.+\), kept 1/);
    assert.deepEqual(readdirSync(checkpoints), [before[2]]);
  });

  test('bad option values are usage errors naming the option', async () => {
    const { config, env } = setup();
    const keep = await runCli(['checkpoint', 'prune', 'store', '-c', config, '--keep', 'none'], env);
    assert.equal(keep.code, 2);
    assert.equal(keep.stderr.trim(), 'mend: --keep: expected a whole number of at least 1, got "none"');
    const age = await runCli(['checkpoint', 'prune', 'store', '-c', config, '--max-age', 'a week'], env);
    assert.equal(age.code, 2);
    assert.match(age.stderr.trim(), /^mend: --max-age: "a week" is not a duration/);
  });

  test('an unknown component exits 2 with one line', async () => {
    const { config, env } = setup();
    const res = await runCli(['checkpoint', 'list', 'nope', '-c', config], env);
    assert.equal(res.code, 2);
    assert.equal(res.stderr.trim(), `mend: components: unknown component "nope" (known: store)`);
  });

  test('with no state on disk, create fails with exit 1 and the reason', async () => {
    const { dir, config, env } = setup();
    writeFileSync(
      config,
      `components:\n  - id: store\n    adapter: { type: process, command: [node, x.js] }\n    probe: { type: http, url: "http://127.0.0.1:1/" }\n    state: { paths: [gone.json] }\n`,
    );
    const res = await runCli(['checkpoint', 'create', 'store', '-c', config], env);
    assert.equal(res.code, 1);
    assert.equal(res.stderr.trim(), `mend: store: no state to checkpoint (none of ${path.join(dir, 'gone.json')} exists)`);
  });
});
