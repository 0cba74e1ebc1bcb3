/**
 * The `emergency-reset` runbook on the shared dev server with real processes: it waits for an
 * approval (the `approve` update, from the CLI), does nothing when rejected or timed out, and once
 * approved stops dependents before what they depend on, moves state aside and starts in order.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { probeComponent } from '../domain/probes';
import type { MendClient } from '../client';
import type { RecoveryResult } from '../core/run';
import type { Component, Config } from '../core/schemas';
import { demoStarts, recordHistory, runCli, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('emergency reset', () => {
  const dir = tempDir('emergency');
  const queue = uniqueQueue('emergency');
  const suffix = Date.now().toString(36);
  let config: Config;
  let client: MendClient;
  let suite: RunbookSuite;
  const env = () => suite.env;
  const c = (prefix: string): Component => config.components.find((x) => x.id.startsWith(prefix))!;
  const pidOf = async (x: Component) => (await runningProcess(processAdapter(x)))?.pid;
  const start = (x: Component) =>
    client.startRecovery({ strategy: 'emergency-reset', component: x, trigger: 'manual', requestedBy: 'test', allComponents: config.components });
  const waitingForApproval = (workflowId: string) =>
    waitFor('the run to wait for approval', 15_000, async () => (await client.progress(workflowId)).approval?.state === 'waiting');

  before(async () => {
    const { file } = await writeDemoConfig(dir, [
      { id: `db-${suffix}`, state: { paths: [`state/db-${suffix}.json`] }, policy: { approvalTimeout: '2m' } },
      { id: `app-${suffix}`, dependsOn: [`db-${suffix}`] },
      { id: `lone-${suffix}`, policy: { approvalTimeout: '1s' } },
      { id: `auto-${suffix}`, policy: { preApproved: true } },
    ]);
    suite = await startRunbookSuite(dir, queue, file);
    ({ config, client } = suite);
    for (const x of config.components) {
      await startProcess(processAdapter(x));
      // Healthy means it has also written its state file, whose start counter the tests read.
      await waitFor(`${x.id} healthy`, 10_000, async () => (await probeComponent(x)).healthy);
    }
  });

  after(() => suite?.stop());

  test('waits for approval, touching nothing; once approved stops dependents first, moves state aside and starts in order', async () => {
    const db = c('db');
    const app = c('app');
    const before = { db: await pidOf(db), app: await pidOf(app), dbStarts: demoStarts(dir, db.id), appStarts: demoStarts(dir, app.id) };
    const run = await start(db);
    await waitingForApproval(run.workflowId);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await pidOf(db), before.db, 'db untouched while waiting');
    assert.equal(await pidOf(app), before.app, 'app untouched while waiting');

    const approved = await runCli(['approve', db.id, '--reason', 'disk replaced', '--by', 'alice'], env());
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /approved by alice \(disk replaced\)/);

    const result = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.deepEqual(result.approval, { state: 'approved', by: 'alice', reason: 'disk replaced' });
    const acting = result.steps.filter((s) => ['stop', 'start', 'validate'].includes(s.name)).map((s) => `${s.name} ${s.component}`);
    assert.deepEqual(acting, [`stop ${app.id}`, `stop ${db.id}`, `start ${db.id}`, `validate ${db.id}`, `start ${app.id}`, `validate ${app.id}`]);
    assert.notEqual(await pidOf(db), before.db);
    assert.notEqual(await pidOf(app), before.app);
    // db's state was moved aside, so it started fresh (its start counter began again at 1).
    assert.equal(demoStarts(dir, db.id), 1);
    assert.equal(demoStarts(dir, app.id), before.appStarts + 1);
    assert.ok(existsSync(db.state.asideDir!) && readdirSync(db.state.asideDir!).length === 1, 'one run folder holds the old state');

    const again = await runCli(['approve', db.id, '--by', 'bob'], env());
    assert.equal(again.code, 1, `an approval when nothing waits is refused: ${again.stderr}`);
    assert.match(again.stderr, /^mend: .*not waiting for an approval/);
    recordHistory(run.workflowId, run.runId, 'emergency-reset-approved.json');
  });

  test('rejected: the run ends cancelled and nothing is stopped or started', async () => {
    const db = c('db');
    const pids = [await pidOf(db), await pidOf(c('app'))];
    const starts = demoStarts(dir, db.id);
    const run = await start(db);
    await waitingForApproval(run.workflowId);
    const rejected = await runCli(['approve', run.workflowId, '--reject', '--reason', 'not during the sale'], env());
    assert.equal(rejected.code, 0, rejected.stderr);
    const result = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'cancelled');
    assert.match(result.reason ?? '', /rejected by .*not during the sale; nothing was done/);
    assert.deepEqual([await pidOf(db), await pidOf(c('app'))], pids);
    assert.equal(demoStarts(dir, db.id), starts);
    assert.ok(!result.steps.some((s) => ['stop', 'start', 'aside'].includes(s.name)));
  });

  test('no approval within the timeout: needs-attention, nothing done', async () => {
    const lone = c('lone');
    const pid = await pidOf(lone);
    const run = await start(lone);
    const result: RecoveryResult = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'needs-attention');
    assert.equal(result.approval?.state, 'timed-out');
    assert.match(result.reason ?? '', /no approval within 1000ms; nothing was done/);
    assert.equal(await pidOf(lone), pid);
  });

  test('pre-approved by policy: resets without waiting', async () => {
    const auto = c('auto');
    const pid = await pidOf(auto);
    const run = await start(auto);
    const result = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.equal(result.approval?.state, 'pre-approved');
    assert.notEqual(await pidOf(auto), pid);
  });
});
