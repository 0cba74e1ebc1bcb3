/**
 * cli/api-client.ts against the API listening for real (reads on the shared dev server, starts
 * recorded by a spy): typed answers, and the API's errors as ApiError with status and message.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import { ApiClient, ApiError } from '../cli/api-client';
import { MendClient, type StartRecoveryRequest } from '../client';
import { loadConfigFile } from '../client/config';
import { readSettings } from '../core/settings';
import { freePort } from '../scripts/ports';
import { makeTokens, spyClient, testApp, type TestTokens } from './api-fixtures';
import { sharedServer, tempDir, uniqueQueue, writeDemoConfig } from './helpers';

describe('API client (MEND_URL, MEND_TOKEN)', () => {
  const dir = tempDir('api-client');
  const id = `cl-${Date.now().toString(36)}`;
  let real: MendClient;
  let app: FastifyInstance;
  let url: string;
  let tokens: TestTokens;
  let starts: StartRecoveryRequest[];

  before(async () => {
    const { file } = await writeDemoConfig(dir, [{ id }]);
    const config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    const made = makeTokens(id);
    tokens = made.tokens;
    real = await MendClient.connect({ address: sharedServer().address, taskQueue: uniqueQueue('api-client') });
    const spy = spyClient(real);
    starts = spy.starts;
    app = await testApp(spy.mend, config, made.table);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    await real?.close();
  });

  test('is made from the MEND_URL and MEND_TOKEN settings, and not without MEND_URL', () => {
    assert.equal(ApiClient.fromSettings(readSettings({})), undefined);
    assert.ok(ApiClient.fromSettings(readSettings({ MEND_URL: url, MEND_TOKEN: tokens.viewer })) instanceof ApiClient);
    assert.throws(() => readSettings({ MEND_URL: 'ftp://x' }), /MEND_URL: expected an http\(s\) URL/);
  });

  test('reads components and runs, and starts runs as its token', async () => {
    const viewer = new ApiClient({ url, token: tokens.viewer });
    assert.deepEqual(
      (await viewer.components()).components.map((c) => c.id),
      [id],
    );
    assert.equal((await viewer.component(id)).recovery, null);
    assert.ok(Array.isArray((await viewer.listRuns({ component: id, limit: 5 })).runs));

    const operator = new ApiClient({ url, token: tokens.operator });
    const started = await operator.startRuns({ strategy: 'immediate', components: [id], dryRun: true });
    assert.equal(started.workflowId, `mend/recover/${id}`);
    assert.equal(starts.at(-1)?.requestedBy, 'test-operator');
  });

  test("the API's refusals are ApiErrors with the status and message; bad input is refused before sending", async () => {
    const viewer = new ApiClient({ url, token: tokens.viewer });
    await assert.rejects(viewer.run(id), (err: ApiError) => err instanceof ApiError && err.status === 404 && err.message === `no run mend/recover/${id}`);
    await assert.rejects(viewer.control(id, 'pause'), (err: ApiError) => err.status === 403 && /needs operator/.test(err.message));
    await assert.rejects(new ApiClient({ url }).components(), (err: ApiError) => err.status === 401);
    await assert.rejects(new ApiClient({ url, token: tokens.admin }).approve(id, { approve: true }), (err: ApiError) => err.status === 404);
    const count = starts.length;
    await assert.rejects(new ApiClient({ url, token: tokens.admin }).startRuns({ strategy: 'immediate', components: ['Not Valid'] }), ZodError);
    assert.equal(starts.length, count);
    await assert.rejects(
      new ApiClient({ url: `http://127.0.0.1:${await freePort()}`, token: tokens.admin }).components(),
      (err: ApiError) => err.status === 0 && /not reachable/.test(err.message),
    );
  });
});
