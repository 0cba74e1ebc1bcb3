/**
 * The API's fleet reads under load, on the real dev server with a real worker: concurrent reads
 * share their workflow queries and keep a bounded number in flight (client/query-gate.ts), and a
 * supervisor that does not answer in time costs the fleet page one row, not a 503.
 * Found by `npm run fuzz`: 16 concurrent requests made 12 fleet, backlog and stats reads wait out
 * the 10 s deadline while their queries queued at the worker.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MendClient, TemporalTimeoutError } from '../client';
import { supervisorState } from '../client/supervisors';
import { loadConfigFile } from '../client/config';
import { supervisorSpec } from '../client/schedules';
import { supervisorWorkflowId } from '../core/constants';
import { supervisorStateQuery } from '../core/messages';
import type { Config } from '../core/schemas';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { answering, bearer, makeTokens, startSupervisors, testApp, type TestTokens } from './api-fixtures';
import { sharedServer, startInProcessWorker, tempDir, uniqueQueue, writeDemoConfig, type TestWorker } from './helpers';
import type { TokenTable } from '../api/auth';

describe('fleet reads under load', () => {
  const dir = tempDir('api-reads');
  const queue = uniqueQueue('api-reads');
  const stamp = Date.now().toString(36);
  const live = [`reads-a-${stamp}`, `reads-b-${stamp}`];
  /** Its supervisor runs on a queue no worker polls: a query to it is never answered. */
  const mute = `reads-mute-${stamp}`;
  let config: Config;
  let worker: TestWorker;
  let client: MendClient;
  let tokens: TestTokens;
  let table: TokenTable;
  const started: string[] = [];

  before(async () => {
    const { file } = await writeDemoConfig(
      dir,
      [...live, mute].map((id) => ({ id, supervision: { interval: '1h' } })),
    );
    config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    ({ tokens, table } = makeTokens(live[0]!));
    worker = await startInProcessWorker(queue, path.join(dir, '.mend'));
    // At most 2 queries in flight, so that the bound shows with a fleet of two.
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue, maxConcurrentQueries: 2 });
    started.push(...(await startSupervisors(client, config, queue, [...live, mute], [mute])));
    // The live supervisors answer before the tests count anything.
    for (const id of live) await answering(client, supervisorWorkflowId(id), supervisorStateQuery);
  });

  after(async () => {
    for (const wf of started)
      await client?.temporal.workflow
        .getHandle(wf)
        .terminate('test over')
        .catch(() => undefined);
    await worker?.stop();
    await client?.close();
  });

  /** Counts the queries the client sends to Temporal, and the most in flight at once. */
  function countQueries(mend: MendClient): { sent: number; maxInFlight: number; restore(): void } {
    const service = mend.connection.workflowService;
    const original = service.queryWorkflow;
    const counts = { sent: 0, maxInFlight: 0, inFlight: 0 };
    service.queryWorkflow = (async (...args: Parameters<typeof original>) => {
      counts.sent++;
      counts.maxInFlight = Math.max(counts.maxInFlight, ++counts.inFlight);
      try {
        return await original.apply(service, args);
      } finally {
        counts.inFlight--;
      }
    }) as typeof original;
    return {
      get sent() {
        return counts.sent;
      },
      get maxInFlight() {
        return counts.maxInFlight;
      },
      restore: () => void (service.queryWorkflow = original),
    };
  }

  test('24 concurrent fleet reads share their supervisor queries and keep at most the bound in flight', async () => {
    const liveConfig: Config = { ...config, components: config.components.filter((c) => live.includes(c.id)) };
    const app = await testApp(client, liveConfig, table);
    const counted = countQueries(client);
    try {
      const answers = await Promise.all(Array.from({ length: 24 }, () => app.inject({ method: 'GET', url: '/v1/fleet', headers: bearer(tokens.viewer) })));
      for (const res of answers) assert.equal(res.statusCode, 200, res.body);
      // Each row has its supervisor's state, or (on a machine too loaded to answer within the page's wait) says so.
      const rows = answers.map((res) => res.json().components as Array<{ id: string; supervisor?: unknown; lastDetail?: string }>);
      for (const r of rows) {
        assert.deepEqual(
          r.map((c) => c.id),
          live,
        );
        for (const c of r) assert.ok(c.supervisor !== undefined || /did not answer/.test(c.lastDetail ?? ''), JSON.stringify(c));
      }
      assert.ok(
        rows.some((r) => r.every((c) => c.supervisor !== undefined)),
        'no read had both supervisors',
      );
      // One query per supervisor per read would be 48.
      assert.ok(counted.sent <= 24, `${counted.sent} queries for 24 reads of 2 supervisors`);
      assert.ok(counted.maxInFlight <= 2, `${counted.maxInFlight} queries in flight at once (bound 2)`);
    } finally {
      counted.restore();
      await app.close();
    }
  });

  test('a read that joined a query with a shorter wait asks again when that one runs out, and gets the answer within its own wait', async () => {
    // Found by `npm run fuzz` on this branch: GET /v1/stats joined the 3 s query of a /metrics scrape and answered 503 after 3 s.
    const late = `reads-late-${stamp}`;
    const lateQueue = `${queue}-late`;
    await client.temporal.workflow.start(WORKFLOW_TYPES.supervisor, {
      workflowId: supervisorWorkflowId(late),
      taskQueue: lateQueue,
      args: [{ spec: supervisorSpec({ ...config.components[0]!, id: late }, config) }],
    });
    started.push(supervisorWorkflowId(late));
    let lateWorker: TestWorker | undefined;
    try {
      // No worker polls its queue yet: the short read runs out; the long one joined it.
      const short = supervisorState(client, late, { timeoutMs: 2_500 });
      const long = supervisorState(client, late, { timeoutMs: 120_000 });
      await assert.rejects(short, (err: Error) => err instanceof TemporalTimeoutError);
      lateWorker = await startInProcessWorker(lateQueue, path.join(dir, '.mend'));
      const state = await long;
      assert.equal(state?.component, late);
    } finally {
      await lateWorker?.stop();
    }
  });

  test('a supervisor that does not answer costs the fleet page its row, not a 503: the read comes back before the deadline', async () => {
    const app = await testApp(client, config, table, { temporalDeadlineMs: 9_000 });
    try {
      const t0 = Date.now();
      const res = await app.inject({ method: 'GET', url: '/v1/fleet', headers: bearer(tokens.viewer) });
      const ms = Date.now() - t0;
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(ms < 9_000, `answered after ${ms} ms`);
      const rows = res.json().components as Array<{ id: string; health: string; supervisor?: unknown; lastDetail?: string }>;
      const row = (id: string) => rows.find((c) => c.id === id)!;
      assert.equal(row(mute).health, 'unknown');
      assert.match(row(mute).lastDetail ?? '', /^its supervisor did not answer within 4 s/);
      assert.equal(row(mute).supervisor, undefined);
      // The others are read as usual.
      for (const id of live) assert.ok(row(id).supervisor, `${id} has its supervisor`);
      // Asked for that supervisor alone, the API says it timed out (not that Temporal is down).
      const one = await app.inject({ method: 'GET', url: `/v1/components/${mute}`, headers: bearer(tokens.viewer) });
      assert.equal(one.statusCode, 503, one.body);
      assert.match(one.json().message, /^Temporal did not answer in time/);
    } finally {
      await app.close();
    }
  });
});
