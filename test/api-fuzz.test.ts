/**
 * Property: thousands of malformed requests (random and mutated bodies, wrong types, unknown
 * fields, huge strings, bad JSON, odd content types, odd path and query parameters, odd auth
 * headers) against every route of the API, backed by the shared dev server, give zero 5xx, never a
 * stack trace, and start zero runs (counted by a spy and by Temporal visibility); the app stays healthy.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { MendClient, type StartRecoveryRequest, type StartSagaRequest } from '../client';
import { loadConfigFile } from '../client/config';
import { StartSagaBodySchema } from '../core/api';
import { countRuns } from '../client/runs';
import type { Config } from '../core/schemas';
import { alertPayload, bearer, makeTokens, spyClient, testApp, type TestTokens } from './api-fixtures';
import { sharedServer, tempDir, uniqueQueue, writeDemoConfig } from './helpers';

const NUM_RUNS = Number(process.env.MEND_FUZZ_RUNS ?? 2500);

describe('API under malformed input (fast-check)', () => {
  const dir = tempDir('api-fuzz');
  const suffix = Date.now().toString(36);
  const known = [`fz-a-${suffix}`, `fz-b-${suffix}`];
  let real: MendClient;
  let config: Config;
  let tokens: TestTokens;
  let starts: StartRecoveryRequest[];
  let sagaStarts: StartSagaRequest[];
  let app: FastifyInstance;

  before(async () => {
    const saga = `sagas:\n  - name: fz-saga\n    steps:\n      - name: check\n        action: { type: component, component: ${known[0]}, op: validate }\n`;
    const { file } = await writeDemoConfig(
      dir,
      known.map((id) => ({ id })),
      saga,
    );
    config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    const made = makeTokens(known[0]!);
    tokens = made.tokens;
    real = await MendClient.connect({ address: sharedServer().address, taskQueue: uniqueQueue('api-fuzz') });
    // Starts go through for real: if one slipped past validation, visibility would show it too.
    const spy = spyClient(real, { startsThrough: true });
    starts = spy.starts;
    sagaStarts = spy.sagaStarts;
    app = await testApp(spy.mend, config, made.table, { rateLimit: { burst: 100_000, perMinute: 100_000 } });
  });
  after(async () => {
    await app?.close();
    await real?.close();
  });

  test('no 5xx, no stack, no run started; the app stays healthy', async () => {
    const notKnown = (s: string) => !known.includes(s);
    const huge = fc.integer({ min: 70_000, max: 150_000 }).map((n) => 'x'.repeat(n));
    const ascii = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~'.split('')), maxLength: 40 });
    const anyString = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 60 }),
      ascii,
      fc.constantFrom('', ' ', 'null', '__proto__', 'constructor', '../etc/passwd', 'mend/recover/', 'mend//x', '%00', 'a'.repeat(500)),
    );
    const wrongType = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.jsonValue(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue(), { maxKeys: 3 }),
      anyString,
    );

    // A valid start, then one change that must make it invalid.
    const validStart = fc.record({
      strategy: fc.constantFrom('immediate', 'progressive', 'dependency-aware', 'state-recovery', 'emergency-reset'),
      components: fc.subarray(known, { minLength: 1 }),
      dryRun: fc.boolean(),
      reason: fc.string({ maxLength: 20 }),
      options: fc.constant({}),
    });
    const brokenStart = fc.tuple(validStart, fc.nat(8), wrongType, anyString, fc.string({ minLength: 1, maxLength: 10 })).map(([body, how, bad, text, key]) => {
      const b: Record<string, unknown> = { ...body };
      switch (how) {
        case 0:
          b[`x${key}`] = bad;
          break; // unknown field
        case 1:
          b.strategy =
            typeof bad === 'string' && ['immediate', 'progressive', 'dependency-aware', 'state-recovery', 'emergency-reset', 'saga'].includes(bad) ? 42 : bad;
          break;
        case 2:
          b.components = typeof bad === 'string' ? [notKnown(bad) ? bad : `${bad}!`] : bad;
          break;
        case 3:
          b.components = [];
          break;
        case 4:
          b.dryRun = typeof bad === 'boolean' ? String(bad) : bad;
          break;
        case 5:
          b.reason = 'r'.repeat(501 + text.length);
          break;
        case 6:
          b.options = { [`x${key}`]: bad };
          break;
        case 7:
          b.options = { before: `${text}not-a-time`, checkpoint: '../../etc' };
          break;
        default:
          delete b.strategy;
      }
      return b;
    });
    // A valid Alertmanager payload naming no configured component (random labels, some fields left out), or one field broken.
    const labels = fc.dictionary(fc.constantFrom('component', 'service', 'job', 'alertname', 'instance', 'x'), anyString.filter(notKnown), { maxKeys: 4 });
    const alertBody = fc
      .tuple(fc.array(anyString.filter(notKnown), { minLength: 1, maxLength: 4 }), fc.nat(6), wrongType, fc.array(labels, { minLength: 1, maxLength: 5 }))
      .map(([names, how, bad, labelSets]) => {
        const p: Record<string, unknown> = alertPayload(...names);
        if (how === 1) p.version = bad === '4' ? 4 : bad;
        if (how === 2) p.alerts = bad;
        if (how === 3) p.alerts = [{ status: bad, labels: { component: known[0] } }];
        if (how === 4) p.alerts = labelSets.map((l) => ({ status: 'firing', labels: l }));
        if (how === 5) p.alerts = labelSets.map((l, i) => ({ status: i % 2 ? 'resolved' : 'firing', labels: l, annotations: bad }));
        return p;
      });
    const controlBody = fc.oneof(
      fc.record({ reason: wrongType }).filter((b) => typeof b.reason !== 'string' || b.reason.length > 500),
      fc.record({ approve: wrongType }).filter((b) => typeof b.approve !== 'boolean'),
      fc.record({ approve: fc.boolean(), reason: fc.string({ maxLength: 10 }), by: anyString }),
      fc.record({ reason: fc.string({ maxLength: 20 }) }),
    );
    // A saga body the API would accept (e.g. `{}`, or none: read as `{}`) would run the saga: those are left out.
    const wouldRunSaga = (b: { json: unknown } | { raw: string }) => {
      // An empty body is no body (without a content type nothing is parsed): the defaults, accepted.
      if ('raw' in b && b.raw === '') return true;
      let value: unknown;
      try {
        value = 'raw' in b ? (b.raw.trim() === '' ? {} : JSON.parse(b.raw)) : b.json;
      } catch {
        return false;
      }
      return StartSagaBodySchema.safeParse(value).success;
    };
    // A saga request with one field broken (a valid one would run the saga).
    const brokenSaga = fc.tuple(fc.nat(4), wrongType, fc.string({ minLength: 1, maxLength: 10 })).map(([how, bad, key]) => {
      if (how === 0) return { [`x${key}`]: bad };
      if (how === 1) return { requestId: typeof bad === 'string' && /^[\w.-]{1,100}$/.test(bad) ? `${bad}/` : bad };
      if (how === 2) return { dryRun: typeof bad === 'boolean' ? 1 : bad };
      if (how === 3) return { reason: 'r'.repeat(501) };
      return { requestId: 'ok', dryRun: true, command: ['rm', '-rf', '/'] };
    });
    const raw = fc.oneof(
      anyString,
      huge.map((r) => JSON.stringify({ strategy: 'immediate', components: [known[0]], reason: r })),
      fc.constantFrom('{', '{"strategy":', '[1,2', '{"a":1}}', '\u0000', 'null', '{"__proto__":{"strategy":"immediate"}}', '{"constructor":{"prototype":{}}}'),
    );
    const bodyOf = (specific: fc.Arbitrary<unknown>) =>
      fc.oneof(
        { weight: 6, arbitrary: specific.map((json) => ({ json })) },
        { weight: 1, arbitrary: fc.jsonValue().map((json) => ({ json })) },
        { weight: 2, arbitrary: raw.map((text) => ({ raw: text })) },
        { weight: 1, arbitrary: fc.constant(undefined) },
      );
    const contentType = fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-8',
          'APPLICATION/JSON',
          'application/json; charset=latin1',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          '',
        ),
      },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
    const idParam = fc.oneof(
      fc.constantFrom(...known, 'unknown-id', 'mend/recover/none', `mend/recover/${known[0]}/escalation/x`).map(encodeURIComponent),
      anyString.map(encodeURIComponent),
      ascii.map((s) => s.replace(/[#?/\s%]/g, '')),
      fc.constantFrom('%', '%zz', '%2e%2e', '..', '.', '%00', '%F0%9F%92%A9'),
    );
    const query = fc.oneof(
      fc
        .dictionary(fc.constantFrom('component', 'strategy', 'phase', 'outcome', 'trigger', 'status', 'since', 'limit', 'x', '__proto__'), anyString, {
          maxKeys: 4,
        })
        .map((q) => new URLSearchParams(q).toString()),
      fc.constantFrom(
        'limit=0',
        'limit=-1',
        'limit=1e9',
        'limit=abc',
        'since=yesterday',
        'component=A',
        'component=a&component=b',
        'strategy=reboot',
        '%',
        'a=%zz',
      ),
    );
    const authHeader = fc.oneof(
      { weight: 8, arbitrary: fc.constant('admin' as const) },
      { weight: 1, arbitrary: fc.constantFrom('operator' as const, 'scoped' as const, 'viewer' as const) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.constant(undefined),
          ascii.map((s) => `Bearer ${s}`),
          ascii,
        ),
      },
    );
    type Req = { method: string; template: string; body?: { json: unknown } | { raw: string } };
    const routeAndBody: fc.Arbitrary<Req> = fc.oneof(
      { weight: 4, arbitrary: bodyOf(brokenStart).map((body) => ({ method: 'POST', template: '/v1/runs', body })) },
      { weight: 3, arbitrary: bodyOf(alertBody).map((body) => ({ method: 'POST', template: '/v1/alerts/alertmanager', body })) },
      {
        weight: 3,
        arbitrary: fc
          .tuple(fc.constantFrom('pause', 'resume', 'cancel', 'approve'), bodyOf(controlBody))
          .map(([a, body]) => ({ method: 'POST', template: `/v1/runs/:id/${a}`, body })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom('fz-saga', 'fz-saga', 'nope', 'Bad Name', '..'), bodyOf(brokenSaga))
          .map(([name, body]) => ({ method: 'POST', template: `/v1/sagas/${encodeURIComponent(name)}/runs`, body }))
          .filter((r) => r.body !== undefined && !wouldRunSaga(r.body)),
      },
      // A check of a known component would really run (on a queue no worker polls): only unknown and malformed ids.
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            idParam.filter((id) => !known.includes(id) && !id.includes(':')),
            bodyOf(controlBody),
          )
          .map(([id, body]) => ({ method: 'POST', template: `/v1/components/${id}/check`, body })),
      },
      {
        weight: 2,
        arbitrary: fc
          .constantFrom('/v1/runs', '/v1/runs/:id', '/v1/components', '/v1/components/:id', '/v1/sagas', '/healthz', '/readyz', '/metrics', '/docs/json')
          .map((template) => ({ method: 'GET', template })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), fc.constantFrom('/v1/runs', '/v1/runs/:id', '/v1/components'))
          .map(([method, template]) => ({ method, template })),
      },
    );

    const request = fc.record({ req: routeAndBody, id: idParam, query: fc.option(query), contentType, auth: authHeader });
    let requests = 0;
    const byStatus = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ req: { method, template, body: b }, id, query: q, contentType: ct, auth }) => {
        const url = template.replace(':id', id) + (q ? `?${q}` : '');
        const headers: Record<string, string> = {};
        if (auth && auth in tokens) Object.assign(headers, bearer(tokens[auth as keyof TestTokens]));
        else if (typeof auth === 'string') headers.authorization = auth;
        if (ct !== undefined) headers['content-type'] = ct;
        const opts: InjectOptions = { method: method as InjectOptions['method'], url, headers };
        if (b) opts.payload = 'raw' in b ? b.raw : JSON.stringify(b.json);
        const res = await app.inject(opts);
        requests++;
        byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
        assert.ok(res.statusCode < 500, `${method} ${url} → ${res.statusCode}: ${res.body.slice(0, 300)}`);
        assert.doesNotMatch(res.body, /\n\s+at .+:\d+:\d+/, `${method} ${url}: a stack trace`);
        if (res.statusCode >= 400 && method !== 'HEAD')
          assert.equal(res.json().statusCode, res.statusCode, `${method} ${url}: error body ${res.body.slice(0, 200)}`);
        assert.notEqual(res.statusCode, 202, `${method} ${url} was accepted: ${String(opts.payload).slice(0, 200)}`);
        if (template === '/v1/alerts/alertmanager' && res.statusCode === 200) assert.deepEqual(res.json().started, []);
      }),
      { numRuns: NUM_RUNS },
    );

    assert.equal(requests, NUM_RUNS);
    console.log(
      `statuses: ${[...byStatus]
        .sort(([a], [b]) => a - b)
        .map(([code, n]) => `${code}×${n}`)
        .join(' ')}`,
    );
    // The mix must reach the handlers, not stop at the door.
    for (const code of [400, 401, 403, 404, 413, 415]) assert.ok(byStatus.has(code), `no ${code} among ${[...byStatus.keys()].join(', ')}`);
    assert.equal(starts.length, 0, `runs started: ${starts.map((s) => s.component.id).join(', ')}`);
    assert.equal(sagaStarts.length, 0, `sagas started: ${sagaStarts.map((s) => s.requestId).join(', ')}`);
    assert.equal(await countRuns(real, {}), 0, 'visibility shows no run on this task queue');
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    const list = await app.inject({ method: 'GET', url: '/v1/components', headers: bearer(tokens.viewer) });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().components.length, known.length);
  });
});
