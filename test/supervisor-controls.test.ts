/**
 * Supervisor controls and edges on the real dev server: an `auth` failure alerts and never
 * restarts; `mend pause`/`mend resume` on a supervisor hold and release auto-recovery; a supervisor
 * continues as new with its state intact.
 */
import assert from 'node:assert/strict';
import { promises as fs, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../activities/adapters/process';
import { deleteHealthSchedules, reconcileSchedules, supervisorSpec } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { supervisorWorkflowId } from '../core/constants';
import { reportSignal } from '../core/messages';
import type { ProbeReport, SupervisorState } from '../core/supervision';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { bearer, makeTokens, testApp } from './api-fixtures';
import { demoStarts, httpStatus, runCli, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('supervisor controls', () => {
  const dir = tempDir('sup-controls');
  const queue = uniqueQueue('sup-controls');
  const suffix = Date.now().toString(36);
  const group = `controls-${suffix}`;
  const ids = { paused: `paused-${suffix}`, auth: `auth-${suffix}`, entity: `entity-${suffix}`, broken: `broken-${suffix}` };
  const alerts: Array<{ kind: string; component: string; text: string }> = [];
  let server: http.Server;
  let suite: RunbookSuite;
  let file: string;
  const state = async (id: string) => (await supervisorState(suite.client, id)) as SupervisorState;
  const component = (id: string) => suite.config.components.find((c) => c.id === id)!;

  before(async () => {
    // One local server: 401 on /secret (a probe with bad credentials), alerts on /hook.
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.url === '/hook') alerts.push(JSON.parse(body) as (typeof alerts)[number]);
        res.writeHead(req.url === '/secret' ? 401 : 204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const supervision = { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '100ms' } };
    ({ file } = await writeDemoConfig(dir, [{ id: ids.paused, supervision }], `supervision:\n  notify: { webhook: "${base}/hook" }\n`));
    // Two more components, not demo services: one whose probe answers 401, one never probed (its supervisor is driven by hand).
    const marker = path.join(dir, 'auth-restarts');
    const extra = [
      `  - id: ${ids.auth}`,
      `    adapter: { type: command, start: [sh, -c, "echo start >> ${marker}"], stop: ["true"] }`,
      `    probe: { type: http, url: "${base}/secret", timeout: 500ms }`,
      `    supervision: ${JSON.stringify(supervision)}`,
      `  - id: ${ids.entity}`,
      `    adapter: { type: command, start: ["true"], stop: ["true"] }`,
      `    probe: { type: tcp, port: 1 }`,
      `    supervision: { enabled: false, startupGrace: 1h }`,
      `  - id: ${ids.broken}`,
      `    adapter: { type: process, command: [node, -e, "process.exit(1)"] }`,
      `    probe: { type: tcp, port: 1, timeout: 200ms }`,
      `    policy: { strategy: immediate, timeout: 1s, validateInterval: 100ms }`,
      `    supervision: ${JSON.stringify({ ...supervision, breaker: { maxRecoveries: 1, window: '5m', coolDown: '1h' } })}`,
    ];
    const text = readFileSync(file, 'utf8').replace('\nsupervision:', `\n${extra.join('\n')}\nsupervision:`);
    writeFileSync(file, text);
    suite = await startRunbookSuite(dir, queue, file);
    await startProcess(processAdapter(component(ids.paused)));
    await waitFor('service healthy', 15_000, async () => (await httpStatus((component(ids.paused).probe as { url: string }).url)) === 200);
    await reconcileSchedules(suite.client, suite.config);
    await waitFor('supervisor sees it healthy', 30_000, async () => (await supervisorState(suite.client, ids.paused))?.health === 'healthy');
  });

  after(async () => {
    if (suite) {
      await deleteHealthSchedules(suite.client, queue, [`mend/health/${group}`]);
      for (const id of Object.values(ids)) await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).terminate('test over').catch(() => undefined);
      await suite.stop();
    }
    server?.close();
  });

  test('an auth failure alerts once and starts no recovery', async () => {
    const s = await waitFor('auth failure held', 30_000, async () => {
      const st = await supervisorState(suite.client, ids.auth);
      return st?.held?.startsWith('auth') && st;
    });
    assert.equal(s.lastFailureClass, 'auth');
    assert.equal(s.stats.attempted, 0);
    assert.ok(s.detectBackoffMs >= 1_000, 'detection backs off while nothing can be done');
    await waitFor('auth alert', 10_000, () => alerts.some((a) => a.kind === 'auth-failure' && a.component === ids.auth));
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal((await state(ids.auth)).stats.attempted, 0, 'still no recovery');
    assert.equal(alerts.filter((a) => a.kind === 'auth-failure').length, 1, 'alerted once');
    await assert.rejects(fs.readFile(path.join(dir, 'auth-restarts')), /ENOENT/, 'the start command never ran');
  });

  test('a recovery that fails is counted and alerted; the next failure opens the breaker', async () => {
    const s = await waitFor('breaker open after a failed recovery', 60_000, async () => {
      const st = await supervisorState(suite.client, ids.broken);
      return st?.breaker.state === 'open' && st;
    });
    assert.equal(s.stats.attempted, 1);
    assert.equal(s.stats.failed, 1);
    assert.equal(s.stats.succeeded, 0);
    assert.equal(s.stats.recent[0]!.outcome, 'failed');
    assert.match(s.stats.recent[0]!.reason ?? '', /exited before it was healthy \(pid \d+, exit code 1\)/);
    assert.equal(s.health, 'unhealthy');
    await waitFor('alerts for the failed recovery and the open breaker', 10_000, () =>
      ['recovery-failed', 'breaker-open'].every((kind) => alerts.some((a) => a.kind === kind && a.component === ids.broken)),
    );
    const failedAlert = alerts.find((a) => a.kind === 'recovery-failed' && a.component === ids.broken)!;
    assert.match(failedAlert.text, /ended failed: .* exited before it was healthy \(pid \d+, exit code 1\)/, 'the notification carries the reason');
  });

  test('`mend pause` on a supervisor holds auto-recovery; `mend resume` lets it recover', async () => {
    const id = ids.paused;
    const paused = await runCli(['pause', supervisorWorkflowId(id), '--reason', 'maintenance'], suite.env);
    assert.equal(paused.code, 0, paused.stderr);
    await waitFor('pause applied', 10_000, async () => (await state(id)).pausedUntil !== undefined);
    const starts = demoStarts(dir, id);
    process.kill((await runningProcess(processAdapter(component(id))))!.pid, 'SIGKILL');
    const held = await waitFor('failure held by the pause', 20_000, async () => {
      const s = await state(id);
      return s.held?.startsWith('paused') && s;
    });
    assert.equal(held.stats.attempted, 0);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(demoStarts(dir, id), starts, 'no restart while paused');

    const resumed = await runCli(['resume', supervisorWorkflowId(id)], suite.env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const recovered = await waitFor('recovered after resume', 30_000, async () => {
      const s = await state(id);
      return s.stats.succeeded === 1 && s.current === undefined && s;
    });
    assert.equal(recovered.pausedUntil, undefined);
    assert.equal(demoStarts(dir, id), starts + 1);
  });

  test('a recovery started by hand while the supervisor sees the crash is never doubled', async () => {
    const id = ids.paused;
    const starts = demoStarts(dir, id);
    const before = await state(id);
    process.kill((await runningProcess(processAdapter(component(id))))!.pid, 'SIGKILL');
    const manual = await suite.client
      .startRecovery({ strategy: 'immediate', component: component(id), trigger: 'manual', requestedBy: 'test' })
      .then((run) => suite.client.result(run.workflowId, run.runId))
      .catch((err: Error) => err);
    await waitFor('healthy again', 30_000, async () => (await httpStatus((component(id).probe as { url: string }).url)) === 200);
    // Give the supervisor every chance to (wrongly) start a second recovery.
    await new Promise((r) => setTimeout(r, 4_000));
    const after = await state(id);
    assert.equal(demoStarts(dir, id), starts + 1, 'exactly one restart');
    if (manual instanceof Error) {
      // The supervisor was first: the manual request was refused, the supervisor's run recovered it.
      assert.equal(manual.name, 'AlreadyRunningError');
      assert.equal(after.stats.attempted, before.stats.attempted + 1);
      // Counted as succeeded once it stays up for the relapse window.
      await waitFor('the recovery confirmed', 20_000, async () => (await state(id)).stats.succeeded === before.stats.succeeded + 1);
    } else {
      assert.equal(manual.outcome, 'recovered');
      assert.equal(after.stats.attempted, before.stats.attempted, 'the supervisor started nothing');
    }
    assert.equal(after.health, 'healthy');
  });

  test('a supervisor continues as new with its state and statistics intact', async () => {
    const id = ids.entity;
    const spec = supervisorSpec(component(id), suite.config);
    const handle = await suite.client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.supervisor, {
      workflowId: supervisorWorkflowId(id),
      taskQueue: queue,
      args: [{ spec, historyLimit: 10 }],
      signal: reportSignal,
      signalArgs: [{ healthy: true, detail: 'ok', checkedAt: new Date(Date.now() - 60_000).toISOString(), source: 'manual' } satisfies ProbeReport],
    });
    const firstRun = handle.signaledRunId;
    const t0 = Date.now() - 50_000;
    for (let i = 1; i <= 25; i++) {
      // Failures as a watch reports them (certain, so no confirmation probes newer than these reports).
      const failed = i % 5 === 0;
      const report: ProbeReport = { healthy: !failed, failureClass: failed ? 'unknown' : undefined, detail: `report ${i}`, checkedAt: new Date(t0 + i * 1_000).toISOString(), source: failed ? 'watch' : 'manual' };
      await handle.signal(reportSignal, report);
    }
    const s = await waitFor('all reports handled', 30_000, async () => {
      const st = await state(id);
      return st.lastReportAt === t0 + 25_000 && st;
    });
    assert.ok(s.generation >= 1, `continued as new (generation ${s.generation})`);
    assert.equal(s.stats.recentFailures.length, 5, 'every failure report is remembered across generations');
    assert.equal(s.health, 'unhealthy');
    const desc = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
    assert.notEqual(desc.runId, firstRun, 'a new run of the same supervisor id');
    assert.equal(desc.status.name, 'RUNNING');
  });

  test('the API lists the schedule and the stats; only an admin pauses, resumes or triggers a schedule', async () => {
    const { tokens, table } = makeTokens(ids.paused);
    const app = await testApp(suite.client, suite.config, table);
    const call = (method: 'GET' | 'POST', url: string, token: string) => app.inject({ method, url, headers: bearer(token) });
    try {
      const listed = await call('GET', '/v1/schedules', tokens.viewer);
      assert.equal(listed.statusCode, 200, listed.body);
      const schedule = (listed.json() as { schedules: Array<{ scheduleId: string; paused: boolean; components: string[] }> }).schedules.find((x) => x.scheduleId === `mend/health/${group}`);
      assert.ok(schedule, 'the group schedule is listed');
      assert.ok(schedule.components.includes(ids.paused));

      const stats = await call('GET', '/v1/stats', tokens.viewer);
      assert.equal(stats.statusCode, 200, stats.body);
      const body = stats.json() as { components: Array<{ component: string; health: string }> };
      assert.equal(body.components.find((c) => c.component === ids.paused)?.health, 'healthy');

      assert.equal((await call('POST', `/v1/schedules/${group}/pause`, tokens.operator)).statusCode, 403);
      assert.equal((await call('POST', '/v1/schedules/not-a-group/pause', tokens.admin)).statusCode, 404);
      const paused = await call('POST', `/v1/schedules/${group}/pause`, tokens.admin);
      assert.equal(paused.statusCode, 200, paused.body);
      assert.equal((await suite.client.temporal.schedule.getHandle(`mend/health/${group}`).describe()).state.paused, true);
      assert.equal((await call('POST', `/v1/schedules/${group}/trigger`, tokens.admin)).statusCode, 200);
      assert.equal((await call('POST', `/v1/schedules/${group}/resume`, tokens.admin)).statusCode, 200);
      assert.equal((await suite.client.temporal.schedule.getHandle(`mend/health/${group}`).describe()).state.paused, false);
    } finally {
      await app.close();
    }
  });
});
