/**
 * Breaker reset for real: a service killed until its supervisor's breaker opens (with a cool-down
 * far beyond the test) is let go by `mend breaker reset` straight to Temporal, then, open again,
 * by POST /v1/components/:id/breaker/reset. Each reset lands in the supervisor's history with who
 * and why, alerts, and has the supervisor check the component at once: the service, still down,
 * is recovered without waiting for the cool-down. Viewers, unknown components and resets without
 * a reason are refused and change nothing.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import type { FastifyInstance } from 'fastify';
import { supervisorWorkflowId } from '../core/constants';
import { bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import type { Alert } from './alert-sink';
import { httpStatus, recordHistory, runCli, startBreakerSuite, waitFor, type BreakerSuite, type RunbookSuite } from './helpers';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

describe('resetting an open circuit breaker by hand', () => {
  const cliUser = `${os.userInfo().username}@cli`;
  let b: BreakerSuite;
  let suite: RunbookSuite;
  let id: string;
  let configFile: string;
  let alerts: Alert[];
  let app: FastifyInstance;
  let tokens: TestTokens;
  const state = () => b.state();
  const url = () => b.url();

  /** The supervisor's history: the reset updates with their arguments, and what the workflow did right after each. */
  async function resetsInHistory() {
    const { events } = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).fetchHistory();
    const all = (events ?? []) as HistoryEvent[];
    const decode = (data: Uint8Array | null | undefined) => (data ? (JSON.parse(Buffer.from(data).toString('utf8')) as unknown) : undefined);
    return all.flatMap((e, i) => {
      const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
      if (accepted?.acceptedRequest?.input?.name !== 'resetBreaker') return [];
      const args = decode(accepted.acceptedRequest.input.args?.payloads?.[0]?.data) as { by: string; reason: string };
      // What the supervisor did first after the reset (the reset's own alert aside): a probe of the
      // component: the reset's one-probe check, or (when a sweep's failure report got in first) the
      // usual confirmation, or the recovery pass of evidence confirmed already; each acts at once.
      const next = all
        .slice(i + 1)
        .map((n) => n.activityTaskScheduledEventAttributes)
        .find((a) => a && a.activityType?.name !== 'notifyWebhook');
      const input = decode(next?.input?.payloads?.[0]?.data) as { probes?: number; intervalMs?: number } | undefined;
      const markers = all
        .slice(0, i + 2)
        .map((n) => n.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data)
        .map((d) => (decode(d) as { id?: string } | undefined)?.id);
      return [
        {
          args,
          checkedNext:
            (next?.activityType?.name === 'confirmFailure' && (input?.probes ?? 0) >= 1) ||
            // Evidence already confirmed before the reset: the recovery pass goes on at once (run lookup, permit).
            ['recoveryRun', 'requestFleetPermit'].includes(next?.activityType?.name ?? ''),
          patched: markers.includes('supervisor-breaker-reset'),
        },
      ];
    });
  }

  before(async () => {
    // One recovery per window, and a cool-down no test waits out: only a reset lets it go.
    b = await startBreakerSuite('tripped', { maxRecoveries: 1, window: '30m', coolDown: '30m', healthyToClose: '1s' });
    ({ suite, id, configFile, alerts } = b);
    const made = makeTokens(id);
    tokens = made.tokens;
    app = await testApp(suite.client, suite.config, made.table);
  });

  after(async () => {
    await app?.close();
    await b?.stop();
  });

  test('mend breaker reset (straight to Temporal) closes an open breaker, records who and why, and the service still down is recovered at once', async () => {
    const open = await b.tripBreaker(1);
    assert.match(open.held ?? '', /circuit breaker open/);
    const attempted = open.stats.attempted;

    const missing = await runCli(['breaker', 'reset', id], { ...suite.env, MEND_CONFIG: configFile });
    assert.equal(missing.code, 2, 'no --reason is bad usage');
    assert.match(missing.stderr, /--reason/);
    const empty = await runCli(['breaker', 'reset', id, '--reason', '  '], { ...suite.env, MEND_CONFIG: configFile });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^mend: --reason: required/m);
    const unknown = await runCli(['breaker', 'reset', 'nope', '--reason', 'x'], { ...suite.env, MEND_CONFIG: configFile });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown component "nope"/);
    assert.equal((await state()).breaker.state, 'open', 'refused resets change nothing');

    const reset = await runCli(['breaker', 'reset', id, '--reason', 'disk freed by hand'], { ...suite.env, MEND_CONFIG: configFile });
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal(reset.stdout.trim(), `${id}: breaker closed (was open), reset by ${cliUser}: disk freed by hand; checking it now`);

    // Long before the 30-minute cool-down: the reset's check finds it down and the supervisor recovers it.
    const recovered = await waitFor('recovered after the reset', 60_000, async () => {
      const s = await state();
      return s.stats.attempted === attempted + 1 && s.current === undefined && s.health === 'healthy' && (await httpStatus(url())) === 200 && s;
    });
    assert.equal(recovered.breaker.state, 'closed');
    assert.deepEqual(
      { by: recovered.lastBreakerReset?.by, reason: recovered.lastBreakerReset?.reason, from: recovered.lastBreakerReset?.from },
      { by: cliUser, reason: 'disk freed by hand', from: 'open' },
    );

    const [first] = await resetsInHistory();
    assert.deepEqual(first, { args: { by: cliUser, reason: 'disk freed by hand' }, checkedNext: true, patched: true });
    await waitFor('breaker-reset alert', 10_000, () => alerts.some((a) => a.kind === 'breaker-reset'));
    const alert = alerts.find((a) => a.kind === 'breaker-reset')!;
    assert.equal(alert.component, id);
    assert.deepEqual(alert.details, { by: cliUser, reason: 'disk freed by hand', from: 'open' });
  });

  test('POST /v1/components/:id/breaker/reset: a viewer gets 403, an unknown component 404, no reason 400; an operator resets it and the service is recovered', async () => {
    // The recovery after the first reset counts in the window: the next failure opens it again.
    const open = await b.tripBreaker(0);
    const attempted = open.stats.attempted;
    const post = (component: string, token: string, body: unknown) =>
      app.inject({ method: 'POST', url: `/v1/components/${component}/breaker/reset`, headers: bearer(token), payload: body as object });

    const viewer = await post(id, tokens.viewer, { reason: 'looks fine' });
    assert.equal(viewer.statusCode, 403, viewer.body);
    const unknown = await post('nope', tokens.operator, { reason: 'x' });
    assert.equal(unknown.statusCode, 404, unknown.body);
    assert.match(unknown.json<{ message: string }>().message, /unknown component nope/);
    for (const body of [{}, { reason: '' }, { reason: '   ' }]) {
      const bad = await post(id, tokens.operator, body);
      assert.equal(bad.statusCode, 400, bad.body);
      assert.match(bad.json<{ message: string }>().message, /^body\.reason: /);
    }
    assert.equal((await state()).breaker.state, 'open', 'refused requests change nothing');

    const res = await post(id, tokens.scoped, { reason: 'upstream fixed' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.headers['content-type'] as string, /application\/json/);
    const body = res.json<Record<string, unknown>>();
    assert.deepEqual(
      { ...body, at: typeof body.at },
      {
        component: id,
        workflowId: supervisorWorkflowId(id),
        previous: 'open',
        state: 'closed',
        by: 'test-scoped',
        reason: 'upstream fixed',
        at: 'string',
        checking: true,
      },
    );

    await waitFor('recovered after the API reset', 60_000, async () => {
      const s = await state();
      return s.stats.attempted === attempted + 1 && s.current === undefined && s.health === 'healthy' && (await httpStatus(url())) === 200;
    });
    const detail = await app.inject({ method: 'GET', url: `/v1/components/${id}`, headers: bearer(tokens.viewer) });
    const lastReset = detail.json<{ supervisor: { breaker: { lastReset?: Record<string, unknown> } } }>().supervisor.breaker.lastReset;
    assert.deepEqual({ ...lastReset, at: undefined }, { at: undefined, by: 'test-scoped', reason: 'upstream fixed', from: 'open' });

    const resets = await resetsInHistory();
    assert.deepEqual(
      resets.map((r) => r.args),
      [
        { by: cliUser, reason: 'disk freed by hand' },
        { by: 'test-scoped', reason: 'upstream fixed' },
      ],
    );
    assert.ok(
      resets.every((r) => r.checkedNext),
      'each reset is followed by a check of the component',
    );
    const supervisorRun = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
    recordHistory(supervisorWorkflowId(id), supervisorRun.runId, 'supervisor-breaker-reset.json');
  });
});
