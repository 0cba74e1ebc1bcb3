/**
 * The runs API end to end: real demo services, a real worker on the shared dev server, requests
 * through inject(). A killed service is recovered by POST /v1/runs; an emergency reset waits for an
 * approval that only an admin gives; pause/resume/cancel reach the run; GET /v1/runs filters through
 * visibility; conflicts are 409 with the running workflow id and start nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { probeComponent } from '../domain/probes';
import { MendClient } from '../client';
import { recoveryWorkflowId } from '../core/constants';
import type { Component } from '../core/schemas';
import { freePort } from '../scripts/ports';
import { bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import { httpStatus, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('runs API on real services', () => {
  const dir = tempDir('api-runs');
  const queue = uniqueQueue('api-runs');
  const suffix = Date.now().toString(36);
  let suite: RunbookSuite;
  let app: FastifyInstance;
  let tokens: TestTokens;
  const c = (prefix: string): Component => suite.config.components.find((x) => x.id.startsWith(prefix))!;
  const call = (method: 'GET' | 'POST', url: string, token: string, payload?: unknown) =>
    app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
  const run = async (id: string) => (await call('GET', `/v1/runs/${encodeURIComponent(id)}`, tokens.viewer)).json();

  before(async () => {
    const { file } = await writeDemoConfig(dir, [
      { id: `svc-${suffix}` },
      { id: `gate-${suffix}`, policy: { strategy: 'emergency-reset', approvalTimeout: '2m' } },
      { id: `other-${suffix}` },
    ]);
    suite = await startRunbookSuite(dir, queue, file);
    let table;
    ({ tokens, table } = makeTokens(`svc-${suffix}`));
    app = await testApp(suite.client, suite.config, table);
    for (const x of suite.config.components) {
      await startProcess(processAdapter(x));
      await waitFor(`${x.id} healthy`, 10_000, async () => (await probeComponent(x)).healthy);
    }
  });

  after(async () => {
    await app?.close();
    await suite?.stop();
  });

  test('POST /v1/runs recovers a killed service: 202 with its workflow id and Web UI link, recorded as started by the token', async () => {
    const svc = c('svc');
    const url = svc.probe.type === 'http' ? svc.probe.url : '';
    const first = await runningProcess(processAdapter(svc));
    process.kill(first!.pid, 'SIGKILL');
    await waitFor('service down', 5_000, async () => (await httpStatus(url)) === undefined);

    const res = await call('POST', '/v1/runs', tokens.operator, { strategy: 'immediate', components: [svc.id], reason: 'api test kill' });
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json();
    assert.equal(body.workflowId, recoveryWorkflowId(svc.id));
    assert.match(body.url, /\/namespaces\/default\/workflows\/mend%2Frecover%2Fsvc-/);
    assert.equal(body.runs.length, 1);

    const done = await waitFor('the run to complete', 30_000, async () => {
      const d = await run(body.workflowId);
      return d.status === 'COMPLETED' && d;
    });
    assert.equal(done.result.outcome, 'recovered');
    assert.deepEqual(
      done.result.steps.map((s: { name: string }) => s.name),
      ['probe', 'stop', 'start', 'validate'],
    );
    assert.equal(await httpStatus(url), 200);

    const desc = await suite.client.temporal.workflow.getHandle(body.workflowId).describe();
    assert.equal(desc.memo?.requestedBy, 'test-operator');
    assert.equal(desc.memo?.reason, 'api test kill');

    // Visibility catches up shortly after the run closes.
    const listed = await waitFor('the run in GET /v1/runs', 20_000, async () => {
      const list = (
        await call(
          'GET',
          `/v1/runs?component=${svc.id}&trigger=api&outcome=recovered&strategy=immediate&status=closed&since=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`,
          tokens.viewer,
        )
      ).json();
      return list.runs.length === 1 && list;
    });
    assert.equal(listed.runs[0].workflowId, body.workflowId);
    assert.equal(listed.runs[0].phase, 'completion');
    assert.match(listed.query, /MendComponents = "svc-/);
    const none = (await call('GET', `/v1/runs?component=${svc.id}&outcome=failed`, tokens.viewer)).json();
    assert.deepEqual(none.runs, [], 'filters narrow the list');

    const component = (await call('GET', `/v1/components/${svc.id}`, tokens.viewer)).json();
    assert.equal(component.recovery.workflowId, body.workflowId);
    assert.equal(component.recovery.outcome, 'recovered');
    assert.equal(component.adapter, 'process');
    assert.ok(!JSON.stringify(component).includes('service.js'), 'commands are not shown');
  });

  test('an emergency reset waits for an admin approval; pause and resume reach it; a second start is a 409 naming the run', async () => {
    const gate = c('gate');
    const started = await call('POST', '/v1/runs', tokens.admin, { strategy: 'emergency-reset', components: [gate.id], reason: 'drill' });
    assert.equal(started.statusCode, 202, started.body);
    const { workflowId, runId } = started.json();
    await waitFor('waiting for approval', 20_000, async () => (await run(workflowId)).progress?.approval?.state === 'waiting');

    const again = await call('POST', '/v1/runs', tokens.admin, { strategy: 'emergency-reset', components: [gate.id] });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().workflowId, workflowId);
    assert.equal(again.json().runId, runId);

    // All or nothing: another component in the same request does not start either.
    const other = c('other');
    const mixed = await call('POST', '/v1/runs', tokens.admin, { strategy: 'immediate', components: [other.id, gate.id] });
    assert.equal(mixed.statusCode, 409);
    assert.equal((await call('GET', `/v1/runs/${other.id}`, tokens.viewer)).statusCode, 404, 'the other component did not start');

    assert.equal((await call('POST', `/v1/runs/${gate.id}/pause`, tokens.operator, { reason: 'hold on' })).statusCode, 202);
    await waitFor('paused', 10_000, async () => (await run(gate.id)).progress?.paused === true);
    const resumed = await call('POST', `/v1/runs/${encodeURIComponent(workflowId)}/resume`, tokens.operator);
    assert.equal(resumed.statusCode, 202);
    assert.deepEqual(resumed.json(), { workflowId, action: 'resume', by: 'test-operator' });
    await waitFor('resumed', 10_000, async () => (await run(gate.id)).progress?.paused === false);

    assert.equal((await call('POST', `/v1/runs/${gate.id}/approve`, tokens.operator, { approve: true })).statusCode, 403);
    const rejected = await call('POST', `/v1/runs/${gate.id}/approve`, tokens.admin, { approve: false, reason: 'not today' });
    assert.equal(rejected.statusCode, 200, rejected.body);
    assert.equal(rejected.json().state, 'rejected');
    assert.equal(rejected.json().by, 'test-admin', 'the approval records the token name');

    const done = await waitFor('the run to end', 20_000, async () => {
      const d = await run(workflowId);
      return d.status === 'COMPLETED' && d;
    });
    assert.equal(done.result.outcome, 'cancelled');
    assert.equal(done.result.approval.by, 'test-admin');

    const late = await call('POST', `/v1/runs/${gate.id}/pause`, tokens.operator);
    assert.equal(late.statusCode, 409, late.body);
    assert.match(late.json().message, /has ended \(completed\)/);
    const lateApproval = await call('POST', `/v1/runs/${gate.id}/approve`, tokens.admin, {});
    assert.equal(lateApproval.statusCode, 409, lateApproval.body);
  });

  test('cancel stops a run waiting for approval', async () => {
    const gate = c('gate');
    const started = await call('POST', '/v1/runs', tokens.admin, { strategy: 'emergency-reset', components: [gate.id] });
    assert.equal(started.statusCode, 202, started.body);
    const { runId } = started.json();
    await waitFor('waiting for approval', 20_000, async () => (await run(gate.id)).progress?.approval?.state === 'waiting');
    const cancelled = await call('POST', `/v1/runs/${gate.id}/cancel`, tokens.operator, { reason: 'wrong component' });
    assert.equal(cancelled.statusCode, 202, cancelled.body);
    const done = await waitFor('the run to end', 20_000, async () => {
      const d = await run(gate.id);
      return d.runId === runId && d.status !== 'RUNNING' && d;
    });
    assert.ok(done.status === 'CANCELED' || done.result?.outcome === 'cancelled', `ended ${done.status} ${done.result?.outcome}`);
  });

  test('several components start one run each; an unknown component is a 404 naming it and starts nothing', async () => {
    const svc = c('svc');
    const other = c('other');
    const unknown = await call('POST', '/v1/runs', tokens.operator, { strategy: 'immediate', components: [other.id, 'no-such-thing'], dryRun: true });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().message, /unknown component no-such-thing \(known: /);
    assert.equal((await call('GET', `/v1/runs/${other.id}`, tokens.viewer)).statusCode, 404, 'nothing started');

    const dup = await call('POST', '/v1/runs', tokens.operator, { strategy: 'immediate', components: [other.id, other.id], dryRun: true });
    assert.equal(dup.statusCode, 400);

    await waitFor('the earlier svc run closed', 30_000, async () => (await run(svc.id)).status !== 'RUNNING');
    const res = await call('POST', '/v1/runs', tokens.operator, { strategy: 'immediate', components: [svc.id, other.id], dryRun: true });
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json();
    assert.deepEqual(
      body.runs.map((r: { component: string }) => r.component),
      [svc.id, other.id],
    );
    assert.equal(body.workflowId, recoveryWorkflowId(svc.id));
    for (const r of body.runs) {
      const d = await waitFor(`${r.workflowId} done`, 30_000, async () => {
        const x = await run(r.workflowId);
        return x.status === 'COMPLETED' && x;
      });
      assert.equal(d.result.outcome, 'planned');
    }
  });

  test('GET /v1/components lists the config without commands; an unknown id is a 404', async () => {
    const list = (await call('GET', '/v1/components', tokens.viewer)).json();
    assert.deepEqual(
      list.components.map((x: { id: string }) => x.id),
      suite.config.components.map((x) => x.id),
    );
    assert.equal(list.components[1].policy.strategy, 'emergency-reset');
    const missing = await call('GET', '/v1/components/nope', tokens.viewer);
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().message, /unknown component nope/);
    const bad = await call('GET', '/v1/components/..%2Fetc', tokens.viewer);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().issues[0].path, 'params.id');
  });

  test('GET /metrics counts requests by route template and the runs the API started, and how many run now', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    // Blank lines between families are allowed by the format.
    const lines = res.body
      .trim()
      .split('\n')
      .filter((l) => l !== '');
    for (const line of lines) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? \d+(\.\d+)?(e[-+]?\d+)?)$/, line);
    const value = (series: string) => Number(lines.find((l) => l.startsWith(`${series} `))?.split(' ')[1]);
    assert.ok(value('mend_api_runs_started_total{strategy="immediate",trigger="api"}') >= 3, res.body);
    assert.ok(value('mend_api_runs_started_total{strategy="emergency-reset",trigger="api"}') >= 2);
    assert.ok(value('mend_api_requests_total{method="GET",route="/v1/runs/:id",status="200"}') >= 1);
    // The request durations are a whole histogram: buckets, sum and count.
    assert.ok(lines.includes('# TYPE mend_api_request_duration_seconds histogram'), res.body);
    const runReads = value('mend_api_request_duration_seconds_count{method="GET",route="/v1/runs/:id"}');
    assert.ok(runReads >= 1, res.body);
    assert.equal(value('mend_api_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/runs/:id"}'), runReads);
    assert.ok(value('mend_api_request_duration_seconds_sum{method="GET",route="/v1/runs/:id"}') > 0);
    assert.equal(value('mend_temporal_up'), 1);
    assert.ok(value('mend_runs_running') >= 0);
    assert.ok(!res.body.includes(c('svc').id), 'no component ids or raw URLs in labels');
  });

  test('Temporal unreachable: 503 with Retry-After, never a 500', async () => {
    const down = await MendClient.connect({ address: `127.0.0.1:${await freePort()}`, lazy: true });
    const admin = makeTokens('x');
    const downApp = await testApp(down, suite.config, admin.table, { temporalDeadlineMs: 1_000 });
    try {
      for (const [method, url, payload] of [
        ['POST', '/v1/runs', { strategy: 'immediate', components: [c('other').id] }],
        ['GET', '/v1/runs', undefined],
        ['GET', `/v1/runs/${c('svc').id}`, undefined],
        ['POST', `/v1/runs/${c('svc').id}/pause`, undefined],
        // A read that asks the supervisor (a query): `npm run fuzz` found it answering 500 when the query timed out.
        ['GET', `/v1/components/${c('svc').id}`, undefined],
      ] as const) {
        const res = await downApp.inject({ method, url, headers: bearer(admin.tokens.admin), ...(payload ? { payload } : {}) });
        assert.equal(res.statusCode, 503, `${method} ${url}: ${res.body}`);
        assert.equal(res.headers['retry-after'], '5');
      }
    } finally {
      await downApp.close();
      await down.close();
    }
  });
  test('cancelling a run that has ended is a 409 naming its state; the run gets no cancellation request', async () => {
    const other = c('other');
    await waitFor('no run of other running', 30_000, async () => (await call('GET', `/v1/runs/${other.id}`, tokens.viewer)).json().status !== 'RUNNING');
    const started = await call('POST', '/v1/runs', tokens.operator, { strategy: 'immediate', components: [other.id], dryRun: true });
    assert.equal(started.statusCode, 202, started.body);
    const { workflowId, runId } = started.json();
    await waitFor('the run to end', 30_000, async () => (await run(workflowId)).status === 'COMPLETED');

    const res = await call('POST', `/v1/runs/${other.id}/cancel`, tokens.operator, { reason: 'too late' });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().message, `${workflowId} has ended (completed)`);
    assert.equal(res.json().workflowId, workflowId);
    assert.equal(res.json().runId, runId);
    const history = await suite.client.temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    assert.ok(!history.events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes), 'a cancellation request reached the ended run');
  });
});
