/** The API's health endpoints: /readyz asks the real Temporal server, and says so when it cannot. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../api/app';
import { TokenTable } from '../api/auth';
import { MendClient } from '../client';
import { ConfigSchema } from '../core/schemas';
import { freePort } from '../scripts/ports';
import { sharedServer } from './helpers';

describe('API health', () => {
  let up: MendClient;
  let down: MendClient;
  let app: FastifyInstance;
  let appDown: FastifyInstance;

  before(async () => {
    up = await MendClient.connect({ address: sharedServer().address, lazy: true });
    down = await MendClient.connect({ address: `127.0.0.1:${await freePort()}`, lazy: true });
    const config = ConfigSchema.parse({});
    app = await buildApp({ mend: up, config, tokens: new TokenTable([]) });
    appDown = await buildApp({ mend: down, config, tokens: new TokenTable([]), temporalReachable: () => down.isReachable(500) });
  });
  after(async () => {
    await app?.close();
    await appDown?.close();
    await up?.close();
    await down?.close();
  });

  test('/healthz answers ok without asking Temporal', async () => {
    const res = await appDown.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  test('/readyz is 200 when the Temporal namespace answers', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().status, 'ready');
    assert.equal(res.json().temporal.reachable, true);
  });

  test('/readyz is 503 with Retry-After when Temporal is unreachable', async () => {
    const res = await appDown.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(res.json().status, 'unavailable');
    assert.equal(res.json().temporal.reachable, false);
  });

  test('an unknown route is a 404 with a message, not a stack', async () => {
    const res = await app.inject({ method: 'GET', url: '/nope' });
    assert.equal(res.statusCode, 404);
    assert.doesNotMatch(res.body, /at .*\.ts:\d+/);
  });
});
