/**
 * Sagas through the API on the shared dev server with a real worker: listed without their commands,
 * run by request id exactly once (a repeat is a 409 naming the run), refused to viewers, and to a
 * scoped operator when a step runs a command or touches another component.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import { startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('sagas API', () => {
  const dir = tempDir('api-sagas');
  const queue = uniqueQueue('api-sagas');
  const web = `sg-web-${Date.now().toString(36)}`;
  let suite: RunbookSuite;
  let app: FastifyInstance;
  let tokens: TestTokens;
  const call = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
    app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload }) });

  before(async () => {
    const sagas = [
      'sagas:',
      '  - name: check-web',
      '    description: validate and checkpoint web',
      '    steps:',
      `      - name: validate\n        action: { type: component, component: ${web}, op: validate }`,
      `      - name: checkpoint\n        action: { type: component, component: ${web}, op: checkpoint }\n        compensate: { type: component, component: ${web}, op: validate }`,
      '  - name: migrate',
      '    steps:',
      `      - name: run\n        action: { type: command, command: ["node", "-e", "process.exit(0)"] }`,
    ].join('\n');
    const { file } = await writeDemoConfig(dir, [{ id: web, state: { paths: [`state/${web}.json`] } }], `${sagas}\n`);
    suite = await startRunbookSuite(dir, queue, file);
    let table;
    ({ tokens, table } = makeTokens(web));
    app = await testApp(suite.client, suite.config, table);
  });
  after(async () => {
    await app?.close();
    await suite?.stop();
  });

  test('GET /v1/sagas lists the sagas, their steps and components, never their commands', async () => {
    const res = await call('GET', '/v1/sagas', tokens.viewer);
    assert.equal(res.statusCode, 200);
    const sagas = res.json().sagas;
    assert.deepEqual(
      sagas.map((s: { name: string }) => s.name),
      ['check-web', 'migrate'],
    );
    assert.deepEqual(sagas[0].components, [web]);
    assert.deepEqual(sagas[0].steps[1], { name: 'checkpoint', action: 'component', component: web, op: 'checkpoint', compensated: true });
    assert.ok(!res.body.includes('process.exit'), 'commands are not shown');
  });

  test('a saga runs once per request id: 202, then 409 naming the run', async () => {
    const requestId = `r-${Date.now().toString(36)}`;
    const first = await call('POST', '/v1/sagas/check-web/runs', tokens.operator, { requestId, dryRun: true, reason: 'api test' });
    assert.equal(first.statusCode, 202, first.body);
    assert.equal(first.json().workflowId, `mend/saga/check-web/${requestId}`);
    const done = await waitFor('the saga to finish', 30_000, async () => {
      const d = (await call('GET', `/v1/runs/${encodeURIComponent(first.json().workflowId)}`, tokens.viewer)).json();
      return d.status === 'COMPLETED' && d;
    });
    assert.equal(done.result.outcome, 'planned');
    assert.equal(done.result.strategy, 'saga');
    const desc = await suite.client.temporal.workflow.getHandle(first.json().workflowId).describe();
    assert.equal(desc.memo?.requestedBy, 'test-operator');

    const again = await call('POST', '/v1/sagas/check-web/runs', tokens.operator, { requestId, dryRun: true });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().workflowId, first.json().workflowId);
  });

  test('viewers and out-of-scope operators are refused; an unknown saga is a 404', async () => {
    assert.equal((await call('POST', '/v1/sagas/check-web/runs', tokens.viewer, { dryRun: true })).statusCode, 403);
    const commands = await call('POST', '/v1/sagas/migrate/runs', tokens.scoped, { dryRun: true });
    assert.equal(commands.statusCode, 403);
    assert.match(commands.json().message, /runs commands/);
    const scoped = await call('POST', '/v1/sagas/check-web/runs', tokens.scoped, { dryRun: true });
    assert.equal(scoped.statusCode, 202, 'every step is on its component');
    const unknown = await call('POST', '/v1/sagas/nope/runs', tokens.operator, {});
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().message, /unknown saga nope \(known: check-web, migrate\)/);
    await waitFor(
      'the scoped run to finish',
      30_000,
      async () => (await call('GET', `/v1/runs/${encodeURIComponent(scoped.json().workflowId)}`, tokens.viewer)).json().status === 'COMPLETED',
    );
  });
});
