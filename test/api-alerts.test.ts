/**
 * The Alertmanager webhook on the shared dev server with a real worker: the same firing payload
 * posted again and again (and concurrently) starts exactly one recovery per component, found by the
 * `component`, `service` or `job` label; resolved alerts and unknown components start nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
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
  let suite: RunbookSuite;
  let app: FastifyInstance;
  let tokens: TestTokens;

  before(async () => {
    const broken = { command: ['node', '-e', 'process.exit(1)'], timeout: '60s' };
    const { file } = await writeDemoConfig(dir, Object.values(ids).map((id) => ({ id, ...broken })));
    suite = await startRunbookSuite(dir, queue, file);
    let table;
    ({ tokens, table } = makeTokens(ids.byComponent));
    app = await testApp(suite.client, suite.config, table);
  });

  after(async () => {
    for (const id of Object.values(ids)) await suite?.client.cancel(recoveryWorkflowId(id)).catch(() => undefined);
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
    assert.deepEqual(body.unknown.map((u: { value?: string; fingerprint: string }) => [u.value, u.fingerprint]), [['not-configured', 'unknown'], [undefined, 'nolabel']]);

    const repeats = [await post(), ...(await Promise.all([post(), post(), post()]))];
    for (const res of repeats) {
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json().started, []);
      assert.deepEqual(res.json().alreadyRunning.map((r: { component: string }) => r.component).sort(), [ids.byComponent, ids.byService, ids.byJob].sort());
    }

    for (const id of [ids.byComponent, ids.byService, ids.byJob]) {
      await waitFor(`one run of ${id} visible`, 20_000, async () => (await countRuns(suite.client, { component: id })) === 1);
      const listed = (await app.inject({ method: 'GET', url: `/v1/runs?component=${id}&trigger=alert`, headers: bearer(tokens.viewer) })).json();
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
    assert.deepEqual(res.json(), { started: [], alreadyRunning: [], unknown: [], forbidden: [], resolved: 7 });
  });
});
