/**
 * Drills on the real dev server: a configured drill breaks a supervised demo service on purpose
 * (crash, hang), mend's supervisor recovers it, and the drill reports the time to recovery; a
 * drill with `every` gets its own schedule, reconciled idempotently with the health schedules.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processAdapter, startProcess } from '../domain/adapters/process';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { parseConfig } from '../core/config';
import { drillScheduleId, supervisorWorkflowId } from '../core/constants';
import type { DrillResult } from '../core/drill';
import { MendComponents, MendOutcome, MendPhase, MendStrategy } from '../core/search-attributes';
import { httpStatus, recordHistory, runCli, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('drills', () => {
  const dir = tempDir('drill');
  const queue = uniqueQueue('drill');
  const suffix = Date.now().toString(36);
  const id = `drilled-${suffix}`;
  const group = `drill-${suffix}`;
  let suite: RunbookSuite;
  let url = '';

  before(async () => {
    const supervision = {
      group,
      interval: '1s',
      failuresBeforeRecovery: 2,
      startupGrace: '0s',
      restartBackoff: { initial: '100ms' },
      backoffResetAfter: '1s',
      breaker: { maxRecoveries: 50 },
    };
    const drills = [
      { name: `crash-${suffix}`, component: id, fault: 'crash', timeout: '30s' },
      { name: `hang-${suffix}`, component: id, fault: 'hang', timeout: '30s' },
      { name: `nightly-${suffix}`, component: id, every: '24h' },
    ];
    const { file } = await writeDemoConfig(dir, [{ id, supervision }], `drills: ${JSON.stringify(drills)}\n`);
    suite = await startRunbookSuite(dir, queue, file);
    const c = suite.config.components[0]!;
    url = c.probe.type === 'http' ? c.probe.url : '';
    await startProcess(processAdapter(c));
    await waitFor('service healthy', 15_000, async () => (await httpStatus(url)) === 200);
    const reconciled = await reconcileSchedules(suite.client, suite.config);
    assert.deepEqual(reconciled.drills?.created, [drillScheduleId(`nightly-${suffix}`)]);
    await waitFor('supervisor sees it healthy', 30_000, async () => (await supervisorState(suite.client, id))?.health === 'healthy');
  });

  after(async () => {
    if (!suite) return;
    await suite.client.temporal.schedule
      .getHandle(drillScheduleId(`nightly-${suffix}`))
      .delete()
      .catch(() => undefined);
    await deleteHealthSchedules(suite.client, queue, [`mend/health/${group}`]);
    await suite.client.temporal.workflow
      .getHandle(supervisorWorkflowId(id))
      .terminate('test over')
      .catch(() => undefined);
    await suite.stop();
  });

  test('`mend drill` crashes a supervised service, the supervisor recovers it, and the drill reports the time to recovery', async () => {
    const before = (await supervisorState(suite.client, id))!.stats.attempted;
    const res = await runCli(['drill', `crash-${suffix}`, '--json'], { ...suite.env, MEND_CONFIG: `${dir}/mend.config.yaml` });
    assert.equal(res.code, 0, res.stderr);
    const result = JSON.parse(res.stdout) as DrillResult;
    assert.equal(result.outcome, 'recovered', result.detail);
    assert.match(result.detail, /^SIGKILL to pid \d+; healthy again after \d+ms$/);
    assert.ok(result.mttrMs! > 0 && result.mttrMs! < 30_000);
    assert.ok(Date.parse(result.recoveredAt!) - Date.parse(result.injectedAt!) === result.mttrMs);
    assert.equal(await httpStatus(url), 200);
    await waitFor('the supervisor to count the recovery', 20_000, async () => (await supervisorState(suite.client, id))!.stats.attempted > before);
    for await (const run of suite.client.temporal.workflow.list({ query: `WorkflowId STARTS_WITH "mend/drill/crash-${suffix}/" AND TaskQueue = "${queue}"` })) {
      recordHistory(run.workflowId, run.runId, 'drill-crash-recovered.json');
    }
  });

  test("a drill is a runbook like a recovery: its steps are in its progress, with the recovery's search attributes", async () => {
    // Visibility catches up with the run's last upsert shortly after it closes.
    const runs = await waitFor('the drill listed with its outcome', 10_000, async () => {
      const found = [];
      for await (const run of suite.client.temporal.workflow.list({ query: `WorkflowId STARTS_WITH "mend/drill/crash-${suffix}/" AND TaskQueue = "${queue}"` }))
        found.push(run);
      return found.length === 1 && found[0]!.typedSearchAttributes.get(MendOutcome) ? found : undefined;
    });
    const progress = await suite.client.progress(runs[0]!.workflowId);
    assert.deepEqual(
      progress.steps.map((s) => [s.name, s.status, s.component]),
      [
        ['probe', 'ok', id],
        ['inject', 'ok', id],
        ['watch', 'ok', id],
      ],
    );
    assert.equal(progress.phase, 'completion');
    const sa = runs[0]!.typedSearchAttributes;
    assert.deepEqual([sa.get(MendStrategy), sa.get(MendPhase), sa.get(MendOutcome), sa.get(MendComponents)], ['drill', 'completion', 'recovered', [id]]);
  });

  test('a hang drill is recovered too; the table output says how long it took', async () => {
    await waitFor(
      'healthy and settled',
      30_000,
      async () => (await supervisorState(suite.client, id))?.health === 'healthy' && (await httpStatus(url)) === 200,
    );
    const res = await runCli(['drill', `hang-${suffix}`], { ...suite.env, MEND_CONFIG: `${dir}/mend.config.yaml` });
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.match(res.stdout, /^started mend\/drill\/hang-\w+\/[0-9a-f]{8} → http/m);
    assert.match(res.stdout, new RegExp(`hang-${suffix}: ${id} recovered [\\d.]+m?s after the fault \\(SIGSTOP to pid \\d+`));
  });

  test('a second reconcile leaves the drill schedule alone; an unknown drill is a usage error', async () => {
    const again = await reconcileSchedules(suite.client, suite.config);
    assert.deepEqual(again.drills, { created: [], updated: [], deleted: [], unchanged: [drillScheduleId(`nightly-${suffix}`)] });
    const d = await suite.client.temporal.schedule.getHandle(drillScheduleId(`nightly-${suffix}`)).describe();
    assert.equal(d.spec.intervals?.[0]?.every, 24 * 3_600_000);
    const bad = await runCli(['drill', 'nope'], { ...suite.env, MEND_CONFIG: `${dir}/mend.config.yaml` });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mend: drills: unknown drill "nope" \(known: crash-\w+, hang-\w+, nightly-\w+\)\n$/);
  });

  test('config: a drill names a configured component, and crash or hang needs a process adapter', () => {
    const component = (adapter: string) => `components:\n  - id: web\n    adapter: ${adapter}\n    probe: { type: tcp, port: 1 }\n`;
    const proc = '{ type: process, command: [node, x.js] }';
    const cmd = '{ type: command, start: ["true"], stop: ["true"] }';
    const opts = { baseDir: '/etc/mend', stateDir: '/var/mend' };
    assert.throws(
      () => parseConfig(`${component(proc)}drills: [{ name: d, component: ghost }]\n`, 't.yaml', opts),
      /drills\[0\]\.component: unknown component "ghost"/,
    );
    assert.throws(
      () => parseConfig(`${component(cmd)}drills: [{ name: d, component: web, fault: hang }]\n`, 't.yaml', opts),
      /drills\[0\]\.fault: hang needs a process adapter/,
    );
    assert.throws(() => parseConfig(`${component(proc)}drills: [{ name: d, component: web, every: 30s }]\n`, 't.yaml', opts), /at least 1m between drills/);
    const ok = parseConfig(`${component(cmd)}drills: [{ name: d, component: web, fault: { command: [sh, break.sh] } }]\n`, 't.yaml', opts);
    assert.deepEqual(ok.drills[0]!.fault, { command: ['sh', 'break.sh'], cwd: '/etc/mend', timeout: 30_000 });
  });
});
