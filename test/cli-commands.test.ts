/**
 * The `mend` commands operators use, run as a user would (bin/mend in a child process) against a
 * real worker, real demo services and the shared dev server: schedules, components, check, runs,
 * status, pause/resume/cancel, stats; the same through the HTTP API with MEND_URL/MEND_TOKEN; and
 * POST /v1/components/:id/check and the supervisor in GET /v1/components/:id.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { processAdapter, runningProcess, startProcess, stopProcess } from '../domain/adapters/process';
import { deleteHealthSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { CheckResultSchema, ComponentDetailSchema } from '../core/api';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { Component } from '../core/schemas';
import { bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import { httpStatus, recordHistory, runCli, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

const urlOf = (c: Component) => (c.probe.type === 'http' ? c.probe.url : '');

describe('mend commands against a running worker', () => {
  const dir = tempDir('cli-commands');
  const queue = uniqueQueue('cli-commands');
  const suffix = Date.now().toString(36);
  const group = `cli-${suffix}`;
  const A = `watched-${suffix}`;
  const B = `plain-${suffix}`;
  let suite: RunbookSuite;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  let app: FastifyInstance;
  let apiUrl: string;
  let tokens: TestTokens;
  const component = (id: string) => suite.config.components.find((c) => c.id === id)!;
  const recordCheck = async (id: string, file: string) => {
    const d = await suite.client.temporal.workflow.getHandle(`mend/check/${id}`).describe();
    recordHistory(d.workflowId, d.runId, file);
  };

  before(async () => {
    // A is supervised (a group of its own, swept hourly: only the first sweep, triggered below, runs); B is not.
    const { file } = await writeDemoConfig(dir, [
      { id: A, supervision: { group, interval: '1h', startupGrace: '0s' } },
      { id: B, supervision: { enabled: false }, policy: { approvalTimeout: '10m' } },
    ]);
    configFile = file;
    suite = await startRunbookSuite(dir, queue, file);
    env = { ...suite.env, MEND_CONFIG: configFile };
    for (const c of suite.config.components) await startProcess(processAdapter(c));
    for (const c of suite.config.components) await waitFor(`${c.id} healthy`, 15_000, async () => (await httpStatus(urlOf(c))) === 200);
    const made = makeTokens(A);
    tokens = made.tokens;
    app = await testApp(suite.client, suite.config, made.table);
    apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await app?.close();
    if (!suite) return;
    await deleteHealthSchedules(suite.client, queue, [`mend/health/${group}`]).catch(() => undefined);
    await suite.client.temporal.workflow
      .getHandle(supervisorWorkflowId(A))
      .terminate('test over')
      .catch(() => undefined);
    await suite.client.temporal.workflow
      .getHandle(recoveryWorkflowId(B))
      .terminate('test over')
      .catch(() => undefined);
    await suite.stop();
  });

  test("schedules --reconcile creates the group's schedule and lists it as a table", async () => {
    const res = await runCli(['schedules', '--reconcile'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^reconciled: 1 created, 0 updated, 0 deleted/m);
    assert.match(res.stdout, /^SCHEDULE\s+GROUP\s+HOST\s+EVERY\s+PAUSED\s+QUEUE\s+COMPONENTS$/m);
    assert.match(res.stdout, new RegExp(`^mend/health/${group}\\s+${group}\\s+local\\s+1h\\s+no\\s+${queue}\\s+${A}$`, 'm'));
    // Its first sweep now: A's supervisor appears and sees A healthy.
    await suite.client.temporal.schedule.getHandle(`mend/health/${group}`).trigger();
    await waitFor(`supervisor of ${A} sees it healthy`, 60_000, async () => (await supervisorState(suite.client, A))?.health === 'healthy');
  });

  test('schedules shows why a paused schedule is paused (its note), in the table and in --json; none once resumed', async () => {
    const handle = suite.client.temporal.schedule.getHandle(`mend/health/${group}`);
    const note = 'db migration until 14:00 (alice)';
    await handle.pause(note);
    try {
      const res = await runCli(['schedules'], env);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`^mend/health/${group}\\s+${group}\\s+local\\s+1h\\s+yes\\s+${queue}\\s+${A}$`, 'm'));
      assert.match(res.stdout, new RegExp(`^mend/health/${group} paused: db migration until 14:00 \\(alice\\)$`, 'm'));
      const json = await runCli(['schedules', '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      const mine = (JSON.parse(json.stdout) as Array<{ scheduleId: string; paused: boolean; pauseNote?: string }>).find(
        (s) => s.scheduleId === `mend/health/${group}`,
      );
      assert.deepEqual([mine?.paused, mine?.pauseNote], [true, note]);
    } finally {
      await handle.unpause('test: resumed');
    }
    const resumed = await runCli(['schedules', '--json'], env);
    const again = (JSON.parse(resumed.stdout) as Array<{ scheduleId: string; paused: boolean; pauseNote?: string }>).find(
      (s) => s.scheduleId === `mend/health/${group}`,
    );
    assert.deepEqual([again?.paused, again?.pauseNote], [false, undefined]);
    assert.doesNotMatch((await runCli(['schedules'], env)).stdout, / paused: /);
  });

  test('components: a table of the config with health and breaker from the supervisors; --json', async () => {
    const res = await runCli(['components'], env);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.match(lines[0]!, /^COMPONENT\s+ADAPTER\s+PROBE\s+DEPENDS ON\s+STRATEGY\s+HEALTH\s+BREAKER\s+RECOVERING$/);
    assert.match(lines[1]!, new RegExp(`^${A}\\s+process\\s+http\\s+-\\s+immediate\\s+healthy\\s+closed\\s+-$`));
    assert.match(lines[2]!, new RegExp(`^${B}\\s+process\\s+http\\s+-\\s+immediate\\s+off\\s+-\\s+-$`), 'supervision disabled: off');
    const json = await runCli(['components', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as Array<{ id: string; health: string; breaker: string; consecutiveFailures?: number }>;
    assert.deepEqual(
      rows.map((r) => [r.id, r.health, r.breaker, r.consecutiveFailures]),
      [
        [A, 'healthy', 'closed', 0],
        [B, 'off', '-', undefined],
      ],
    );
  });

  test('components still lists the config when Temporal is not reachable (health unknown), exit 0', async () => {
    const res = await runCli(['components'], { ...env, MEND_TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`^${A}\\s.*\\?\\s+-\\s+-$`, 'm'));
    assert.match(res.stdout, /^health unknown: Temporal is not reachable/m);
  });

  test('check: one line; exit 0 healthy, 1 unhealthy (with the failure class), 2 for an unknown component, 3 without Temporal', async () => {
    const ok = await runCli(['check', A], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^${A}: healthy \\(HTTP 200, \\d+ms\\)\\n$`));

    const json = await runCli(['check', A, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const parsed = CheckResultSchema.parse(JSON.parse(json.stdout));
    assert.equal(parsed.healthy, true);
    assert.equal(parsed.reported, true, "A's supervisor got the result");
    await recordCheck(A, 'check-healthy-reported.json');

    const b = component(B);
    await stopProcess(processAdapter(b));
    const down = await runCli(['check', B], env);
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stdout, new RegExp(`^${B}: unhealthy \\[network\\] ECONNREFUSED.*\\(\\d+ms\\)\\n$`));
    const downJson = JSON.parse((await runCli(['check', B, '--json'], env)).stdout) as { healthy: boolean; failureClass: string; reported: boolean };
    assert.deepEqual([downJson.healthy, downJson.failureClass, downJson.reported], [false, 'network', false]);
    await recordCheck(B, 'check-unhealthy-no-supervisor.json');

    const unknown = await runCli(['check', 'no-such-component'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^mend: components: unknown component "no-such-component" \(known: .*\)\n$/);

    const unreachable = await runCli(['check', A], { ...env, MEND_TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(unreachable.code, 3);
    assert.match(unreachable.stderr, /^mend: Temporal is not reachable/);
  });

  test('check with no worker on the task queue gives up with one line, exit 3', async () => {
    const lonely = uniqueQueue('cli-no-worker');
    const res = await runCli(['check', A], { ...env, MEND_TASK_QUEUE: lonely });
    assert.equal(res.code, 3, res.stderr);
    assert.equal(res.stderr, `mend: no worker on task queue ${lonely} checked ${A} within 21s (is the worker running?)\n`);
  });

  test('run, then runs lists it with filters (table and --json); status shows it; a bad filter is exit 2', async () => {
    const b = component(B);
    const run = await runCli(['run', 'immediate', B, '--reason', 'cli test'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`${B}: recovered in `));
    assert.equal(await httpStatus(urlOf(b)), 200);

    const listed = await waitFor('the run in visibility with its outcome', 30_000, async () => {
      const res = await runCli(['runs', '--component', B, '--strategy', 'immediate', '--outcome', 'recovered'], env);
      return res.code === 0 && res.stdout.includes(recoveryWorkflowId(B)) && res;
    });
    const lines = listed.stdout.trim().split('\n');
    assert.match(lines[0]!, /^RUN\s+STATUS\s+STRATEGY\s+PHASE\s+OUTCOME\s+TRIGGER\s+STARTED\s+COMPONENTS$/);
    assert.match(lines[1]!, new RegExp(`^mend/recover/${B}\\s+COMPLETED\\s+immediate\\s+\\S+\\s+recovered\\s+manual\\s+\\S+Z\\s+${B}$`));
    assert.equal(lines.length, 2, 'only the matching run');

    const json = await runCli(['runs', '--component', B, '--trigger', 'manual', '--limit', '5', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const list = JSON.parse(json.stdout) as { query: string; runs: Array<{ workflowId: string; type: string }> };
    assert.match(list.query, new RegExp(`MendComponents = "${B}"`));
    assert.ok(
      list.runs.some((r) => r.workflowId === recoveryWorkflowId(B) && r.type === 'immediateRestart'),
      json.stdout,
    );
    assert.ok(
      list.runs.some((r) => r.workflowId === `mend/check/${B}`),
      'checks are runs too (their trigger is manual)',
    );

    const none = await runCli(['runs', '--component', B, '--outcome', 'failed'], env);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /^no runs match/);

    for (const [args, message] of [
      [['--since', 'yesterday'], /^mend: --since: expected an ISO 8601 time/],
      [['--limit', '0'], /^mend: --limit: /],
      [['--strategy', 'Re Boot!'], /^mend: --strategy: /],
    ] as const) {
      const bad = await runCli(['runs', ...args], env);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, message);
    }

    const status = await runCli(['status', B], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^mend/recover/${B} \\(immediateRestart\\) COMPLETED since `));
    assert.match(status.stdout, new RegExp(`${B}: recovered in `));
    const missing = await runCli(['status', 'mend/recover/never-ran'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^mend: no run mend\/recover\/never-ran\n$/);
  });

  test('pause, resume and cancel a run waiting for an approval; status follows; exit codes', async () => {
    const started = await runCli(['run', 'emergency-reset', B, '--no-wait', '--json'], env);
    assert.equal(started.code, 0, started.stderr);
    const workflowId = (JSON.parse(started.stdout) as Array<{ workflowId: string }>)[0]!.workflowId;
    await waitFor('the reset to wait for an approval', 30_000, async () => (await suite.client.progress(workflowId)).approval?.state === 'waiting');

    const paused = await runCli(['pause', B, '--reason', 'cli test'], env);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout, `paused ${workflowId}\n`);
    await waitFor('the run to say it is paused', 15_000, async () => (await suite.client.progress(workflowId)).paused);
    const status = await runCli(['status', B], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^${workflowId} \\(emergencyReset\\) RUNNING since `));

    const resumed = await runCli(['resume', B], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(resumed.stdout, `resumed ${workflowId}\n`);
    await waitFor('the run to say it is no longer paused', 15_000, async () => !(await suite.client.progress(workflowId)).paused);

    const cancelled = await runCli(['cancel', B], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout, `cancellation requested for ${workflowId}\n`);
    const result = await suite.client.result(workflowId);
    assert.equal(result.outcome, 'cancelled');
    const after = await runCli(['status', B], env);
    assert.equal(after.code, 1, 'a cancelled run is not a success');
    assert.match(after.stdout, /cancelled/);
    assert.equal(await httpStatus(urlOf(component(B))), 200, 'nothing was reset');

    const gone = await runCli(['pause', 'mend/recover/never-ran'], env);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /^mend: no run mend\/recover\/never-ran\n$/);
  });

  test('stats: a table per supervised component and the fleet', async () => {
    const res = await runCli(['stats'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^COMPONENT\s+HEALTH\s+BREAKER\s+RECOVERIES\s+OK\s+FAILED\s+RELAPSED\s+SUCCESS/m);
    assert.match(res.stdout, new RegExp(`^${A}\\s+healthy\\s+closed\\s+0\\s+0\\s+0\\s+0\\s+-`, 'm'));
    assert.match(res.stdout, /^\(fleet\)\s+1 supervised\s+0 not closed/m);
    assert.doesNotMatch(res.stdout, new RegExp(`^${B}\\s`, 'm'), 'B is not supervised');
  });

  test('API: POST /v1/components/:id/check probes now; GET /v1/components/:id shows the supervisor (null without one)', async () => {
    const check = await app.inject({ method: 'POST', url: `/v1/components/${A}/check`, headers: bearer(tokens.operator) });
    assert.equal(check.statusCode, 200, check.body);
    const result = CheckResultSchema.parse(check.json());
    assert.deepEqual([result.component, result.healthy, result.reported], [A, true, true]);
    assert.match(result.detail, /^HTTP 200$/);
    assert.ok(!Number.isNaN(Date.parse(result.checkedAt)));

    assert.equal(
      (await app.inject({ method: 'POST', url: `/v1/components/${A}/check`, headers: bearer(tokens.viewer) })).statusCode,
      403,
      'a viewer may not check',
    );
    assert.equal(
      (await app.inject({ method: 'POST', url: `/v1/components/${B}/check`, headers: bearer(tokens.scoped) })).statusCode,
      403,
      "outside the token's scope",
    );
    const unknown = await app.inject({ method: 'POST', url: '/v1/components/nope/check', headers: bearer(tokens.operator) });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().message, /^unknown component nope/);

    const detail = ComponentDetailSchema.parse((await app.inject({ method: 'GET', url: `/v1/components/${A}`, headers: bearer(tokens.viewer) })).json());
    assert.ok(detail.supervisor, 'A has a supervisor');
    assert.equal(detail.supervisor.workflowId, supervisorWorkflowId(A));
    assert.equal(detail.supervisor.health, 'healthy');
    assert.equal(detail.supervisor.consecutiveFailures, 0);
    assert.equal(detail.supervisor.breaker.state, 'closed');
    assert.equal(detail.supervisor.current, undefined);
    assert.equal(detail.supervisor.paused, false);
    assert.equal(detail.supervisor.stats.component, A);
    assert.equal(detail.supervisor.stats.attempted, 0);
    const plain = ComponentDetailSchema.parse((await app.inject({ method: 'GET', url: `/v1/components/${B}`, headers: bearer(tokens.viewer) })).json());
    assert.equal(plain.supervisor, null);
    assert.equal(plain.recovery?.workflowId, recoveryWorkflowId(B));
  });

  test('through the API (MEND_URL, MEND_TOKEN): components, check, runs; API errors keep the exit codes', async () => {
    const viaApi = { ...env, MEND_URL: apiUrl, MEND_TOKEN: tokens.operator, MEND_TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const components = await runCli(['components'], viaApi);
    assert.equal(components.code, 0, components.stderr);
    assert.match(components.stdout, new RegExp(`^${A}\\s+process\\s+http\\s+-\\s+immediate\\s+healthy\\s+closed\\s+-$`, 'm'));
    assert.match(components.stdout, new RegExp(`^${B}\\s+process\\s+http\\s+-\\s+immediate\\s+off\\s+-\\s+-$`, 'm'));

    const ok = await runCli(['check', A], viaApi);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^${A}: healthy \\(HTTP 200, \\d+ms\\)\\n$`));

    const runs = await runCli(['runs', '--component', B, '--strategy', 'immediate'], viaApi);
    assert.equal(runs.code, 0, runs.stderr);
    assert.match(runs.stdout, new RegExp(`^mend/recover/${B}\\s+COMPLETED\\s+immediate\\s`, 'm'));

    const unknown = await runCli(['check', 'nope'], viaApi);
    assert.equal(unknown.code, 2, 'unknown component: 404 → bad usage');
    assert.match(unknown.stderr, /^mend: unknown component nope/);
    const viewer = await runCli(['check', A], { ...viaApi, MEND_TOKEN: tokens.viewer });
    assert.equal(viewer.code, 1);
    assert.match(viewer.stderr, /^mend: test-viewer is viewer; this needs operator\n$/);
    const noApi = await runCli(['components'], { ...viaApi, MEND_URL: 'http://127.0.0.1:1' });
    assert.equal(noApi.code, 3);
    assert.match(noApi.stderr, /^mend: the mend API is not reachable at http:\/\/127.0.0.1:1/);
  });

  test('the watched component recovers by itself after a failed check (its supervisor acts on the report)', async () => {
    const a = component(A);
    const pid = (await runningProcess(processAdapter(a)))?.pid;
    assert.ok(pid, 'A runs');
    process.kill(pid, 'SIGKILL');
    const res = await runCli(['check', A], env);
    // Either the probe saw it down (exit 1), or the pid watch was faster and A is back already (exit 0).
    assert.ok(res.code === 0 || res.code === 1, res.stderr);
    await waitFor(`${A} recovered by its supervisor`, 60_000, async () => {
      const s = await supervisorState(suite.client, A);
      return s?.stats.succeeded === 1 && s.health === 'healthy';
    });
    assert.equal(await httpStatus(urlOf(a)), 200);
  });
});

describe('mend --help', () => {
  test('every command has help with an example; up --help does not start anything', async () => {
    const commands = [
      ['components'],
      ['check'],
      ['runs'],
      ['up'],
      ['run'],
      ['status'],
      ['pause'],
      ['resume'],
      ['cancel'],
      ['approve'],
      ['stats'],
      ['schedules'],
      ['config', 'validate'],
      ['schema'],
      ['checkpoint'],
      ['backlog'],
      ['backlog', 'status'],
      ['agent'],
      ['worker'],
      ['api'],
      ['hosts'],
      ['hosts', 'drain'],
      ['hosts', 'undrain'],
    ];
    for (let i = 0; i < commands.length; i += 4) {
      await Promise.all(
        commands.slice(i, i + 4).map(async (cmd) => {
          const res = await runCli([...cmd, '--help'], { MEND_HOME: path.join(tempDir('help'), '.mend') });
          assert.equal(res.code, 0, `${cmd.join(' ')}: ${res.stderr}`);
          assert.match(res.stdout, /^Usage: mend /, cmd.join(' '));
          assert.match(res.stdout, /Examples?:\n {2}mend /, `${cmd.join(' ')} --help has no example`);
        }),
      );
    }
    const up = await runCli(['up', '--help'], {});
    assert.match(up.stdout, /same as `npm start`/);
  });
});
