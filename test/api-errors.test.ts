/**
 * The API's error mapper: bad input is a 4xx that names the field (400), the size (413) or the
 * media type (415), never a 500 or a stack; run paths accept URL-encoded workflow ids or component
 * ids; visibility queries are built only from validated filters, with quoted literals.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { MendClient, type StartRecoveryRequest } from '../client';
import { loadConfigFile } from '../client/config';
import { ServiceError } from '@temporalio/client';
import type { TokenTable } from '../api/auth';
import { toErrorResponse } from '../api/errors';
import { supervisorWorkflowId } from '../core/constants';
import type { Config } from '../core/schemas';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { queryLiteral, runListQuery, workflowIdOf, componentOfWorkflowId } from '../core/visibility';
import { bearer, logCapture, makeTokens, spyClient, testApp, type TestTokens } from './api-fixtures';
import { sharedServer, tempDir, uniqueQueue, writeDemoConfig } from './helpers';

describe('visibility queries and run ids (pure)', () => {
  test('a literal is quoted so that no filter value can end it early', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const literal = queryLiteral(s);
        assert.equal(JSON.parse(literal), s);
        assert.ok(literal.startsWith('"') && literal.endsWith('"'));
        assert.ok(!/[^\\]"/.test(literal.slice(1, -1).replace(/\\\\/g, '')), 'an unescaped quote inside');
      }),
      { numRuns: 2_000 },
    );
  });

  test('each filter adds one clause on its search attribute; runs are limited to the task queue', () => {
    assert.equal(runListQuery({}, 'mend'), 'WorkflowId STARTS_WITH "mend/" AND TaskQueue = "mend"');
    assert.equal(
      runListQuery(
        {
          component: 'api',
          strategy: 'immediate',
          phase: 'validation',
          outcome: 'failed',
          trigger: 'alert',
          status: 'running',
          since: '2026-11-23T10:00:00+01:00',
        },
        'q',
      ),
      'WorkflowId STARTS_WITH "mend/" AND TaskQueue = "q" AND MendComponents = "api" AND MendStrategy = "immediate" AND MendPhase = "validation" AND MendOutcome = "failed" AND MendTrigger = "alert" AND ExecutionStatus = "Running" AND StartTime >= "2026-11-23T09:00:00.000Z"',
    );
  });

  test('a bare component id means its recovery run; the component of a run id is read from it', () => {
    assert.equal(workflowIdOf('api'), 'mend/recover/api');
    assert.equal(workflowIdOf('mend/saga/x/1'), 'mend/saga/x/1');
    assert.equal(componentOfWorkflowId('mend/recover/api/escalation/progressive'), 'api');
    assert.equal(componentOfWorkflowId('mend/supervisor/db'), 'db');
    assert.equal(componentOfWorkflowId('mend/saga/x/1'), undefined);
  });
});

describe('error mapping (pure)', () => {
  test('a Temporal call cancelled at the deadline (gRPC CANCELLED) is a 503 with Retry-After, not a 500', () => {
    // The shape `npm run fuzz` saw from a backlog query after the request's 10 s: the client's ServiceError over the gRPC status.
    const grpc = Object.assign(new Error('1 CANCELLED: Call cancelled'), { code: 1, details: 'Call cancelled' });
    const err = new ServiceError('Failed to query Workflow: 1 CANCELLED: Call cancelled', { cause: grpc });
    const { body, headers, internal } = toErrorResponse(err, 'req-1');
    assert.equal(body.statusCode, 503);
    assert.equal(headers['retry-after'], '5');
    assert.equal(internal, false);
    assert.match(body.message, /^Temporal did not answer in time/);
    // Anything else unknown stays an internal error that names only the request.
    const other = toErrorResponse(new Error('boom'), 'req-2');
    assert.equal(other.body.statusCode, 500);
    assert.doesNotMatch(other.body.message, /boom/);
  });
});

describe('503 messages (pure)', () => {
  test('a deadline that passed says Temporal did not answer in time; a refused connection says it is not reachable', () => {
    const deadline = new ServiceError(
      'Failed to query Workflow: 4 DEADLINE_EXCEEDED: Deadline exceeded after 4.002s,LB pick: 0.001s,remote_addr=127.0.0.1:7233',
      {
        cause: Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded after 4.002s'), { code: 4 }),
      },
    );
    const refused = new ServiceError('Failed to query Workflow: 14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1', {
      cause: Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 }),
    });
    const neverConnected = Object.assign(
      new Error(
        '4 DEADLINE_EXCEEDED: Deadline exceeded after 1.091s,name resolution: 0.830s,metadata filters: 0.177s,time to current attempt start: 0.001s,Waiting for LB pick',
      ),
      { code: 4 },
    );
    const timedOut = toErrorResponse(deadline, 'r1');
    assert.equal(timedOut.body.statusCode, 503);
    assert.equal(timedOut.body.message, 'Temporal did not answer in time (a busy server or worker); try again shortly');
    assert.equal(timedOut.headers['retry-after'], '5');
    for (const err of [refused, neverConnected]) {
      const down = toErrorResponse(err, 'r2');
      assert.equal(down.body.statusCode, 503);
      assert.equal(down.body.message, 'Temporal is not reachable; try again shortly');
      assert.equal(down.headers['retry-after'], '5');
    }
  });
});

/** Sends `bytes` over a plain TCP socket and reads all the server says until it closes. */
function rawRequest(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

describe('API error responses', () => {
  const logs = logCapture();
  const dir = tempDir('api-errors');
  const id = `err-${Date.now().toString(36)}`;
  let real: MendClient;
  let app: FastifyInstance;
  let tokens: TestTokens;
  let starts: StartRecoveryRequest[];
  let config: Config;
  let table: TokenTable;

  before(async () => {
    const { file } = await writeDemoConfig(dir, [{ id }]);
    config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    const made = makeTokens(id);
    tokens = made.tokens;
    table = made.table;
    real = await MendClient.connect({ address: sharedServer().address, taskQueue: uniqueQueue('api-errors') });
    const spy = spyClient(real);
    starts = spy.starts;
    app = await testApp(spy.mend, config, made.table);
  });
  after(async () => {
    await app?.close();
    await real?.close();
  });

  const start = (payload: string | object, contentType = 'application/json') =>
    app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: { ...bearer(tokens.admin), 'content-type': contentType },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  test('400 names each bad field with its path and what was expected', async () => {
    const res = await start({ strategy: 'Re Boot!', components: [id, 'Bad Id'], options: { before: 'yesterday' } });
    assert.equal(res.statusCode, 400);
    const issues = res.json().issues as Array<{ path: string; message: string }>;
    assert.deepEqual(issues.map((i) => i.path).sort(), ['body.components[1]', 'body.options.before', 'body.strategy']);
    assert.match(issues.find((i) => i.path === 'body.strategy')!.message, /unknown strategy "Re Boot!" \(available: immediate, /);
    assert.match(res.json().message, /body\.components\[1\]: expected a component id/);
    // A well-formed name that is neither built in nor in the runbooks folder: checked once the shape is right.
    const unknown = await start({ strategy: 'reboot', components: [id] });
    assert.equal(unknown.statusCode, 400, unknown.body);
    assert.match(unknown.json().message, /strategy.*unknown strategy "?reboot"?/);
  });

  test('unknown fields are refused, in the body, its options and the query', async () => {
    const extra = await start({ strategy: 'immediate', components: [id], command: ['rm', '-rf', '/'] });
    assert.equal(extra.statusCode, 400);
    assert.equal(extra.json().message, 'body.command: unknown field');
    const option = await start({ strategy: 'immediate', components: [id], options: { url: 'http://evil' } });
    assert.equal(option.statusCode, 400);
    assert.equal(option.json().issues[0].path, 'body.options.url');
    const query = await app.inject({ method: 'GET', url: '/v1/runs?component=x&query=WorkflowId%3D%22a%22', headers: bearer(tokens.viewer) });
    assert.equal(query.statusCode, 400);
    assert.equal(query.json().message, 'query.query: unknown field');
    assert.equal(starts.length, 0);
  });

  test('a query parameter on a route that takes none is refused, naming it, and the request does nothing', async () => {
    const read = await app.inject({ method: 'GET', url: '/v1/components?limt=5', headers: bearer(tokens.viewer) });
    assert.equal(read.statusCode, 400, read.body);
    assert.equal(read.json().message, 'query.limt: unknown field');
    const started = await app.inject({
      method: 'POST',
      url: '/v1/runs?dryRun=true',
      headers: { ...bearer(tokens.admin), 'content-type': 'application/json' },
      payload: JSON.stringify({ strategy: 'immediate', components: [id] }),
    });
    assert.equal(started.statusCode, 400, started.body);
    assert.equal(started.json().message, 'query.dryRun: unknown field');
    assert.equal(starts.length, 0);
    // Without it, the same read answers.
    assert.equal((await app.inject({ method: 'GET', url: '/v1/components', headers: bearer(tokens.viewer) })).statusCode, 200);
  });

  test('bad JSON is a 400, a body over 64 KiB a 413, anything but JSON a 415', async () => {
    const bad = await start('{"strategy": "immediate", ');
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /not valid JSON/);
    const big = await start({ strategy: 'immediate', components: [id], reason: 'x'.repeat(70_000) });
    assert.equal(big.statusCode, 413);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await start('strategy=immediate', type);
      assert.equal(res.statusCode, 415, type);
      assert.equal(res.json().error, 'Unsupported Media Type');
    }
    const empty = await start('');
    assert.equal(empty.statusCode, 400);
    assert.equal(starts.length, 0);
  });

  test('run paths take URL-encoded workflow ids or component ids; anything else is a 400 on params.id', async () => {
    const encoded = await app.inject({ method: 'GET', url: `/v1/runs/${encodeURIComponent(`mend/recover/${id}`)}`, headers: bearer(tokens.viewer) });
    assert.equal(encoded.statusCode, 404);
    assert.equal(encoded.json().message, `no run mend/recover/${id}`);
    for (const bad of ['%zz', encodeURIComponent('../../etc/passwd'), encodeURIComponent('http://x/y'), 'UPPER']) {
      const res = await app.inject({ method: 'GET', url: `/v1/runs/${bad}`, headers: bearer(tokens.viewer) });
      assert.equal(res.statusCode, 400, `${bad}: ${res.body}`);
      if (bad !== '%zz') assert.equal(res.json().issues[0].path, 'params.id');
    }
  });

  test('a path whose %-escapes do not decode is a 400 in the error shape, with the request id', async () => {
    for (const [method, url] of [
      ['GET', '/v1/runs/%zz'],
      ['POST', '/v1/backlog/%/start'],
      ['POST', '/v1/components/%C0%AF/check?x=1'],
      ['GET', '/v1/runs/a%E0%A4%A'],
    ] as const) {
      const res = await app.inject({ method, url, headers: bearer(tokens.admin) });
      assert.equal(res.statusCode, 400, `${method} ${url}`);
      const body = res.json() as { message: string; requestId: string; issues: Array<{ path: string }> };
      assert.ok(body.requestId, `${method} ${url}: no request id in ${res.body}`);
      assert.equal(body.requestId, res.headers['x-request-id']);
      assert.match(body.message, /^path ".*" is not a valid URL: a %-escape does not decode/);
      assert.deepEqual(
        body.issues.map((i) => i.path),
        ['path'],
      );
    }
    assert.equal(starts.length, 0);
  });

  test('raw non-ASCII bytes in the path (refused by the HTTP parser) get the error shape with a request id, not Node\'s "Client Error"', async () => {
    // Found by `npm run fuzz`: 61 requests like these got Fastify's own `{"message":"Client Error"}`.
    const listening = await testApp(real, config, table, { logger: { level: 'info', stream: logs.stream } });
    try {
      await listening.listen({ port: 0, host: '127.0.0.1' });
      const { port } = listening.server.address() as AddressInfo;
      for (const requestLine of ['POST /v1/schedules/é/resume HTTP/1.1', 'GET /v1/runs/\u00ff\u0001 HTTP/1.1']) {
        const raw = await rawRequest(
          port,
          Buffer.concat([Buffer.from(requestLine, 'latin1'), Buffer.from(`\r\nHost: x\r\n${'Authorization: Bearer '}${tokens.admin}\r\n\r\n`)]),
        );
        const [head, text] = raw.split('\r\n\r\n') as [string, string];
        assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/, raw);
        assert.match(head, /\r\ncontent-type: application\/json; charset=utf-8\r\n/i);
        const body = JSON.parse(text) as { statusCode: number; error: string; message: string; requestId: string; issues: Array<{ path: string }> };
        assert.equal(body.statusCode, 400);
        assert.equal(body.error, 'Bad Request');
        assert.match(body.message, /^the request path is not valid: raw non-ASCII/);
        assert.deepEqual(
          body.issues.map((i) => i.path),
          ['path'],
        );
        assert.match(body.requestId, /^[0-9a-f-]{36}$/);
        assert.match(head, new RegExp(`\\r\\nx-request-id: ${body.requestId}\\r\\n`, 'i'));
        // The log names the same request id.
        assert.ok(
          logs.lines.some((l) => l.includes(body.requestId)),
          `no log line with ${body.requestId}`,
        );
      }
    } finally {
      await listening.close();
    }
  });

  test('a supervisor that does not answer within the deadline is a 503 with Retry-After, not a 500', async () => {
    // Found by `npm run fuzz`: a query that timed out came back as a plain error, and the API said 500.
    // A supervisor on this test's queue, which no worker polls: its query waits until the request's deadline.
    await real.temporal.workflow.start(WORKFLOW_TYPES.supervisor, { workflowId: supervisorWorkflowId(id), taskQueue: real.taskQueue, args: [{}] });
    const slowApp = await testApp(real, config, table, { temporalDeadlineMs: 1_500 });
    try {
      const res = await slowApp.inject({ method: 'GET', url: `/v1/components/${id}`, headers: bearer(tokens.viewer) });
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.headers['retry-after'], '5');
      // It timed out: said as such, not as Temporal being down.
      assert.match(res.json().message, /^Temporal did not answer in time/);
    } finally {
      await slowApp.close();
      await real.temporal.workflow
        .getHandle(supervisorWorkflowId(id))
        .terminate('test over')
        .catch(() => undefined);
    }
  });

  test('an unknown route or method is a JSON 404 with the request id', async () => {
    for (const [method, url] of [
      ['GET', '/v2/runs'],
      ['DELETE', '/v1/runs'],
      ['PUT', `/v1/components/${id}`],
    ] as const) {
      const res = await app.inject({ method, url, headers: bearer(tokens.admin) });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json().requestId, res.headers['x-request-id']);
      assert.match(res.json().message, /^no route /);
    }
  });
});
