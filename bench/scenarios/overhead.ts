/**
 * Orchestration overhead: what running a recovery as a Temporal workflow costs over its actions.
 * The immediate-restart runbook (probe, stop, start, validate; for a process component started by
 * hand, all in one activity since issue 16) restarts a real demo service N times;
 * per run, from the workflow history: wall time (WorkflowExecutionStarted → Completed) minus the
 * activities' own time (each ActivityTaskStarted → Completed), and the time from the start event
 * to the first workflow task started; from this process: how long the client's `start` call took
 * and start call → result. The peer: the same four actions called directly in this process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventMs, type HistoryEvent } from '../lib/timeline';
import { startAdapter, stopAdapter } from '../../domain/adapters';
import { processAdapter, stopProcess } from '../../domain/adapters/process';
import { probeComponent } from '../../domain/probes';
import { loadConfigFile } from '../../client/config';
import type { Component } from '../../core/schemas';
import { freePort } from '../../scripts/ports';
import type { ExtraChart } from '../report';
import { startStack } from '../lib/stack';
import { summarize, percentile, type Summary } from '../lib/stats';
import { log, now, ROOT, sleep, steadyHealthy } from '../lib/util';

export interface OverheadResult {
  runs: number;
  /** Per run, ms: workflow wall time minus the activities' own execution time. */
  overheadMs: number[];
  /** Per run, ms: workflow wall time from its history (start event → close event). */
  wallMs: number[];
  /** Per run, ms: sum of ActivityTaskStarted → ActivityTaskCompleted. */
  activityMs: number[];
  /** Per run, ms: the client's `start` call (request → the server's answer). */
  startCallMs: number[];
  /** Per run, ms: WorkflowExecutionStarted → first WorkflowTaskStarted (a worker picked it up). */
  firstTaskMs: number[];
  /** Per run, ms: from calling `start` to the result in hand, this process's clock. */
  clientEndToEndMs: number[];
  /** Per run, ms: the same actions (probe, stop, start, probe until healthy) called directly. */
  rawMs: number[];
  /** Per run, ms: activities waiting for a worker, summed (history: ActivityTaskScheduled → Started). */
  activityDispatchMs: number[];
  /** Per run, ms: workflow tasks, summed (history: WorkflowTaskScheduled → Completed). */
  workflowTaskMs: number[];
  /** Activities per run (the same every run: one for the probe, stop, start and validate of a process component). */
  activitiesPerRun: number;
  summaries: Record<
    'overheadMs' | 'wallMs' | 'activityMs' | 'startCallMs' | 'firstTaskMs' | 'clientEndToEndMs' | 'rawMs' | 'activityDispatchMs' | 'workflowTaskMs',
    Summary & { p99: number }
  >;
  temporal: string;
  measuredAt: string;
  markdown: string[];
  chart: ExtraChart;
}

/**
 * Wall time, activities' own time and start-to-first-task from one closed run's history; and where
 * the rest went: activities waiting for a worker (Scheduled → Started) and workflow tasks
 * (Scheduled → Completed: dispatch plus the workflow code's own turn).
 */
export function historyTimes(events: HistoryEvent[]): {
  wallMs: number;
  activityMs: number;
  firstTaskMs: number;
  activityDispatchMs: number;
  workflowTaskMs: number;
  activities: number;
} {
  const started = events.find((e) => e.workflowExecutionStartedEventAttributes);
  const closed = events.find((e) => e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes);
  const firstTask = events.find((e) => e.workflowTaskStartedEventAttributes);
  if (!started || !closed || !firstTask) throw new Error('bench: history lacks a start, a first task or a close event');
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  let activityMs = 0;
  let activityDispatchMs = 0;
  let workflowTaskMs = 0;
  let activities = 0;
  for (const e of events) {
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (done) {
      activities++;
      activityMs += eventMs(e) - eventMs(byId.get(Number(done.startedEventId)));
      activityDispatchMs += eventMs(byId.get(Number(done.startedEventId))) - eventMs(byId.get(Number(done.scheduledEventId)));
    }
    const task = e.workflowTaskCompletedEventAttributes;
    if (task) workflowTaskMs += eventMs(e) - eventMs(byId.get(Number(task.scheduledEventId)));
  }
  return {
    wallMs: eventMs(closed) - eventMs(started),
    activityMs,
    firstTaskMs: eventMs(firstTask) - eventMs(started),
    activityDispatchMs,
    workflowTaskMs,
    activities,
  };
}

function componentFor(dir: string, port: number): Component {
  const file = path.join(dir, 'mend.config.yaml');
  const env = { MEND_DEMO_NAME: 'svc', PORT: String(port), STATE_FILE: path.join(dir, 'svc.json') };
  writeFileSync(
    file,
    [
      'version: 1',
      'components:',
      '  - id: svc',
      `    adapter: { type: process, command: ${JSON.stringify([process.execPath, path.join(ROOT, 'demo/service.js')])}, env: ${JSON.stringify(env)}, stopTimeout: 2s }`,
      `    probe: { type: http, url: "http://127.0.0.1:${port}/healthz", timeout: 1s }`,
      '    policy: { strategy: immediate, timeout: 30s, validateInterval: 20ms }',
      '    supervision: { enabled: false }',
      '',
    ].join('\n'),
  );
  return loadConfigFile(file, { stateDir: path.join(dir, '.mend') }).components[0]!;
}

/** The runbook's actions without Temporal: probe, stop, start, then probe every validateInterval until healthy. */
async function rawRestart(component: Component): Promise<number> {
  const t0 = now();
  await probeComponent(component);
  await stopAdapter(component);
  await startAdapter(component);
  const deadline = t0 + component.policy.timeout;
  while (!(await probeComponent(component)).healthy) {
    if (now() > deadline) throw new Error(`bench: ${component.id} not healthy within ${component.policy.timeout}ms after a direct restart`);
    await sleep(component.policy.validateInterval);
  }
  return now() - t0;
}

const withP99 = (xs: number[]) => ({
  ...summarize(xs),
  p99:
    Math.round(
      percentile(
        [...xs].sort((a, b) => a - b),
        99,
      ) * 1000,
    ) / 1000,
});

export async function overheadBench(runs: number): Promise<OverheadResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mend-bench-overhead-'));
  const component = componentFor(dir, await freePort());
  const url = component.probe.type === 'http' ? component.probe.url : '';
  const stack = await startStack(dir, { taskQueue: 'bench-overhead' });
  const samples = {
    overheadMs: [] as number[],
    wallMs: [] as number[],
    activityMs: [] as number[],
    startCallMs: [] as number[],
    firstTaskMs: [] as number[],
    clientEndToEndMs: [] as number[],
    rawMs: [] as number[],
    activityDispatchMs: [] as number[],
    workflowTaskMs: [] as number[],
  };
  let activitiesPerRun = 0;
  const measuredAt = new Date().toISOString();
  try {
    await startAdapter(component);
    await steadyHealthy(url, 500);
    // One warm-up of each (first bundle load, first connection): not counted.
    await rawRestart(component);
    for (let i = 0; i <= runs; i++) {
      const t0 = now();
      const run = await stack.client.startRecovery({ strategy: 'immediate', component, trigger: 'api', requestedBy: 'bench', reason: 'overhead benchmark' });
      const startCallMs = now() - t0;
      const result = await stack.client.result(run.workflowId, run.runId);
      const endToEnd = now() - t0;
      if (result.outcome !== 'recovered') throw new Error(`bench: overhead run ${i} ended ${result.outcome}: ${result.reason ?? ''}`);
      if (i === 0) continue;
      const history = await stack.client.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      const t = historyTimes(history.events ?? []);
      samples.wallMs.push(t.wallMs);
      samples.activityMs.push(t.activityMs);
      samples.overheadMs.push(t.wallMs - t.activityMs);
      samples.firstTaskMs.push(t.firstTaskMs);
      samples.activityDispatchMs.push(t.activityDispatchMs);
      samples.workflowTaskMs.push(t.workflowTaskMs);
      activitiesPerRun = t.activities;
      samples.startCallMs.push(startCallMs);
      samples.clientEndToEndMs.push(endToEnd);
      // The peer, interleaved so both see the same machine load.
      samples.rawMs.push(await rawRestart(component));
      if (i % 20 === 0 || i === runs) log(`overhead: ${i}/${runs} runs, overhead median so far ${summarize(samples.overheadMs).median.toFixed(1)} ms`);
    }
  } finally {
    await stack.stop();
    await stopProcess(processAdapter(component)).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  const summaries = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, withP99(v)])) as OverheadResult['summaries'];
  const inSeconds = (k: keyof typeof samples) => summarize(samples[k].map((x) => x / 1000));
  const chart: ExtraChart = {
    file: 'overhead.svg',
    title: 'immediate restart: through Temporal vs the same actions directly (median, p95)',
    rows: [
      { label: 'mend', summary: inSeconds('clientEndToEndMs') },
      { label: 'direct', summary: inSeconds('rawMs') },
      { label: 'overhead', summary: inSeconds('overheadMs') },
    ],
  };
  return {
    runs,
    ...samples,
    activitiesPerRun,
    summaries,
    temporal: stack.temporalVersion,
    measuredAt,
    markdown: overheadMarkdown(runs, activitiesPerRun, summaries),
    chart,
  };
}

function overheadMarkdown(runs: number, activities: number, s: OverheadResult['summaries']): string[] {
  const f = (x: number) => `${x.toFixed(1)} ms`;
  const row = (what: string, k: keyof OverheadResult['summaries']) => `| ${what} | ${f(s[k].median)} | ${f(s[k].p95)} | ${f(s[k].p99)} |`;
  return [
    `The immediate-restart runbook (probe, stop, start, validate every 20 ms; ${activities === 1 ? 'all in one activity' : `${activities} activities`}) on a real demo service, ${runs} runs one after another, each followed by the same actions called directly in the bench process (the peer). Times from the workflow history use the dev server's event times.`,
    '',
    '| per run | median | p95 | p99 |',
    '| --- | --- | --- | --- |',
    row("orchestration overhead: workflow wall time − activities' own time", 'overheadMs'),
    row('workflow wall time (history: started → completed)', 'wallMs'),
    row("activities' own time (history: each ActivityTaskStarted → Completed, summed)", 'activityMs'),
    row(`of the overhead: ${activities} activities waiting for the worker (Scheduled → Started, summed)`, 'activityDispatchMs'),
    row('of the overhead: workflow tasks (Scheduled → Completed, summed)', 'workflowTaskMs'),
    row('client `start` call (request → answer)', 'startCallMs'),
    row('start → first workflow task started (history)', 'firstTaskMs'),
    row('client: `start` call → result in hand', 'clientEndToEndMs'),
    row('peer: the same actions called directly, no Temporal', 'rawMs'),
    '',
    `Ratio of medians, client start → result over the direct actions: ${(s.clientEndToEndMs.median / s.rawMs.median).toFixed(2)}×; workflow wall time over the direct actions: ${(s.wallMs.median / s.rawMs.median).toFixed(2)}×.`,
  ];
}
