/**
 * The `state-recovery` runbook on the shared dev server: a real service whose state file was
 * corrupted is restored from the newest checkpoint whose sha256 manifest verifies, skipping a
 * tampered newer one; the corrupt state is moved aside, never deleted.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { createCheckpoint } from '../domain/state/checkpoint';
import type { RecoveryResult } from '../core/run';
import type { Component, Config } from '../core/schemas';
import {
  httpStatus,
  recordHistory,
  runCli,
  startRunbookSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type DemoService,
  type RunbookSuite,
} from './helpers';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('state recovery', () => {
  const dir = tempDir('state-recovery');
  const queue = uniqueQueue('state');
  const suffix = Date.now().toString(36);
  let config: Config;
  let services: DemoService[];
  let suite: RunbookSuite;
  const env = () => suite.env;
  const byId = (prefix: string): Component => config.components.find((c) => c.id.startsWith(prefix))!;
  const url = (prefix: string, p: string) => `http://127.0.0.1:${services.find((s) => s.id.startsWith(prefix))!.port}${p}`;
  const put = (prefix: string, key: string, value: string) => fetch(url(prefix, `/items/${key}`), { method: 'PUT', body: value }).then((r) => r.status);

  before(async () => {
    const written = await writeDemoConfig(dir, [
      { id: `store-${suffix}`, state: { paths: [`state/store-${suffix}.json`] }, policy: { strategy: 'state-recovery', timeout: '5s' } },
      { id: `bare-${suffix}`, state: { paths: [`state/bare-${suffix}.json`] }, policy: { strategy: 'state-recovery', timeout: '5s' } },
    ]);
    services = written.services;
    suite = await startRunbookSuite(dir, queue, written.file);
    ({ config } = suite);
  });

  after(() => suite?.stop());

  test('a corrupted state file is restored from the newest checkpoint that verifies; a tampered newer one is skipped', async () => {
    const store = byId('store');
    const stateFile = store.state.paths[0]!;
    await startProcess(processAdapter(store));
    await waitFor('store healthy', 10_000, async () => (await httpStatus(url('store', '/healthz'))) === 200);

    assert.equal(await put('store', 'order-1', 'paid'), 200);
    const good = await createCheckpoint(store, { label: 'good' });
    assert.equal(await put('store', 'order-2', 'shipped'), 200);
    await new Promise((r) => setTimeout(r, 5)); // distinct, ordered checkpoint ids
    const tampered = await createCheckpoint(store, { label: 'will be tampered' });
    const tamperedFile = filesUnder(tampered.dir).find((f) => path.basename(f) !== 'manifest.json')!;
    writeFileSync(tamperedFile, readFileSync(tamperedFile, 'utf8').replace('shipped', 'SHIPPED'));

    // The live state gets corrupted and the service dies: it cannot start on this state (exit 3).
    process.kill((await runningProcess(processAdapter(store)))!.pid, 'SIGKILL');
    writeFileSync(stateFile, '{"items": {"order-1": "pa');

    const res = await runCli(['run', 'state-recovery', store.id, '--config', path.join(dir, 'mend.config.yaml'), '--json'], env());
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const { result, workflowId, runId } = (JSON.parse(res.stdout) as Array<{ workflowId: string; runId: string; result: RecoveryResult }>)[0]!;
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.deepEqual(
      result.steps.map((s) => s.name),
      ['probe', 'select', 'stop', 'aside', 'cleanup', 'restore', 'start', 'validate'],
    );
    const select = result.steps.find((s) => s.name === 'select')!;
    assert.match(select.detail ?? '', new RegExp(`skipped ${tampered.id}`), 'the tampered checkpoint is named as skipped');
    assert.match(select.detail ?? '', new RegExp(`chose ${good.id}`));

    // The service answers with the state of the good checkpoint.
    assert.equal(await httpStatus(url('store', '/healthz')), 200);
    const item = await fetch(url('store', '/items/order-1')).then((r) => r.json() as Promise<{ value: string }>);
    assert.equal(item.value, 'paid');
    assert.equal(await httpStatus(url('store', '/items/order-2')), 404, 'nothing from the tampered checkpoint');

    // The corrupt state was moved aside, not deleted.
    const aside = filesUnder(store.state.asideDir!).map((f) => readFileSync(f, 'utf8'));
    assert.ok(aside.includes('{"items": {"order-1": "pa'), 'the corrupt state file is kept aside');
    recordHistory(workflowId, runId, 'state-recovery-restored.json');
  });

  test('with no checkpoint that verifies, nothing is touched and the run fails with the reason', async () => {
    const bare = byId('bare');
    const stateFile = bare.state.paths[0]!;
    writeFileSync(stateFile, 'not json');
    const res = await runCli(['run', 'state-recovery', bare.id, '--config', path.join(dir, 'mend.config.yaml'), '--no-escalation'], env());
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /no newest checkpoint of .* verifies; state left untouched/);
    assert.equal(readFileSync(stateFile, 'utf8'), 'not json', 'the state file is as it was');
    assert.equal(existsSync(path.join(bare.state.asideDir!)), false, 'nothing moved aside');
    assert.equal(await runningProcess(processAdapter(bare)), undefined, 'nothing started');
  });
});
