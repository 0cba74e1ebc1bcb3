/**
 * The Alertmanager webhook on the shared dev server with a real worker: the same firing payload
 * posted again and again (and concurrently) starts exactly one recovery per component, found by the
 * `component`, `service` or `job` label; resolved alerts and unknown components start nothing. A
 * firing alert re-sent after its recovery ended starts nothing when the component is healthy now,
 * and the same firings start no second recovery within the dedupe window, across API restarts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { TokenTable } from '../api/auth';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import { countRuns } from '../client/runs';
import { recoveryWorkflowId } from '../core/constants';
import { alertPayload, bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import { startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('Alertmanager webhook', () => {
  const dir = tempDir('api-alerts');
  const queue = uniqueQueue('api-alerts');
  const suffix = Date.now().toString(36);
  // Services that never get healthy: their recoveries stay running (validating) while the payload repeats.
  const ids = { byComponent: `al-a-${suffix}`, byService: `al-b-${suffix}`, byJob: `al-c-${suffix}`, resolvedOnly: `al-d-${suffix}` };
  // A real demo service, down until the first alert's recovery starts it.
  const healthyAfter = `al-h-${suffix}`;
  // Never healthy, and its recovery fails within seconds: only the dedupe window keeps a repeat from restarting it.
  const neverHealthy = `al-n-${suffix}`;
  let suite: RunbookSuite;
  let app: FastifyInstance;
  let tokens: TestTokens;
  let table: TokenTable;

  before(async () => {
    const broken = { command: ['node', '-e', 'process.exit(1)'], timeout: '60s' };
    const { file } = await writeDemoConfig(dir, [
      ...Object.values(ids).map((id) => ({ id, ...broken })),
      { id: healthyAfter },
      { id: neverHealthy, command: broken.command, timeout: '2s' },
    ]);
    suite = await startRunbookSuite(dir, queue, file);
    ({ tokens, table } = makeTokens(ids.byComponent));
    app = await testApp(suite.client, suite.config, table);
  });

  after(async () => {
    for (const id of [...Object.values(ids), neverHealthy]) await suite?.client.cancel(recoveryWorkflowId(id)).catch(() => undefined);
    await app?.close();
    await suite?.stop();
  });

  function payload() {
    const base = alertPayload(ids.byComponent, ids.byComponent);
    const more = [
      { ...base.alerts[0]!, labels: { alertname: 'Down', service: ids.byService }, fingerprint: 'svc' },
      { ...base.alerts[0]!, labels: { alertname: 'Down', job: ids.byJob, instance: 'x:1' }, fingerprint: 'job' },
      { ...base.alerts[0]!, status: 'resolved', labels: { alertname: 'Down', component: ids.resolvedOnly }, fingerprint: 'resolved' },
      { ...base.alerts[0]!, labels: { alertname: 'Down', component: 'not-configured' }, fingerprint: 'unknown' },
      { ...base.alerts[0]!, labels: { alertname: 'NoLabel' }, fingerprint: 'nolabel' },
    ];
    return { ...base, alerts: [...base.alerts, ...more] };
  }

  const post = () => app.inject({ method: 'POST', url: '/v1/alerts/alertmanager', headers: bearer(tokens.operator), payload: payload() });

  test('a repeated and concurrent firing payload starts exactly one recovery per component', async () => {
    const first = await post();
    assert.equal(first.statusCode, 200, first.body);
    const body = first.json();
    assert.deepEqual(body.started.map((r: { component: string }) => r.component).sort(), [ids.byComponent, ids.byService, ids.byJob].sort());
    assert.deepEqual(body.alreadyRunning, []);
    assert.equal(body.resolved, 1);
    assert.deepEqual(
      body.unknown.map((u: { value?: string; fingerprint: string }) => [u.value, u.fingerprint]),
      [
        ['not-configured', 'unknown'],
        [undefined, 'nolabel'],
      ],
    );

    const repeats = [await post(), ...(await Promise.all([post(), post(), post()]))];
    for (const res of repeats) {
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json().started, []);
      assert.deepEqual(
        res
          .json()
          .alreadyRunning.map((r: { component: string }) => r.component)
          .sort(),
        [ids.byComponent, ids.byService, ids.byJob].sort(),
      );
    }

    for (const id of [ids.byComponent, ids.byService, ids.byJob]) {
      await waitFor(`one run of ${id} visible`, 20_000, async () => (await countRuns(suite.client, { component: id, strategy: 'immediate' })) === 1);
      const listed = (
        await app.inject({ method: 'GET', url: `/v1/runs?component=${id}&trigger=alert&strategy=immediate`, headers: bearer(tokens.viewer) })
      ).json();
      assert.equal(listed.runs.length, 1);
      assert.equal(listed.runs[0].workflowId, recoveryWorkflowId(id));
      assert.equal(listed.runs[0].strategy, 'immediate');
    }
    assert.equal(await countRuns(suite.client, { component: ids.resolvedOnly }), 0, 'a resolved alert starts nothing');
    const desc = await suite.client.temporal.workflow.getHandle(recoveryWorkflowId(ids.byComponent)).describe();
    assert.equal(desc.memo?.requestedBy, 'test-operator');
    assert.match(String(desc.memo?.reason), /alertmanager mend: Down firing/);
  });

  test('a payload that is not Alertmanager v4 is a 400 naming the field; an all-resolved one starts nothing', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/alerts/alertmanager', headers: bearer(tokens.operator), payload: { ...payload(), version: '3' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().issues[0].path, 'body.version');
    const resolved = { ...payload(), status: 'resolved', alerts: payload().alerts.map((a) => ({ ...a, status: 'resolved' })) };
    const res = await app.inject({ method: 'POST', url: '/v1/alerts/alertmanager', headers: bearer(tokens.operator), payload: resolved });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { started: [], alreadyRunning: [], healthy: [], deduplicated: [], unknown: [], forbidden: [], resolved: 7 });
  });

  /** The latest recovery run of `id` once it has ended, as Temporal describes it. */
  const ended = (id: string) =>
    waitFor(`the recovery of ${id} to end`, 30_000, async () => {
      const d = await suite.client.describe(recoveryWorkflowId(id));
      return d.status !== 'RUNNING' && d;
    });

  test('a firing alert re-sent after its recovery ended starts nothing when the component is healthy: listed healthy, same pid', async () => {
    const component = suite.config.components.find((c) => c.id === healthyAfter)!;
    const alert = () => app.inject({ method: 'POST', url: '/v1/alerts/alertmanager', headers: bearer(tokens.operator), payload: alertPayload(healthyAfter) });
    const first = await alert();
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(
      first.json().started.map((r: { component: string }) => r.component),
      [healthyAfter],
    );
    const done = await ended(healthyAfter);
    assert.equal(done.result?.outcome, 'recovered');
    const pid = (await runningProcess(processAdapter(component)))?.pid;
    assert.ok(pid, 'the recovery started the service');

    const again = await alert();
    assert.equal(again.statusCode, 200, again.body);
    const body = again.json();
    assert.deepEqual(body.started, []);
    assert.deepEqual(body.alreadyRunning, []);
    // Listed healthy; on a loaded machine the probe may time out, and then the dedupe window holds
    // the repeat back instead (either way nothing starts, which the run id and the pid show below).
    const listed = [...body.healthy, ...body.deduplicated].map((h: { component: string }) => h.component);
    assert.deepEqual(listed, [healthyAfter], JSON.stringify(body));
    assert.equal((await suite.client.describe(recoveryWorkflowId(healthyAfter))).runId, done.runId, 'no second recovery run');
    assert.equal((await runningProcess(processAdapter(component)))?.pid, pid, 'the service was not restarted');
    await waitFor('the first run visible', 20_000, async () => (await countRuns(suite.client, { component: healthyAfter, strategy: 'immediate' })) === 1);
  });

  test('the same firings whose recovery ended within the window start no second one, even after an API restart; a new firing does', async () => {
    const payload = alertPayload(neverHealthy);
    const alert = (on: FastifyInstance, p: object = payload) =>
      on.inject({ method: 'POST', url: '/v1/alerts/alertmanager', headers: bearer(tokens.operator), payload: p });
    const first = await alert(app);
    assert.deepEqual(
      first.json().started.map((r: { component: string }) => r.component),
      [neverHealthy],
      first.body,
    );
    const done = await ended(neverHealthy);
    assert.equal(done.result?.outcome, 'failed');

    // A new app is an API restart: what it knows of earlier alerts is what the run recorded in Temporal.
    const restarted = await testApp(suite.client, suite.config, table);
    try {
      const repeat = await alert(restarted);
      assert.equal(repeat.statusCode, 200, repeat.body);
      assert.deepEqual(repeat.json().started, []);
      assert.deepEqual(repeat.json().healthy, [], 'it is not healthy');
      assert.deepEqual(repeat.json().deduplicated, [
        { component: neverHealthy, workflowId: recoveryWorkflowId(neverHealthy), endedAt: done.closeTime, fingerprints: ['f0'] },
      ]);
      assert.equal((await suite.client.describe(recoveryWorkflowId(neverHealthy))).runId, done.runId, 'no second recovery run');

      // The same alert firing again after it resolved (a new startsAt) is a new failure: it recovers.
      const refired = { ...payload, alerts: payload.alerts.map((a) => ({ ...a, startsAt: '2026-11-23T11:00:00Z' })) };
      const again = await alert(restarted, refired);
      assert.deepEqual(
        again.json().started.map((r: { component: string }) => r.component),
        [neverHealthy],
        again.body,
      );
      const second = await ended(neverHealthy);
      assert.notEqual(second.runId, done.runId);
      assert.deepEqual(
        (await alert(restarted, refired)).json().deduplicated.map((d: { component: string }) => d.component),
        [neverHealthy],
      );
    } finally {
      await restarted.close();
    }

    // With no window, a repeat of the same firings recovers again: the window is what holds it back.
    const noWindow = await testApp(suite.client, suite.config, table, { alertDedupeWindowMs: 0 });
    try {
      const refired = { ...payload, alerts: payload.alerts.map((a) => ({ ...a, startsAt: '2026-11-23T11:00:00Z' })) };
      const res = await alert(noWindow, refired);
      assert.deepEqual(
        res.json().started.map((r: { component: string }) => r.component),
        [neverHealthy],
        res.body,
      );
    } finally {
      await noWindow.close();
    }
  });
});
