/**
 * Backlog replay end to end: the `backlogReplay` entity on the shared dev server, a real worker
 * process, a real spool folder and a real demo/sink.js. DEDUPE=off makes the sink keep every POST
 * as a copy, so a double delivery by mend would show up as a repeated id.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { listFailed, writeItem } from '../domain/backlog/spool';
import { MendClient } from '../client';
import { BacklogControl } from '../client/backlog';
import { loadConfigFile } from '../client/config';
import { addToMinutes, lastHour, replayInterval, sinkBackoff, type BacklogStatus } from '../core/backlog';
import { backlogWorkflowId } from '../core/constants';
import type { Spool } from '../core/schemas';
import { freePort } from '../scripts/ports';
import { bearer, makeTokens, testApp } from './api-fixtures';
import {
  httpStatus,
  recordHistory,
  runCli,
  sharedServer,
  spawnTs,
  startRunbookSuite,
  startWorker,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  type Spawned,
} from './helpers';

interface SinkItem {
  id: string;
  createdAt: string;
  batch?: string;
  payload: unknown;
}

interface Sink {
  url: string;
  proc: Spawned;
  items(): Promise<SinkItem[]>;
  stats(): Promise<{ posts: number; duplicates: number; maxInFlight: number; injectedFailures: number }>;
  admin(action: string): Promise<void>;
}

async function startSink(dir: string, env: Record<string, string> = {}): Promise<Sink> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawnTs('demo/sink.js', { ...process.env, PORT: String(port), STORE_FILE: path.join(dir, 'sink-store.json'), DEDUPE: 'off', ...env });
  // Generous: on a loaded machine a process can take long to start, and a slow start is not a failure.
  await waitFor('demo sink to answer', 60_000, async () => (await httpStatus(`${url}/healthz`)) === 200).catch(async (err: Error) => {
    await proc.stop('SIGKILL'); // a sink left running would keep this test file from ever ending
    throw err;
  });
  const json = async <T>(p: string, init?: RequestInit) => (await (await fetch(`${url}${p}`, init)).json()) as T;
  return {
    url,
    proc,
    items: async () => (await json<{ items: SinkItem[] }>('/items')).items,
    stats: () => json('/admin/stats'),
    admin: async (action) => void (await json(`/admin/${action}`, { method: 'POST' })),
  };
}

/** A config with one spool (`events`) on `sink`, short intervals so tests take seconds. */
async function spoolConfig(dir: string, sinkUrl: string, extra: Record<string, unknown> = {}): Promise<string> {
  const spool = {
    name: 'events',
    dir: 'spool/events',
    sink: { url: sinkUrl, timeout: '1s' },
    batchSize: 10,
    maxBatchesPerCycle: 1000,
    intervals: { busy: '200ms', some: '200ms', idle: '500ms' },
    maxBackoff: '1s',
    ...extra,
  };
  const { file } = await writeDemoConfig(dir, [], `spools:\n  - ${JSON.stringify(spool)}\n`);
  return file;
}

/** `count` items, created 1 ms apart from `startMs`, ids random so that file order is creation order only. */
async function spoolItems(spool: Spool, count: number, startMs = Date.parse('2026-11-23T09:00:00Z')): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${randomUUID().slice(0, 8)}-${i}`;
    await writeItem(spool.dir, { id, createdAt: new Date(startMs + i), payload: { n: i } });
    ids.push(id);
  }
  return ids;
}

const pendingFiles = (spool: Spool) => {
  try {
    return readdirSync(path.join(spool.dir, 'pending')).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
  } catch {
    return [];
  }
};

describe('backlog cadence rules', () => {
  const intervals = { busy: 10_000, some: 30_000, idle: 60_000, busyAt: 50 };
  test('the interval follows the backlog: >= 50 busy, some, empty idle', () => {
    assert.deepEqual(
      [replayInterval(50, intervals), replayInterval(49, intervals), replayInterval(1, intervals), replayInterval(0, intervals)],
      [10_000, 30_000, 30_000, 60_000],
    );
  });
  test('the sink backoff starts at the busy interval and doubles up to the maximum', () => {
    const waits: number[] = [];
    let ms = 0;
    for (let i = 0; i < 8; i++) waits.push((ms = sinkBackoff(ms, 10_000, 300_000)));
    assert.deepEqual(waits, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  });
  test('the last hour counts only the last sixty minutes', () => {
    const now = Date.parse('2026-11-23T12:00:30Z');
    let buckets = addToMinutes([], now - 61 * 60_000, 5, 5);
    buckets = addToMinutes(buckets, now - 30 * 60_000, 8, 2);
    buckets = addToMinutes(buckets, now, 1, 0);
    assert.equal(buckets.length, 2, 'the bucket older than an hour is dropped');
    assert.deepEqual(lastHour(buckets, now), { delivered: 9, failed: 2, successRate: 0.818 });
    assert.deepEqual(lastHour([], now), { delivered: 0, failed: 0, successRate: null });
  });
});

// Each test has its own folder, sink and entity (setup): they run at once, so the longest sets the pace.
describe('backlog replay', { concurrency: true }, () => {
  const queue = uniqueQueue('backlog');
  let suite: RunbookSuite;
  let control: BacklogControl;
  const sinks: Sink[] = [];
  const workers: Spawned[] = [];

  before(async () => {
    const dir = tempDir('backlog-suite');
    suite = await startRunbookSuite(dir, queue, await spoolConfig(dir, 'http://127.0.0.1:9'));
    control = new BacklogControl(suite.client);
  });

  after(async () => {
    for (const w of workers) await w.stop('SIGKILL');
    await suite?.stop();
    for (const s of sinks) await s.proc.stop();
  });

  /** A fresh folder, sink and spool config; the entity is named `events-<n>` so tests do not share one. */
  async function setup(name: string, sinkEnv: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
    const dir = tempDir(`backlog-${name}`);
    const sink = await startSink(dir, sinkEnv);
    sinks.push(sink);
    const file = await spoolConfig(dir, sink.url, { name: `events-${name}`, ...extra });
    const config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    const spool = config.spools[0]!;
    const terminate = () =>
      suite.client.temporal.workflow
        .getHandle(backlogWorkflowId(spool.name))
        .terminate('test over')
        .catch(() => undefined);
    return { dir, sink, spool, file, terminate };
  }

  const statusOf = (spool: Spool) => control.status(spool.name);

  test('1,000 items spooled while the sink was down arrive once each, oldest first, one batch at a time', async () => {
    const { sink, spool, terminate } = await setup('thousand');
    try {
      await sink.admin('down');
      const ids = await spoolItems(spool, 1000);
      await control.ensure(spool);

      // While the sink is down the entity backs off, doubling up to maxBackoff (1s here), and delivers nothing.
      const seen = new Set<number>();
      await waitFor('the backoff to reach maxBackoff', 20_000, async () => {
        const s = await statusOf(spool);
        if (s.backoffUntil) seen.add(s.intervalMs);
        return s.sink.healthy === false && s.intervalMs === 1_000 && s;
      });
      assert.ok(seen.size >= 2, `backoff grew through several waits (saw ${[...seen].join(', ')} ms)`);
      const down = await statusOf(spool);
      assert.equal(down.counts.pending, 1000);
      assert.equal(down.totals.delivered, 0);
      assert.equal((await sink.stats()).posts, 0, 'nothing posted while the sink was down');

      await sink.admin('up');
      const started = Date.now();
      await control.force(spool.name, 'test');
      await waitFor('the spool to drain', 300_000, () => pendingFiles(spool).length === 0); // generous: a loaded machine is slow, not wrong
      const drainedMs = Date.now() - started;
      const items = await sink.items();
      console.log(`# 1,000 items replayed in ${(drainedMs / 1000).toFixed(1)}s after the sink came back: ${Math.round(1000 / (drainedMs / 1000))} items/s`);

      assert.equal(items.length, 1000, 'each item reached the sink once');
      assert.deepEqual(
        items.map((i) => i.id),
        ids,
        'in created order',
      );
      const stats = await sink.stats();
      assert.equal(stats.maxInFlight, 1, 'the sink never had two replay requests at once');
      // Batches arrive whole and in turn: each batch's items are contiguous, at most batchSize of them.
      const batches: string[] = [];
      for (const item of items) if (batches.at(-1) !== item.batch) batches.push(item.batch!);
      assert.equal(new Set(batches).size, batches.length, 'no batch interleaved with another');
      for (const b of batches) assert.ok(items.filter((i) => i.batch === b).length <= spool.batchSize);

      // An item whose post went through but whose verify timed out (a loaded machine) is found at the
      // sink on its next try and counted as already there: together the two count every item once.
      const s = await waitFor('the status to count every delivery', 30_000, async () => {
        const st = await statusOf(spool);
        return st.totals.delivered + st.totals.already === 1000 && st;
      });
      if (s.totals.already > 0) console.log(`# ${s.totals.already} of the 1,000 were confirmed on a later try`);
      assert.equal(s.counts.pending, 0);
      assert.equal(s.counts.failed, 0);
      assert.equal(s.lastHour.delivered, 1000);
      assert.equal(s.sink.healthy, true);
    } finally {
      await terminate();
    }
  });

  test('with a sink failing 30% of requests and the worker SIGKILLed three times, no item is lost or delivered twice', async () => {
    const { dir, sink, spool, terminate } = await setup('faults', { FAIL_RATE: '0.3' });
    try {
      const ids = await spoolItems(spool, 150);
      // A worker of its own on its own queue, so killing it leaves the suite's worker alone.
      const faultQueue = uniqueQueue('backlog-faults');
      const client = await MendClient.connect({ address: sharedServer().address, taskQueue: faultQueue });
      let worker = await startWorker(faultQueue, { MEND_HOME: path.join(dir, '.mend') });
      workers.push(worker);
      try {
        const faultControl = new BacklogControl(client);
        await faultControl.ensure(spool);
        for (let kill = 1; kill <= 3; kill++) {
          const before = pendingFiles(spool).length;
          // Kill mid-replay: once some items have gone since the last restart, after a random extra delay.
          await waitFor(`replay to progress before kill ${kill}`, 60_000, () => pendingFiles(spool).length < before);
          await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
          worker.proc.kill('SIGKILL');
          await worker.exited;
          worker = await startWorker(faultQueue, { MEND_HOME: path.join(dir, '.mend') });
          workers.push(worker);
        }
        await waitFor('every item to be delivered or dead-lettered', 180_000, () => pendingFiles(spool).length === 0);
      } finally {
        await client.temporal.workflow
          .getHandle(backlogWorkflowId(spool.name))
          .terminate('test over')
          .catch(() => undefined);
        await client.close();
      }

      const delivered = (await sink.items()).map((i) => i.id);
      const failed = await listFailed(spool.dir);
      const failedIds = failed.map((f) => f.file.replace(/^\d{15}-|\.json$/g, ''));
      const stats = await sink.stats();
      console.log(`# faults: ${delivered.length} delivered, ${failed.length} dead-lettered, ${stats.injectedFailures} injected sink failures, 3 worker kills`);
      assert.ok(stats.injectedFailures > 20, 'the sink really failed requests');
      assert.equal(new Set(delivered).size, delivered.length, 'no item reached the sink twice');
      assert.deepEqual(
        delivered.filter((id) => failedIds.includes(id)),
        [],
        'no item is both delivered and dead-lettered',
      );
      assert.deepEqual([...delivered, ...failedIds].sort(), [...ids].sort(), 'every item is either delivered or dead-lettered');
      for (const f of failed) {
        assert.ok(f.reason, `${f.file} has a reason file`);
        assert.match(f.reason.reason, /failed attempts/);
        assert.ok(f.reason.attempts >= spool.maxAttempts);
      }
    } finally {
      await terminate();
    }
  });

  test('corrupt and oversized items go to failed/ as data and the rest of the batch is delivered', async () => {
    const { sink, spool, terminate } = await setup('corrupt', {}, { maxItemBytes: 2000 });
    try {
      const t = Date.parse('2026-11-23T08:00:00Z');
      await writeItem(spool.dir, { id: 'first', createdAt: new Date(t), payload: 1 });
      const pending = path.join(spool.dir, 'pending');
      mkdirSync(pending, { recursive: true });
      const name = (ms: number, id: string) => `${String(t + ms).padStart(15, '0')}-${id}.json`;
      writeFileSync(path.join(pending, name(1, 'garbled')), '{"id": "garbled", "createdAt": ');
      writeFileSync(path.join(pending, name(2, 'huge')), JSON.stringify({ id: 'huge', createdAt: new Date(t + 2).toISOString(), payload: 'x'.repeat(5000) }));
      writeFileSync(path.join(pending, name(3, 'shapeless')), JSON.stringify({ hello: 'world' }));
      writeFileSync(path.join(pending, 'notes.json'), JSON.stringify({ id: 'notes', createdAt: new Date(t).toISOString(), payload: 0 }));
      await writeItem(spool.dir, { id: 'last', createdAt: new Date(t + 4), payload: 2 });

      await control.ensure(spool);
      await waitFor('the batch to settle', 30_000, () => pendingFiles(spool).length === 0);
      assert.deepEqual(
        (await sink.items()).map((i) => i.id),
        ['first', 'last'],
      );
      const failed = await listFailed(spool.dir);
      assert.deepEqual(
        failed.map((f) => [f.file, f.reason?.failureClass]),
        [
          [name(1, 'garbled'), 'data'],
          [name(2, 'huge'), 'data'],
          [name(3, 'shapeless'), 'data'],
          ['notes.json', 'data'],
        ],
      );
      assert.match(failed[0]!.reason!.reason, /not valid JSON/);
      assert.match(failed[1]!.reason!.reason, /more than maxItemBytes 2000/);
      assert.match(failed[2]!.reason!.reason, /not a spool item/);
      assert.match(failed[3]!.reason!.reason, /file name is not/);
      const s = await waitFor('status to count the dead letters', 10_000, async () => {
        const st = await statusOf(spool);
        return st.totals.deadLettered === 4 && st;
      });
      assert.equal(s.counts.failed, 4);
      assert.equal(s.totals.delivered, 2);
      const run = await suite.client.temporal.workflow.getHandle(backlogWorkflowId(spool.name)).describe();
      recordHistory(run.workflowId, run.runId, 'backlog-corrupt-items.json');
    } finally {
      await terminate();
    }
  });

  test('items the sink refused are dead-lettered with their class, and reset-failed delivers them once it accepts', async () => {
    const { sink, spool, file, dir, terminate } = await setup('reset');
    const env = { ...suite.env, MEND_CONFIG: file, MEND_HOME: path.join(dir, '.mend') };
    try {
      await sink.admin('reject-posts?status=500');
      const ids = await spoolItems(spool, 3);
      await control.ensure(spool);
      await waitFor('three attempts each, then failed/', 30_000, () => pendingFiles(spool).length === 0);
      const failed = await listFailed(spool.dir);
      assert.equal(failed.length, 3);
      for (const f of failed) {
        assert.equal(f.reason?.attempts, 3);
        assert.match(f.reason!.reason, /^3 failed attempts; last: POST .* answered 500/);
      }
      assert.equal((await sink.items()).length, 0);

      const listed = await runCli(['backlog', 'failed', spool.name], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /ITEM\s+CLASS\s+ATTEMPTS/);
      assert.equal(listed.stdout.match(/3 failed attempts/g)?.length, 3);

      await sink.admin('accept-posts');
      const reset = await runCli(['backlog', 'reset-failed', spool.name], env);
      assert.equal(reset.code, 0, reset.stderr);
      assert.match(reset.stdout, /3 items moved back to pending/);
      await waitFor('the reset items to reach the sink', 30_000, async () => (await sink.items()).length === 3);
      assert.deepEqual(
        (await sink.items()).map((i) => i.id),
        ids,
      );
      assert.deepEqual(await listFailed(spool.dir), []);
    } finally {
      await terminate();
    }
  });

  test('pause holds replay, force is refused while paused, resume delivers; the CLI shows it', async () => {
    const { sink, spool, file, dir, terminate } = await setup('controls');
    const env = { ...suite.env, MEND_CONFIG: file, MEND_HOME: path.join(dir, '.mend') };
    try {
      await control.ensure(spool);
      await waitFor('a first cycle', 20_000, async () => (await statusOf(spool)).sink.healthy === true);

      const paused = await runCli(['backlog', 'pause', spool.name, '--minutes', '10', '--reason', 'sink maintenance'], env);
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stdout, new RegExp(`^${spool.name}: paused until \\d{4}-`));
      await spoolItems(spool, 5);
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal((await sink.items()).length, 0, 'nothing delivered while paused');

      const forced = await runCli(['backlog', 'force', spool.name], env);
      assert.equal(forced.code, 1);
      assert.match(forced.stderr, /^mend: .*is paused until .*; resume it first\n$/);

      const shown = await runCli(['backlog', 'status', spool.name], env);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /paused until .* by .*@cli: sink maintenance/);
      assert.match(shown.stdout, /sink\s+up/);

      const resumed = await runCli(['backlog', 'resume', spool.name], env);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, /running; next cycle/);
      await waitFor('the items to arrive after resume', 20_000, async () => (await sink.items()).length === 5);

      // The sink has the items a moment before the entity has counted the batch that sent them.
      const status = await waitFor('the status to count the deliveries', 20_000, async () => {
        const st = JSON.parse((await runCli(['backlog', 'status', spool.name, '--json'], env)).stdout) as BacklogStatus;
        return st.totals.delivered === 5 && st;
      });
      assert.equal(status.state, 'running');

      const table = await runCli(['backlog', 'status'], env);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /SPOOL\s+STATE\s+SINK\s+PENDING/);
      assert.match(table.stdout, new RegExp(`${spool.name}\\s+running\\s+up\\s+0`));

      const bad = await runCli(['backlog', 'pause', 'nope'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^mend: spools: unknown spool "nope" \(known: events-controls\)\n$/);
      const badMinutes = await runCli(['backlog', 'pause', spool.name, '--minutes', '0'], env);
      assert.equal(badMinutes.code, 2);
      assert.match(badMinutes.stderr, /--minutes: expected a number above 0/);
    } finally {
      await terminate();
    }
    const gone = await runCli(['backlog', 'status', spool.name], env);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /replay of spool events-controls is not running \(terminated\)/);
  });

  test('the API shows a spool and controls it: viewers read, operators pause, force and reset', async () => {
    const { sink, spool, file, dir, terminate } = await setup('api');
    const config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    const { tokens, table } = makeTokens('nothing');
    const app = await testApp(suite.client, config, table);
    const call = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
      app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
    try {
      const before = (await call('GET', '/v1/backlog', tokens.viewer)).json() as { spools: Array<{ spool: string; running: boolean }> };
      assert.deepEqual(before.spools, [{ spool: spool.name, running: false }]);
      assert.equal((await call('GET', `/v1/backlog/${spool.name}`, tokens.viewer)).statusCode, 404, 'not running yet');
      await control.ensure(spool);
      await waitFor('a first cycle', 20_000, async () => (await statusOf(spool)).sink.healthy === true);

      const shown = await call('GET', `/v1/backlog/${spool.name}`, tokens.viewer);
      assert.equal(shown.statusCode, 200, shown.body);
      assert.equal((shown.json() as BacklogStatus).state, 'running');
      assert.equal((await call('POST', `/v1/backlog/${spool.name}/pause`, tokens.viewer, { minutes: 5 })).statusCode, 403, 'a viewer cannot pause');
      assert.equal((await call('POST', `/v1/backlog/${spool.name}/pause`, tokens.operator, { minutes: -1 })).statusCode, 400);
      assert.equal((await call('POST', '/v1/backlog/nope/pause', tokens.operator, { minutes: 5 })).statusCode, 404);

      const paused = await call('POST', `/v1/backlog/${spool.name}/pause`, tokens.operator, { minutes: 5, reason: 'api test' });
      assert.equal(paused.statusCode, 200, paused.body);
      assert.equal((paused.json() as BacklogStatus).pausedBy, 'test-operator');
      const refused = await call('POST', `/v1/backlog/${spool.name}/force`, tokens.operator);
      assert.equal(refused.statusCode, 409);
      assert.match((refused.json() as { message: string }).message, /paused until .*; resume it first/);

      await sink.admin('reject-posts?status=422');
      const ids = await spoolItems(spool, 2);
      assert.equal((await call('POST', `/v1/backlog/${spool.name}/resume`, tokens.operator)).statusCode, 200);
      await waitFor('the refused items in failed/', 20_000, async () => (await listFailed(spool.dir)).length === 2);
      assert.equal((await listFailed(spool.dir))[0]!.reason?.failureClass, 'data', 'a 422 is a data failure, dead-lettered at once');
      await sink.admin('accept-posts');
      const reset = await call('POST', `/v1/backlog/${spool.name}/reset-failed`, tokens.operator);
      assert.equal(reset.statusCode, 200, reset.body);
      assert.equal((reset.json() as { moved: number }).moved, 2);
      await waitFor('the reset items at the sink', 20_000, async () => (await sink.items()).length === 2);
      assert.deepEqual(
        (await sink.items()).map((i) => i.id),
        ids,
      );
      const forced = await call('POST', `/v1/backlog/${spool.name}/force`, tokens.operator);
      assert.equal(forced.statusCode, 200, forced.body);
    } finally {
      await app.close();
      await terminate();
    }
  });

  test('the entity continues as new and keeps its counters', async () => {
    const { spool, terminate } = await setup('continue', {}, { batchSize: 1, intervals: { busy: '50ms', some: '50ms', idle: '50ms' } });
    try {
      const first = await control.ensure(spool, { continueAfterEvents: 60 });
      await spoolItems(spool, 30);
      await waitFor('all items delivered', 60_000, () => pendingFiles(spool).length === 0);
      const handle = suite.client.temporal.workflow.getHandle(backlogWorkflowId(spool.name));
      await waitFor('the history to be cut by continue-as-new', 20_000, async () => (await handle.describe()).runId !== first.runId);
      const s = await waitFor('the counters to include every delivery', 10_000, async () => {
        const st = await statusOf(spool);
        return st.totals.delivered === 30 && st;
      });
      assert.equal(s.lastHour.delivered, 30);
    } finally {
      await terminate();
    }
  });
});
