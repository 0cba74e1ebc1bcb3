/**
 * Junk bodies take no effect. Every POST route of the OpenAPI document the app serves gets each
 * junk body (an array, null, a number, a string, an unknown field, `__proto__` and
 * `constructor.prototype` keys, wrong or missing content types) with an admin token, over a real
 * worker and real targets: a recovery run waiting for approval, a backlog replay entity, a health
 * schedule, a saga and a component. Each answer is a 4xx naming the body's problem, never a 5xx; and
 * afterwards nothing happened: no run, saga or check started, no signal, cancellation or update in
 * the run's or the entity's history, the schedule neither paused nor triggered. A valid request to
 * the same targets then shows in the same places, so the checks can see an effect when there is one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { BacklogControl } from '../client/backlog';
import { planHealthGroups, reconcileSchedules, deleteHealthSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { backlogWorkflowId, DEFAULT_HOST, recoveryWorkflowId } from '../core/constants';
import { checkWorkflowId } from '../core/supervision';
import { freePort } from '../scripts/ports';
import { bearer, makeTokens, spyClient, testApp, type TestTokens } from './api-fixtures';
import { startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

interface Junk {
  name: string;
  payload: string;
  contentType?: string;
  status: 400 | 415;
  /** What the message must say (the problem, naming the field). */
  says: RegExp;
}

const JUNK: Junk[] = [
  { name: 'an array', payload: '[{"reason":"x"}]', contentType: 'application/json', status: 400, says: /^body: .*expected object, received array/ },
  { name: 'null', payload: 'null', contentType: 'application/json', status: 400, says: /^body: .*expected object, received null/ },
  { name: 'a number', payload: '42', contentType: 'application/json', status: 400, says: /^body: .*expected object, received number/ },
  { name: 'a string', payload: '"pause"', contentType: 'application/json', status: 400, says: /^body: .*expected object, received string/ },
  { name: 'an unknown field', payload: '{"unknownField":1}', contentType: 'application/json', status: 400, says: /body\.unknownField: unknown field/ },
  {
    name: 'a __proto__ key',
    payload: '{"__proto__":{"x":1}}',
    contentType: 'application/json',
    status: 400,
    says: /^body\.__proto__: forbidden key "__proto__"$/,
  },
  {
    name: 'a constructor.prototype key',
    payload: '{"constructor":{"prototype":{"x":1}}}',
    contentType: 'application/json',
    status: 400,
    says: /^body\.constructor\.prototype: forbidden key/,
  },
  { name: 'text/plain', payload: '{}', contentType: 'text/plain', status: 415, says: /content-type "text\/plain" is not accepted: send application\/json/ },
  {
    name: 'a form',
    payload: 'reason=x',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
    says: /content-type "application\/x-www-form-urlencoded" is not accepted/,
  },
  { name: 'no content type', payload: '{}', status: 415, says: /a body without a content-type is not accepted/ },
];

/** Events by which a request acts on a running workflow. */
function actedOn(events: Array<Record<string, unknown>> | null | undefined): number {
  const kinds = [
    'workflowExecutionSignaledEventAttributes',
    'workflowExecutionCancelRequestedEventAttributes',
    'workflowExecutionUpdateAdmittedEventAttributes',
    'workflowExecutionUpdateAcceptedEventAttributes',
  ];
  return (events ?? []).filter((e) => kinds.some((k) => e[k] != null)).length;
}

describe('junk bodies on every POST route take no effect', () => {
  const dir = tempDir('api-junk');
  const queue = uniqueQueue('api-junk');
  const suffix = Date.now().toString(36);
  const svc = `jk-svc-${suffix}`;
  const gate = `jk-gate-${suffix}`;
  const group = `jk-${suffix}`;
  const spoolName = `jk-spool-${suffix}`;
  const sagaName = `jk-saga-${suffix}`;
  let suite: RunbookSuite;
  let app: FastifyInstance;
  let tokens: TestTokens;
  let spy: ReturnType<typeof spyClient>;
  let control: BacklogControl;
  let gateRunId: string;
  let backlogRunId: string;

  before(async () => {
    const sink = `http://127.0.0.1:${await freePort()}`;
    const extra = [
      `sagas:\n  - name: ${sagaName}\n    steps:\n      - name: check\n        action: { type: component, component: ${svc}, op: validate }`,
      `spools:\n  - ${JSON.stringify({ name: spoolName, dir: 'spool/jk', sink: { url: sink, timeout: '1s' } })}`,
    ].join('\n');
    const { file } = await writeDemoConfig(
      dir,
      [
        { id: svc, supervision: { group, interval: '1h' } },
        { id: gate, policy: { strategy: 'emergency-reset', approvalTimeout: '1h' }, supervision: { enabled: false } },
      ],
      extra + '\n',
    );
    suite = await startRunbookSuite(dir, queue, file);
    const made = makeTokens(svc);
    tokens = made.tokens;
    // Recovery and saga starts are recorded, not made: a junk body that reached one would show here.
    spy = spyClient(suite.client);
    app = await testApp(spy.mend, suite.config, made.table);

    const gateComponent = suite.config.components.find((c) => c.id === gate)!;
    gateRunId = (
      await suite.client.startRecovery({
        strategy: 'emergency-reset',
        component: gateComponent,
        trigger: 'manual',
        requestedBy: 'junk-test',
        allComponents: suite.config.components,
      })
    ).runId;
    await waitFor('the run to wait for an approval', 30_000, async () => (await suite.client.progress(recoveryWorkflowId(gate))).approval?.state === 'waiting');
    control = new BacklogControl(suite.client);
    backlogRunId = (await control.ensure(suite.config.spools[0]!)).runId;
    await waitFor('the replay entity to answer', 30_000, async () => (await control.status(spoolName)).spool === spoolName);
    await reconcileSchedules(suite.client, suite.config, { owner: queue });
  });

  after(async () => {
    await suite?.client.cancel(recoveryWorkflowId(gate)).catch(() => undefined);
    await suite?.client.temporal.workflow
      .getHandle(backlogWorkflowId(spoolName))
      .terminate('test over')
      .catch(() => undefined);
    if (suite) await deleteHealthSchedules(suite.client, queue).catch(() => undefined);
    await app?.close();
    await suite?.stop();
  });

  /** A concrete URL for an OpenAPI path of this app: each path parameter names one of the targets. */
  function urlOf(path: string): string {
    return path.replace(/\{(\w+)\}/g, (_m, param: string) => {
      if (param === 'id')
        return path.startsWith('/v1/components/') ? svc : path.startsWith('/v1/hosts/') ? DEFAULT_HOST : encodeURIComponent(recoveryWorkflowId(gate));
      const value = { name: sagaName, spool: spoolName, group }[param];
      assert.ok(value, `no target for {${param}} in ${path}: add one to this test`);
      return value;
    });
  }

  const history = async (workflowId: string, runId: string) =>
    (await suite.client.temporal.workflow.getHandle(workflowId, runId).fetchHistory()).events as Array<Record<string, unknown>>;
  const scheduleId = () => planHealthGroups(suite.config, queue).find((p) => p.group === group)!.scheduleId;
  const schedule = async () => {
    const d = await suite.client.temporal.schedule.getHandle(scheduleId()).describe();
    return { paused: d.state.paused, note: d.state.note, actions: d.info.numActionsTaken + d.info.numActionsSkippedOverlap };
  };

  test('every POST route declares its body and refuses each junk body with a 4xx naming the problem; nothing happens', async () => {
    const doc = app.swagger() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, op]) => ({ method: method.toUpperCase() as 'POST', path, declared: op.requestBody !== undefined })),
    );
    // The document lists every route the app has that is not a read (runs, sagas, alerts, checks, backlog and schedule controls).
    const served = app.apiRoutes
      .filter((r) => r.method !== 'GET')
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    assert.deepEqual(routes.map((r) => `${r.method} ${r.path.replace(/\{(\w+)\}/g, ':$1')}`).sort(), served);
    assert.ok(served.length >= 15, served.join(', '));
    assert.deepEqual(
      routes.filter((r) => !r.declared).map((r) => `${r.method} ${r.path}`),
      [],
      'routes without a declared body',
    );

    const gateBefore = actedOn(await history(recoveryWorkflowId(gate), gateRunId));
    const backlogBefore = actedOn(await history(backlogWorkflowId(spoolName), backlogRunId));
    const scheduleBefore = await schedule();

    for (const { method, path } of routes) {
      const url = urlOf(path);
      for (const junk of JUNK) {
        const headers: Record<string, string> = { ...bearer(tokens.admin), ...(junk.contentType ? { 'content-type': junk.contentType } : {}) };
        const res = await app.inject({ method, url, headers, payload: junk.payload });
        const what = `${method} ${path} with ${junk.name}`;
        assert.equal(res.statusCode, junk.status, `${what}: ${res.body}`);
        const body = res.json() as { message: string; issues?: Array<{ path: string }> };
        // The Alertmanager payload tolerates fields Alertmanager may add: an unknown field alone lacks the required ones.
        if (junk.name === 'an unknown field' && path === '/v1/alerts/alertmanager') assert.match(body.message, /^body\.version: /, what);
        else assert.match(body.message, junk.says, what);
        if (junk.status === 400)
          assert.ok(body.issues?.length && body.issues.every((i) => i.path.startsWith('body')), `${what}: issues ${JSON.stringify(body.issues)}`);
      }
    }

    // Nothing started: no recovery or saga reached the client, no check workflow exists.
    assert.deepEqual(
      spy.starts.map((s) => s.component.id),
      [],
    );
    assert.deepEqual(
      spy.sagaStarts.map((s) => s.saga.name),
      [],
    );
    await assert.rejects(suite.client.temporal.workflow.getHandle(checkWorkflowId(svc)).describe(), WorkflowNotFoundError, 'a check ran');
    // Nothing was sent: the run and the replay entity got no signal, cancellation or update.
    assert.equal(actedOn(await history(recoveryWorkflowId(gate), gateRunId)), gateBefore, 'the run was acted on');
    assert.equal(actedOn(await history(backlogWorkflowId(spoolName), backlogRunId)), backlogBefore, 'the replay entity was acted on');
    assert.equal((await supervisorState(suite.client, svc))?.drainedHost, undefined, 'the host was drained');
    const progress = await suite.client.progress(recoveryWorkflowId(gate));
    assert.equal(progress.approval?.state, 'waiting');
    assert.equal(progress.paused, false);
    // A schedule applies requests in order: once a valid trigger (no body) has counted, any junk one before it would have too.
    const trigger = await app.inject({ method: 'POST', url: `/v1/schedules/${group}/trigger`, headers: bearer(tokens.admin) });
    assert.equal(trigger.statusCode, 200, trigger.body);
    const after = await waitFor('the valid trigger to count', 20_000, async () => {
      const s = await schedule();
      return s.actions > scheduleBefore.actions && s;
    });
    assert.deepEqual(after, { ...scheduleBefore, actions: scheduleBefore.actions + 1 }, 'only the valid trigger acted; the schedule is not paused');
  });

  test('the same targets see a valid request: `{}` or no body where none is needed', async () => {
    const check = await app.inject({
      method: 'POST',
      url: `/v1/components/${svc}/check`,
      headers: { ...bearer(tokens.operator), 'content-type': 'application/json' },
      payload: '{}',
    });
    assert.equal(check.statusCode, 200, check.body);
    assert.equal(check.json().component, svc);
    await suite.client.temporal.workflow.getHandle(checkWorkflowId(svc)).describe();

    const gateBefore = actedOn(await history(recoveryWorkflowId(gate), gateRunId));
    const paused = await app.inject({
      method: 'POST',
      url: `/v1/runs/${gate}/pause`,
      headers: { ...bearer(tokens.operator), 'content-type': 'application/json' },
      payload: '{}',
    });
    assert.equal(paused.statusCode, 202, paused.body);
    assert.equal(actedOn(await history(recoveryWorkflowId(gate), gateRunId)), gateBefore + 1);

    const backlogBefore = actedOn(await history(backlogWorkflowId(spoolName), backlogRunId));
    const forced = await app.inject({ method: 'POST', url: `/v1/backlog/${spoolName}/force`, headers: bearer(tokens.operator) });
    assert.equal(forced.statusCode, 200, forced.body);
    assert.equal(actedOn(await history(backlogWorkflowId(spoolName), backlogRunId)), backlogBefore + 1);

    const saga = await app.inject({ method: 'POST', url: `/v1/sagas/${sagaName}/runs`, headers: bearer(tokens.operator) });
    assert.equal(saga.statusCode, 202, saga.body);
    assert.deepEqual(
      spy.sagaStarts.map((s) => s.saga.name),
      [sagaName],
    );
  });
});
