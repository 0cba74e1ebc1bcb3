/**
 * The `progressive` runbook on the shared dev server with real processes: backoff between
 * attempts (durable timers), pause/resume/cancel, and a worker SIGKILLed mid-run. Process starts
 * are counted in each demo service's own state file, so "started twice" cannot hide.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopProcess, processAdapter } from '../domain/adapters/process';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import type { RunProgress } from '../core/run';
import type { Component, Config } from '../core/schemas';
import { demoStarts, recordHistory, sharedServer, startWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type Spawned } from './helpers';

describe('progressive recovery', () => {
  const dir = tempDir('progressive');
  const queue = uniqueQueue('progressive');
  const suffix = Date.now().toString(36);
  let config: Config;
  let client: MendClient;
  const workers: Spawned[] = [];

  const component = (prefix: string): Component => config.components.find((c) => c.id.startsWith(prefix))!;
  const startsOf = (c: Component): number => demoStarts(dir, c.id);
  const start = (c: Component) => client.startRecovery({ strategy: 'progressive', component: c, trigger: 'manual', requestedBy: 'test' });
  const progress = (id: string) => client.progress(id);
  const steps = (p: RunProgress, name: string) => p.steps.filter((s) => s.name === name);

  before(async () => {
    const { file } = await writeDemoConfig(dir, [
      {
        id: `flaky-${suffix}`,
        env: { FAIL_FIRST_STARTS: '2' },
        policy: { strategy: 'progressive', timeout: '1500ms', maxRetries: 5, initialDelay: '300ms', exponentialBase: 2, jitter: 0 },
      },
      {
        id: `never-${suffix}`,
        env: { FAIL_FIRST_STARTS: '1000' },
        policy: { strategy: 'progressive', timeout: '400ms', maxRetries: 20, initialDelay: '3s', exponentialBase: 1, jitter: 0 },
      },
      {
        id: `killed-${suffix}`,
        env: { FAIL_FIRST_STARTS: '1' },
        policy: { strategy: 'progressive', timeout: '1s', maxRetries: 3, initialDelay: '2s', jitter: 0 },
      },
    ]);
    config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    workers.push(await startWorker(queue));
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
  });

  after(async () => {
    for (const c of config?.components ?? []) await stopProcess(processAdapter(c)).catch(() => undefined);
    for (const w of workers) await w.stop();
    await client?.close();
  });

  test('a service that fails its first two starts recovers on attempt 3, with growing waits between', async () => {
    const flaky = component('flaky');
    const run = await start(flaky);
    const result = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.equal(result.attempts, 3);
    assert.equal(startsOf(flaky), 3, 'exactly three process starts');
    const backoffs = result.steps.filter((s) => s.name === 'backoff');
    assert.deepEqual(
      backoffs.map((s) => s.summary),
      ['backoff 300ms before attempt 2', 'backoff 600ms before attempt 3'],
    );
    for (const [i, s] of backoffs.entries()) assert.ok(s.durationMs! >= [300, 600][i]!, `backoff ${i + 1} waited ${s.durationMs}ms`);

    // The waits are durable timers with a summary the Web UI shows.
    const history = await client.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const timers = (history.events ?? []).filter((e) => e.timerStartedEventAttributes);
    assert.equal(timers.length, 2);
    assert.ok(
      timers.every((t) => t.userMetadata?.summary),
      'timers carry a summary',
    );
    recordHistory(run.workflowId, run.runId, 'progressive-recovered-attempt-3.json');
  });

  test('pause during a backoff holds the run, resume continues it, cancel stops it with no further action', async () => {
    const never = component('never');
    const run = await start(never);
    await waitFor('first backoff', 15_000, async () => (await progress(run.workflowId)).step === 'backoff');
    await client.pause(run.workflowId, 'test');
    // Each attempt's process counts its start as it boots, which on a loaded box can come after its run moved on to the backoff.
    const attempts = (await progress(run.workflowId)).attempt;
    await waitFor('the attempts’ processes counted', 10_000, () => startsOf(never) >= attempts);
    const startsWhenPaused = startsOf(never);
    // The backoff (3 s, room for the pause to land within it on a loaded box) ends, and the run holds.
    const paused = await waitFor('the backoff over, the run held', 15_000, async () => {
      const p = await progress(run.workflowId);
      return p.paused && p.steps.at(-1)?.name === 'backoff' && p.steps.at(-1)?.status === 'ok' && p;
    });
    assert.equal(startsOf(never), startsWhenPaused, 'no start while paused');
    assert.equal(paused.steps.at(-1)?.name, 'backoff', 'nothing after the backoff ran');
    assert.equal(paused.steps.at(-1)?.status, 'ok');

    await client.resume(run.workflowId, 'test');
    await waitFor('a start after resume', 10_000, () => startsOf(never) > startsWhenPaused);

    await waitFor('the next backoff', 10_000, async () => (await progress(run.workflowId)).step === 'backoff');
    await client.cancel(run.workflowId);
    const result = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'cancelled');
    const attemptsAtCancel = (await progress(run.workflowId)).attempt;
    await waitFor('the attempts’ processes counted', 10_000, () => startsOf(never) >= attemptsAtCancel);
    const startsAtCancel = startsOf(never);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(startsOf(never), startsAtCancel, 'no start after cancel');
    assert.equal(steps(await progress(run.workflowId), 'backoff').at(-1)?.status, 'failed', 'the cancelled wait is recorded');
  });

  test('a worker SIGKILLed mid-run: a fresh worker finishes the run once, with no extra start', async () => {
    const killed = component('killed');
    const run = await start(killed);
    await waitFor('the backoff after attempt 1', 15_000, async () => (await progress(run.workflowId)).step === 'backoff');
    const first = workers.shift()!;
    await first.stop('SIGKILL');
    workers.push(await startWorker(queue));
    const result = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.equal(result.attempts, 2);
    assert.equal(startsOf(killed), 2, 'one failed start, one good start, none repeated');
  });
});
