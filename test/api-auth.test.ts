/**
 * API auth: tokens parsed from env and file, compared by hash; every route refuses a missing or
 * unknown token (401) and a too-small role (403); a scoped operator cannot touch other components;
 * admins alone start emergency resets and approve; starts are rate-limited per token; tokens never
 * reach the log. Reads go to the shared dev server; starts are recorded by a spy, not made.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { generateToken, loadTokens, parseTokensEnv, type TokenTable } from '../api/auth';
import { bucketWindow, take, tokenBucketStore } from '../api/rate-limit';
import { MendClient, type StartRecoveryRequest } from '../client';
import { loadConfigFile } from '../client/config';
import type { Config } from '../core/schemas';
import { alertPayload, bearer, logCapture, makeTokens, spyClient, testApp, type TestTokens } from './api-fixtures';
import { sharedServer, tempDir, uniqueQueue, writeDemoConfig } from './helpers';

describe('API tokens', () => {
  test('MEND_TOKENS entries give names, roles and scopes; unnamed ones get a name that does not reveal the token', () => {
    const secret = generateToken();
    const entries = parseTokensEnv(`ops=${'o'.repeat(20)}:operator:api,store ; ${secret}:viewer\n${'a'.repeat(24)}:admin`);
    assert.deepEqual(
      entries.map((e) => [e.name, e.role, e.components]),
      [
        ['ops', 'operator', ['api', 'store']],
        [entries[1]!.name, 'viewer', undefined],
        [entries[2]!.name, 'admin', undefined],
      ],
    );
    assert.match(entries[1]!.name, /^viewer-[0-9a-f]{8}$/);
    assert.ok(!entries[1]!.name.includes(secret.slice(0, 8)));
  });

  test('a bad MEND_TOKENS entry is named by position, never by its token', () => {
    const secret = 'short-secret';
    assert.throws(
      () => parseTokensEnv(`${secret}:operator`),
      (err: Error) => /entry 1: token: a token needs at least 16 characters/.test(err.message) && !err.message.includes(secret),
    );
    assert.throws(() => parseTokensEnv(`${'x'.repeat(20)}:root`), /entry 1: role:/);
    assert.throws(() => parseTokensEnv(`${'x'.repeat(20)}:operator:Bad Id`), /entry 1: components/);
  });

  test('a tokens file may hold sha256 hashes instead of tokens; both sources combine, names stay unique', () => {
    const dir = tempDir('tokens');
    const token = generateToken();
    const file = path.join(dir, 'tokens.yaml');
    writeFileSync(file, `tokens:\n  - name: ci\n    sha256: ${createHash('sha256').update(token).digest('hex')}\n    role: operator\n    components: [api]\n`);
    const table = loadTokens({ MEND_TOKENS: `me=${'m'.repeat(20)}:admin`, MEND_TOKENS_FILE: file }, (f) => readFileSync(f, 'utf8'));
    assert.equal(table.size, 2);
    const ci = table.authenticate(token);
    assert.equal(ci?.name, 'ci');
    assert.deepEqual([...(ci?.components ?? [])], ['api']);
    assert.equal(table.authenticate('m'.repeat(20))?.role, 'admin');
    assert.equal(table.authenticate(token + 'x'), undefined);
    assert.throws(
      () => loadTokens({ MEND_TOKENS: `ci=${'c'.repeat(20)}:viewer`, MEND_TOKENS_FILE: file }, () => readFileSync(file, 'utf8')),
      /duplicate token name "ci"/,
    );
    writeFileSync(file, 'tokens:\n  - name: x\n    role: admin\n');
    assert.throws(() => loadTokens({ MEND_TOKENS_FILE: file }, () => readFileSync(file, 'utf8')), /give exactly one of token or sha256/);
  });

  /** A Fastify app with the rate-limit plugin on a clock the test moves; POST /take?cost=n takes from the bucket of x-key. */
  async function bucketApp(limit: { burst: number; perMinute: number }) {
    const clock = { now: 0 };
    const app = Fastify();
    await app.register(rateLimit, { global: false, store: tokenBucketStore(() => clock.now) });
    const limiter = app.createRateLimit({ ...bucketWindow(limit), keyGenerator: (req) => String(req.headers['x-key']) });
    app.post<{ Querystring: { cost?: string } }>('/take', async (req) => take(limiter, req, Number(req.query.cost ?? 1)));
    const takeFrom = async (key: string, cost = 1) => (await app.inject({ method: 'POST', url: `/take?cost=${cost}`, headers: { 'x-key': key } })).json();
    return { app, clock, take: takeFrom };
  }

  test('the start rate limit refills with time and says how long to wait; a start of several takes all or nothing', async () => {
    const { app, clock, take } = await bucketApp({ burst: 2, perMinute: 6 });
    try {
      assert.deepEqual(await take('a'), { ok: true });
      assert.deepEqual(await take('a'), { ok: true });
      assert.deepEqual(await take('a'), { ok: false, retryAfterSeconds: 10 });
      assert.deepEqual(await take('b'), { ok: true }, 'buckets are per key');
      clock.now = 10_000;
      assert.deepEqual(await take('a'), { ok: true });
      assert.deepEqual(await take('c'), { ok: true });
      assert.deepEqual(await take('c', 2), { ok: false, retryAfterSeconds: 10 }, 'one token left: a start of two waits for another');
      assert.deepEqual(await take('c'), { ok: true }, 'the refused start took nothing');
      clock.now = 40_000;
      assert.deepEqual(await take('c', 5), { ok: true }, 'a cost above the burst is capped at the burst');
      assert.deepEqual(await take('c'), { ok: false, retryAfterSeconds: 10 });
    } finally {
      await app.close();
    }
  });

  test('an address that spent its 20 guesses gets one more every 6 s, never a fresh burst', async () => {
    const { app, clock, take } = await bucketApp({ burst: 20, perMinute: 10 });
    try {
      for (let i = 0; i < 20; i++) assert.deepEqual(await take('10.0.0.9'), { ok: true }, `guess ${i + 1}`);
      assert.deepEqual(await take('10.0.0.9'), { ok: false, retryAfterSeconds: 6 });
      for (let round = 1; round <= 3; round++) {
        clock.now = round * 6_000;
        assert.deepEqual(await take('10.0.0.9'), { ok: true }, `one more try after ${round * 6} s`);
        assert.deepEqual(await take('10.0.0.9'), { ok: false, retryAfterSeconds: 6 }, 'and only one');
      }
    } finally {
      await app.close();
    }
  });
});

describe('API access by role', () => {
  const dir = tempDir('api-auth');
  const suffix = Date.now().toString(36);
  const A = `auth-a-${suffix}`;
  const B = `auth-b-${suffix}`;
  let real: MendClient;
  let config: Config;
  let tokens: TestTokens;
  let table: TokenTable;
  let starts: StartRecoveryRequest[];
  let app: FastifyInstance;
  const log = logCapture();

  before(async () => {
    const { file } = await writeDemoConfig(dir, [{ id: A }, { id: B, policy: { strategy: 'emergency-reset' } }]);
    config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    ({ tokens, table } = makeTokens(A));
    real = await MendClient.connect({ address: sharedServer().address, taskQueue: uniqueQueue('api-auth') });
    const spy = spyClient(real);
    starts = spy.starts;
    app = await testApp(spy.mend, config, table, { rateLimit: { burst: 1000, perMinute: 1000 }, logger: { level: 'info', stream: log.stream } });
  });
  after(async () => {
    await app?.close();
    await real?.close();
  });

  const call = (method: 'GET' | 'POST', url: string, token?: string, payload?: unknown) =>
    app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload === undefined ? {} : { payload: payload as object }) });

  test('no token is a 401 with WWW-Authenticate on every /v1 route; a wrong or malformed one is a 401 too', async () => {
    assert.ok(app.apiRoutes.filter((r) => r.url.startsWith('/v1/')).length >= 9, 'the routes are known');
    for (const [method, url] of app.apiRoutes.filter((r) => r.url.startsWith('/v1/')).map((r) => [r.method, r.url.replace(':id', A)] as const)) {
      const none = await call(method as 'GET' | 'POST', url);
      assert.equal(none.statusCode, 401, `${method} ${url}: ${none.body}`);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      const wrong = await call(method as 'GET' | 'POST', url, generateToken());
      assert.equal(wrong.statusCode, 401, `${method} ${url}`);
      assert.equal(wrong.json().message, 'unknown token');
    }
    for (const header of [`Basic ${tokens.admin}`, 'Bearer', `Bearer ${tokens.admin} extra`, `${tokens.admin}`]) {
      const res = await app.inject({ method: 'GET', url: '/v1/components', headers: { authorization: header } });
      assert.equal(res.statusCode, 401, header);
    }
    assert.equal(starts.length, 0);
  });

  test('a viewer reads components and runs but cannot start, control or approve (403)', async () => {
    assert.equal((await call('GET', '/v1/components', tokens.viewer)).statusCode, 200);
    assert.equal((await call('GET', `/v1/components/${A}`, tokens.viewer)).statusCode, 200);
    assert.equal((await call('GET', `/v1/runs?component=${A}`, tokens.viewer)).statusCode, 200);
    assert.equal((await call('GET', `/v1/runs/${A}`, tokens.viewer)).statusCode, 404, 'read allowed; there is no run');
    const start = await call('POST', '/v1/runs', tokens.viewer, { strategy: 'immediate', components: [A] });
    assert.equal(start.statusCode, 403);
    assert.match(start.json().message, /test-viewer is viewer; this needs operator/);
    for (const action of ['pause', 'resume', 'cancel', 'approve'])
      assert.equal((await call('POST', `/v1/runs/${A}/${action}`, tokens.viewer)).statusCode, 403, action);
    assert.equal((await call('POST', '/v1/alerts/alertmanager', tokens.viewer, alertPayload(A))).statusCode, 403);
    assert.equal(starts.length, 0);
  });

  test('an operator starts and controls runs but cannot start an emergency reset or approve (403)', async () => {
    const started = await call('POST', '/v1/runs', tokens.operator, { strategy: 'immediate', components: [A], reason: 'test' });
    assert.equal(started.statusCode, 202, started.body);
    assert.equal(starts.at(-1)?.requestedBy, 'test-operator', 'the run records the token name');
    assert.equal(starts.at(-1)?.trigger, 'api');
    const count = starts.length;
    const reset = await call('POST', '/v1/runs', tokens.operator, { strategy: 'emergency-reset', components: [A] });
    assert.equal(reset.statusCode, 403);
    assert.match(reset.json().message, /an emergency reset needs admin/);
    assert.equal((await call('POST', `/v1/runs/${A}/approve`, tokens.operator, { approve: true })).statusCode, 403);
    for (const action of ['pause', 'resume', 'cancel'])
      assert.equal((await call('POST', `/v1/runs/${A}/${action}`, tokens.operator)).statusCode, 404, `${action}: allowed, but no run`);
    const viaAlert = await call('POST', '/v1/alerts/alertmanager', tokens.operator, alertPayload(B));
    assert.equal(viaAlert.statusCode, 200);
    assert.deepEqual(viaAlert.json().forbidden, [B], 'an alert may not start an emergency-reset policy for an operator');
    assert.equal(starts.length, count);
  });

  test('an operator scoped to A starts and controls A but not B (403), and nothing starts', async () => {
    const count = starts.length;
    assert.equal((await call('POST', '/v1/runs', tokens.scoped, { strategy: 'immediate', components: [A] })).statusCode, 202);
    const other = await call('POST', '/v1/runs', tokens.scoped, { strategy: 'immediate', components: [B] });
    assert.equal(other.statusCode, 403);
    assert.match(other.json().message, new RegExp(`test-scoped may not act on ${B}`));
    assert.equal((await call('POST', '/v1/runs', tokens.scoped, { strategy: 'immediate', components: [A, B] })).statusCode, 403, 'all or nothing');
    for (const action of ['pause', 'resume', 'cancel']) {
      assert.equal((await call('POST', `/v1/runs/${B}/${action}`, tokens.scoped)).statusCode, 403, action);
      assert.equal(
        (await call('POST', `/v1/runs/${encodeURIComponent(`mend/recover/${B}/escalation/progressive`)}/${action}`, tokens.scoped)).statusCode,
        403,
        `${action} on an escalation rung of B`,
      );
      assert.equal((await call('POST', `/v1/runs/${A}/${action}`, tokens.scoped)).statusCode, 404, `${action} on A: allowed, no run`);
    }
    const alerts = await call('POST', '/v1/alerts/alertmanager', tokens.scoped, alertPayload(A, B));
    assert.equal(alerts.statusCode, 200);
    assert.deepEqual(alerts.json().forbidden, [B]);
    assert.deepEqual(
      alerts.json().started.map((r: { component: string }) => r.component),
      [A],
    );
    assert.deepEqual(
      starts.slice(count).map((s) => s.component.id),
      [A, A],
    );
  });

  test('an admin starts emergency resets and may approve', async () => {
    const reset = await call('POST', '/v1/runs', tokens.admin, { strategy: 'emergency-reset', components: [B], dryRun: true });
    assert.equal(reset.statusCode, 202, reset.body);
    assert.equal(starts.at(-1)?.strategy, 'emergency-reset');
    assert.equal(starts.at(-1)?.requestedBy, 'test-admin');
    assert.equal((await call('POST', `/v1/runs/${A}/approve`, tokens.admin, { approve: false, reason: 'no' })).statusCode, 404, 'allowed; there is no run');
  });

  test('starts are rate-limited per token: 429 with Retry-After, other tokens unaffected', async () => {
    const { mend, starts: limitedStarts } = spyClient(real);
    const limited = await testApp(mend, config, table, { rateLimit: { burst: 2, perMinute: 1 } });
    try {
      const go = (token: string) =>
        limited.inject({ method: 'POST', url: '/v1/runs', headers: bearer(token), payload: { strategy: 'immediate', components: [A] } });
      assert.equal((await go(tokens.operator)).statusCode, 202);
      assert.equal((await go(tokens.operator)).statusCode, 202);
      const third = await go(tokens.operator);
      assert.equal(third.statusCode, 429);
      assert.ok(Number(third.headers['retry-after']) >= 1, `retry-after ${third.headers['retry-after']}`);
      assert.match(third.json().message, /too many run starts for test-operator/);
      assert.equal((await go(tokens.scoped)).statusCode, 202);
      assert.equal(limitedStarts.length, 3);
    } finally {
      await limited.close();
    }
  });

  test('an address that keeps presenting wrong tokens gets 429s, even for a right one; other addresses are unaffected', async () => {
    const guarded = await testApp(real, config, table, { authFailureLimit: { burst: 3, perMinute: 1 } });
    try {
      const get = (token: string, remoteAddress = '10.0.0.9') =>
        guarded.inject({ method: 'GET', url: '/v1/components', headers: bearer(token), remoteAddress });
      for (let i = 0; i < 3; i++) assert.equal((await get(generateToken())).statusCode, 401);
      const locked = await get(generateToken());
      assert.equal(locked.statusCode, 429);
      assert.ok(Number(locked.headers['retry-after']) >= 1);
      assert.equal((await get(tokens.viewer)).statusCode, 429, 'no answer that would confirm a guess');
      assert.equal((await get(tokens.viewer, '10.0.0.10')).statusCode, 200);
    } finally {
      await guarded.close();
    }
  });

  test('the log has a line per request with its request id and token name, never a token; /readyz polls log at debug', async () => {
    await call('GET', '/v1/components', tokens.viewer);
    await app.inject({ method: 'GET', url: '/v1/components', headers: { ...bearer(tokens.admin), 'x-request-id': 'trace-me-123' } });
    await call('GET', '/readyz');
    const text = log.lines.join('\n');
    for (const token of Object.values(tokens)) assert.ok(!text.includes(token), 'a token reached the log');
    const lines = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l.url === '/v1/components' && l.by === 'test-viewer' && typeof l.reqId === 'string'));
    assert.ok(
      lines.some((l) => l.reqId === 'trace-me-123' && l.by === 'test-admin'),
      'a given x-request-id is the request id',
    );
    assert.ok(!lines.some((l) => l.url === '/readyz'), '/readyz is not logged at info');
    const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc' } });
    assert.equal(res.headers['x-request-id'], 'abc');

    const debugLog = logCapture();
    const verbose = await testApp(real, config, table, { logger: { level: 'debug', stream: debugLog.stream } });
    try {
      await verbose.inject({ method: 'GET', url: '/readyz' });
      const readyz = debugLog.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.url === '/readyz');
      assert.equal(readyz?.level, 20, '/readyz is logged at debug');
    } finally {
      await verbose.close();
    }
  });
});
