/**
 * GET /v1/stats, /v1/backlog and /v1/backlog/<spool> when one workflow does not answer its query:
 * a partial answer that says which one, within the read's wait, not a 503 after the request's
 * deadline. Found by `npm run fuzz`: on a loaded machine these reads waited out the 10 s deadline
 * for one supervisor or replay entity and answered 503 for the whole read.
 * A Temporal that is not reachable still makes them a clear 503.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium } from 'playwright-core';
import { MendClient } from '../client';
import { BacklogControl } from '../client/backlog';
import { loadConfigFile } from '../client/config';
import { backlogWorkflowId, supervisorWorkflowId } from '../core/constants';
import { backlogStatusQuery, progressQuery, supervisorStateQuery } from '../core/messages';
import type { Config } from '../core/schemas';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { writeItem } from '../domain/backlog/spool';
import { freePort } from '../scripts/ports';
import { answering, bearer, makeTokens, mutedQueue, startSupervisors, testApp, type TestTokens } from './api-fixtures';
import { runCli, sharedServer, startInProcessWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type TestWorker } from './helpers';
import type { TokenTable } from '../api/auth';

describe('partial answers of the fleet reads', () => {
  const dir = tempDir('api-partial');
  const queue = uniqueQueue('api-partial');
  const stamp = Date.now().toString(36);
  const live = `partial-live-${stamp}`;
  /** Its supervisor and its spool's replay entity run on a queue no worker polls: their queries are never answered. */
  const mute = `partial-mute-${stamp}`;
  const liveSpool = `partial-live-${stamp}`;
  const muteSpool = `partial-mute-${stamp}`;
  /** Well above the read's 4 s wait: a read that waited it out would answer 503 after this. */
  const deadlineMs = 9_000;
  let config: Config;
  let worker: TestWorker;
  let client: MendClient;
  let tokens: TestTokens;
  let table: TokenTable;
  let app: FastifyInstance;
  const started: string[] = [];

  before(async () => {
    const spool = (name: string) => JSON.stringify({ name, dir: `spool/${name}`, sink: { url: 'http://127.0.0.1:9', timeout: '1s' } });
    const { file } = await writeDemoConfig(
      dir,
      [live, mute].map((id) => ({ id, supervision: { interval: '1h' } })),
      `spools:\n  - ${spool(liveSpool)}\n  - ${spool(muteSpool)}\n`,
    );
    config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    ({ tokens, table } = makeTokens(live));
    worker = await startInProcessWorker(queue, path.join(dir, '.mend'));
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
    started.push(...(await startSupervisors(client, config, queue, [live, mute], [mute])));
    await new BacklogControl(client).ensure(config.spools.find((s) => s.name === liveSpool)!);
    started.push(backlogWorkflowId(liveSpool));
    await client.temporal.workflow.start(WORKFLOW_TYPES.backlog, {
      workflowId: backlogWorkflowId(muteSpool),
      taskQueue: mutedQueue(queue),
      args: [{ spool: config.spools.find((s) => s.name === muteSpool)! }],
    });
    started.push(backlogWorkflowId(muteSpool));
    // One item waits in the silent spool's folder: its partial answer still counts it.
    await writeItem(config.spools.find((s) => s.name === muteSpool)!.dir, { id: 'waiting-1', createdAt: new Date(), payload: { n: 1 } });
    // The live ones answer before the tests read anything.
    await answering(client, supervisorWorkflowId(live), supervisorStateQuery);
    await answering(client, backlogWorkflowId(liveSpool), backlogStatusQuery);
    app = await testApp(client, config, table, { temporalDeadlineMs: deadlineMs });
  });

  after(async () => {
    await app?.close();
    for (const wf of started)
      await client?.temporal.workflow
        .getHandle(wf)
        .terminate('test over')
        .catch(() => undefined);
    await worker?.stop();
    await client?.close();
  });

  /** GET `url` as a viewer; the answer and how long it took. */
  async function read(url: string): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
    const t0 = Date.now();
    const res = await app.inject({ method: 'GET', url, headers: bearer(tokens.viewer) });
    return { status: res.statusCode, body: res.json(), ms: Date.now() - t0 };
  }

  test('GET /v1/stats with a silent supervisor: the others counted, the silent one listed as unanswered, not a 503', async () => {
    const { status, body, ms } = await read('/v1/stats');
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(ms < deadlineMs, `answered after ${ms} ms`);
    assert.deepEqual(body.unanswered, [mute]);
    const components = body.components as Array<{ component: string }>;
    assert.deepEqual(
      components.map((c) => c.component),
      [live],
    );
    assert.equal((body.fleet as { supervised: number }).supervised, 1);
    assert.deepEqual(body.unsupervised, []);
  });

  test('GET /v1/backlog with a silent replay entity: the other spool with its status, the silent one marked unanswered, not a 503', async () => {
    const { status, body, ms } = await read('/v1/backlog');
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(ms < deadlineMs, `answered after ${ms} ms`);
    const spools = body.spools as Array<{ spool: string; running: boolean; status?: { spool: string }; unanswered?: string }>;
    const entry = (name: string) => spools.find((s) => s.spool === name)!;
    assert.equal(entry(liveSpool).status?.spool, liveSpool);
    assert.equal(entry(liveSpool).unanswered, undefined);
    assert.equal(entry(muteSpool).running, true);
    assert.equal(entry(muteSpool).status, undefined);
    assert.match(entry(muteSpool).unanswered ?? '', new RegExp(`^the replay of spool ${muteSpool} did not answer within 4 s`));
  });

  test('GET /v1/fleet says why a silent spool has no status (unanswered), instead of a bare running entry', async () => {
    const { status, body, ms } = await read('/v1/fleet');
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(ms < deadlineMs, `answered after ${ms} ms`);
    const spools = body.spools as Array<{ spool: string; running: boolean; status?: unknown; unanswered?: string }>;
    const silent = spools.find((s) => s.spool === muteSpool)!;
    assert.equal(silent.running, true);
    assert.equal(silent.status, undefined);
    assert.match(silent.unanswered ?? '', new RegExp(`^the replay of spool ${muteSpool} did not answer within 4 s`));
    assert.ok(spools.find((s) => s.spool === liveSpool)?.status, 'the spool that answers has its status');
  });

  test('the fleet page shows a silent spool as running with no answer in time, not as "replay not running"', async () => {
    const listening = await testApp(client, config, table, { temporalDeadlineMs: deadlineMs });
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    try {
      const base = await listening.listen({ port: 0, host: '127.0.0.1' });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${base}/ui`, { waitUntil: 'load' });
      await page.getByLabel('API token').fill(tokens.viewer);
      await page.getByRole('button', { name: 'Show the fleet' }).click();
      // Rows of the Backlog table by the spool's name (the components have the same names).
      const spoolRow = (name: string) => page.locator('section[aria-labelledby="spools-heading"] tbody tr', { has: page.locator('th', { hasText: name }) });
      const silent = spoolRow(muteSpool);
      await silent.waitFor({ timeout: 30_000 });
      assert.equal((await silent.innerText()).replace(/\s+/g, ' ').trim(), `${muteSpool} replay running, no answer in time (a busy worker); try again shortly`);
      assert.match((await silent.locator('span').getAttribute('title')) ?? '', new RegExp(`^the replay of spool ${muteSpool} did not answer within 4 s`));
      // The spool that answers shows its state (running or paused, and what it is doing).
      assert.match(await spoolRow(liveSpool).innerText(), /(running|paused), (idle|checking-sink|replaying|backing-off)/);
      assert.deepEqual(errors, [], 'the page logged no console error');
    } finally {
      await browser.close();
      await listening.close();
    }
  });

  test('GET /v1/backlog/<spool> of a silent replay entity: a partial answer (the spool, why no status, the folder counts), not a 503', async () => {
    const { status, body, ms } = await read(`/v1/backlog/${muteSpool}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(ms < deadlineMs, `answered after ${ms} ms`);
    assert.equal(body.spool, muteSpool);
    assert.match(String(body.unanswered), /did not answer within 4 s \(a busy worker\)/);
    assert.equal(body.state, undefined);
    assert.deepEqual(body.onDisk, { pending: 1, failed: 0 });
    // The spool that answers is read as before.
    const other = await read(`/v1/backlog/${liveSpool}`);
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.equal(other.body.spool, liveSpool);
    assert.equal(other.body.unanswered, undefined);
    assert.ok(other.body.state === 'running' || other.body.state === 'paused', JSON.stringify(other.body));
  });

  test('GET /v1/runs/<id> of a run that does not answer its progress query (closed, or running): the run without progress, marked unanswered, within the wait, not after the deadline; mend status says so', async () => {
    // Runs of a worker that has gone since: a closed dry run (to answer a query a closed run is
    // replayed by a worker of its queue) and an emergency reset waiting for its approval.
    const gone = `${queue}-gone`;
    const goneWorker = await startInProcessWorker(gone, path.join(dir, '.mend'));
    const goneClient = await MendClient.connect({ address: sharedServer().address, taskQueue: gone });
    const component = (id: string) => config.components.find((c) => c.id === id)!;
    let closedRun: string;
    let waitingRun: string;
    try {
      const closed = await goneClient.startRecovery({
        strategy: 'immediate',
        component: component(mute),
        trigger: 'manual',
        requestedBy: 'test',
        dryRun: true,
        allComponents: config.components,
      });
      closedRun = closed.workflowId;
      await goneClient.temporal.workflow.getHandle(closedRun).result();
      const waiting = await goneClient.startRecovery({
        strategy: 'emergency-reset',
        component: component(live),
        trigger: 'manual',
        requestedBy: 'test',
        allComponents: config.components,
      });
      waitingRun = waiting.workflowId;
      started.push(waitingRun);
      await waitFor('the emergency reset to wait for its approval', 60_000, async () => (await goneClient.progress(waitingRun)).approval?.state === 'waiting');
    } finally {
      await goneWorker.stop();
      await goneClient.close();
    }
    const unanswered = (run: string) => new RegExp(`^${run} did not answer its progress query within 4 s \\(a busy worker`);

    const { status, body, ms } = await read(`/v1/runs/${encodeURIComponent(closedRun)}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(ms < deadlineMs, `answered after ${ms} ms`);
    assert.equal(body.workflowId, closedRun);
    assert.equal(body.status, 'COMPLETED');
    assert.equal((body.result as { outcome: string }).outcome, 'planned');
    assert.equal(body.progress, undefined);
    assert.match(String(body.unanswered), unanswered(closedRun));

    const running = await read(`/v1/runs/${encodeURIComponent(waitingRun)}`);
    assert.equal(running.status, 200, JSON.stringify(running.body));
    assert.ok(running.ms < deadlineMs, `answered after ${running.ms} ms`);
    assert.equal(running.body.status, 'RUNNING');
    assert.equal(running.body.progress, undefined);
    assert.match(String(running.body.unanswered), unanswered(waitingRun));
    const listening = await testApp(client, config, table, { temporalDeadlineMs: deadlineMs });
    try {
      await listening.listen({ port: 0, host: '127.0.0.1' });
      const { port } = listening.server.address() as AddressInfo;
      const cli = await runCli(['status', waitingRun], { MEND_URL: `http://127.0.0.1:${port}`, MEND_TOKEN: tokens.viewer });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, new RegExp(`^partial: ${waitingRun} did not answer its progress query within 4 s`, 'm'));
    } finally {
      await listening.close();
    }
    await client.temporal.workflow.getHandle(waitingRun).terminate('test over');

    // A closed run whose worker answers still has its progress (and result), with no `unanswered`.
    const run = await client.startRecovery({
      strategy: 'immediate',
      component: component(live),
      trigger: 'manual',
      requestedBy: 'test',
      dryRun: true,
      allComponents: config.components,
    });
    started.push(run.workflowId);
    await client.temporal.workflow.getHandle(run.workflowId).result();
    await answering(client, run.workflowId, progressQuery);
    const answered = await read(`/v1/runs/${encodeURIComponent(run.workflowId)}`);
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.equal(answered.body.status, 'COMPLETED');
    assert.equal((answered.body.result as { outcome: string }).outcome, 'planned');
    assert.ok((answered.body.progress as { steps: unknown[] } | undefined)?.steps, JSON.stringify(answered.body));
    assert.equal(answered.body.unanswered, undefined);
  });

  test('mend over the API says when an answer is partial: stats names the silent supervisor; the silent spool is one line, exit 3', async () => {
    const listening = await testApp(client, config, table, { temporalDeadlineMs: deadlineMs });
    try {
      await listening.listen({ port: 0, host: '127.0.0.1' });
      const { port } = listening.server.address() as AddressInfo;
      const env = { MEND_URL: `http://127.0.0.1:${port}`, MEND_TOKEN: tokens.viewer };
      const stats = await runCli(['stats'], env);
      assert.equal(stats.code, 0, stats.stderr);
      assert.match(stats.stdout, new RegExp(`^${live} `, 'm'));
      assert.match(stats.stdout, new RegExp(`^partial: no answer in time from the supervisor of ${mute} \\(a busy worker\\)`, 'm'));
      const silent = await runCli(['backlog', 'status', muteSpool], env);
      assert.equal(silent.code, 3, silent.stdout);
      assert.match(silent.stderr, new RegExp(`^mend: the replay of spool ${muteSpool} did not answer within 4 s \\(a busy worker\\).*\n$`));
    } finally {
      await listening.close();
    }
  });

  test('a Temporal that is not reachable still makes /v1/stats, /v1/backlog and /v1/backlog/<spool> a 503 saying so', async () => {
    const down = await MendClient.connect({ address: `127.0.0.1:${await freePort()}`, lazy: true, taskQueue: queue });
    const appDown = await testApp(down, config, table, { temporalDeadlineMs: deadlineMs });
    try {
      for (const url of ['/v1/stats', '/v1/backlog', `/v1/backlog/${liveSpool}`]) {
        const res = await appDown.inject({ method: 'GET', url, headers: bearer(tokens.viewer) });
        assert.equal(res.statusCode, 503, `${url}: ${res.body}`);
        assert.equal(res.headers['retry-after'], '5');
        assert.equal(res.json().message, 'Temporal is not reachable; try again shortly', url);
      }
    } finally {
      await appDown.close();
      await down.close();
    }
  });
});
