/**
 * Scale: N components (100, 1,000, 5,000) watched by one worker and one dev server. Every component
 * is a path of one cheap target process (bench/scale-target.js) probed over HTTP, recovered by an
 * http-adapter restart call on the same target. Per size: time until every supervisor runs; CPU and
 * RSS of the worker, the dev server and the target from /proc over a steady window; the health
 * sweeps' durations in that window; then failures injected into a spread-out sample and the delay
 * from each failure (the target's clock) to its recovery run's start (Temporal's start time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfigFile } from '../../client/config';
import { planHealthGroups, reconcileSchedules } from '../../client/schedules';
import { recoveryWorkflowId } from '../../core/constants';
import type { Config } from '../../core/schemas';
import { WORKFLOW_TYPES } from '../../core/workflow-types';
import type { ExtraChart } from '../report';
import { DETECTION_STAGES, detectionStages, stagesMarkdown, summarizeStages, type DetectionStage } from '../lib/detection-stages';
import { usageOver, type ProcUsage } from '../lib/proc';
import { startStack, type BenchStack } from '../lib/stack';
import { summarize, type Summary } from '../lib/stats';
import { log, now, ROOT, sleep, stopGroup, waitUntil } from '../lib/util';

export interface ScaleOptions {
  sizes: number[];
  /** The check interval of every component, the same at every size. */
  intervalMs: number;
  /** Steady window over which CPU and memory are measured. */
  windowMs: number;
  /** Failures injected per size. */
  failures: number;
}

export interface ScaleRow {
  components: number;
  /** Seconds from the schedules' creation until a supervisor runs for every component (undefined: not all within the deadline). */
  supervisorsUpSeconds?: number;
  supervisorsRunning: number;
  /** Seconds from the schedules' creation until the sweeps keep up (undefined: they never did within the deadline). */
  steadyAfterSeconds?: number;
  worker: ProcUsage;
  server: ProcUsage;
  target: ProcUsage;
  /** Health sweeps that closed in the steady window: how many ran against how many were due, and their durations (s). */
  /** With a check lease: sweeps of the loops that ran in the window (over their whole leases), `late` ones longer than the interval; `seconds`: each loop's longest sweep. */
  sweeps: { schedules: number; ran: number; due: number; seconds: Summary; late?: number };
  /** Seconds from each injected failure to its recovery run's start. */
  detectionSeconds: number[];
  detection: Summary;
  /** Seconds from each injected failure to the target's restart call (the component healthy again). */
  recoverySeconds: number[];
  recovery: Summary;
  /** Failures whose recovery did not start within the deadline. */
  undetected: number;
  /** Where detection's time went, stage by stage (ms; absent in results from before it was measured). */
  stages?: Record<DetectionStage, Summary>;
}

export interface ScaleResult {
  intervalMs: number;
  windowSeconds: number;
  rows: ScaleRow[];
  /** Sizes that could not be measured, and why. */
  failed: Array<{ components: number; error: string }>;
  measuredAt: string;
  /** How long the whole scenario took (s). */
  durationSeconds: number;
  markdown: string[];
  chart: ExtraChart;
}

/** One target process serving `count` components' health endpoints; resolves with its port. */
export async function startTarget(count: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/scale-target.js')], {
    env: { ...process.env, COMPONENTS: String(count), PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bench: scale target exited (${code}) before listening`)));
  });
  return { child, port };
}

export const componentId = (i: number) => `c${i}`;

function writeConfig(dir: string, count: number, port: number, intervalMs: number): Config {
  const base = `http://127.0.0.1:${port}/c`;
  const components = Array.from({ length: count }, (_, i) => ({
    id: componentId(i),
    adapter: { type: 'http', restart: { url: `${base}/${i}/restart`, method: 'POST' }, timeout: '5s' },
    probe: { type: 'http', url: `${base}/${i}/healthz`, timeout: '1s' },
    policy: { strategy: 'immediate', timeout: '10s', validateInterval: '100ms' },
    // As the crash/hang scenarios: act after 2 failed checks, restarts never held back, breaker out of the way.
    supervision: {
      interval: `${intervalMs}ms`,
      failuresBeforeRecovery: 2,
      startupGrace: '0ms',
      restartBackoff: { initial: '0ms', max: '0ms' },
      backoffResetAfter: '1s',
      breaker: { maxRecoveries: 1000, window: '1m' },
    },
  }));
  const file = path.join(dir, 'mend.config.yaml');
  // JSON is YAML: thousands of components are simplest written this way.
  writeFileSync(file, JSON.stringify({ version: 1, components }));
  return loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
}

export async function countRunning(stack: BenchStack, type: string): Promise<number> {
  const { count } = await stack.client.temporal.workflow.count(`WorkflowType = "${type}" AND ExecutionStatus = "Running" AND TaskQueue = "${stack.taskQueue}"`);
  return count;
}

/** Durations of the health sweeps that started in [fromMs, toMs] (epoch), from visibility. */
export async function sweepsBetween(stack: BenchStack, fromMs: number, toMs: number): Promise<number[]> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const query = `WorkflowType = ${JSON.stringify(WORKFLOW_TYPES.healthSweep)} AND TaskQueue = "${stack.taskQueue}" AND StartTime >= "${iso(fromMs)}" AND StartTime <= "${iso(toMs)}" AND ExecutionStatus != "Running"`;
  const seconds: number[] = [];
  for await (const w of stack.client.temporal.workflow.list({ query })) {
    if (w.closeTime) seconds.push((w.closeTime.getTime() - w.startTime.getTime()) / 1000);
  }
  return seconds;
}

/**
 * With a check lease (`supervision.checkLease`, a probe loop per firing): whether at least
 * `schedules` firings run a loop, on its first attempt, that has swept at least twice (what its
 * heartbeat says; the SDK sends one every few seconds).
 */
export async function loopsSweeping(stack: BenchStack, schedules: number): Promise<boolean> {
  const query = `WorkflowType = ${JSON.stringify(WORKFLOW_TYPES.healthSweep)} AND TaskQueue = "${stack.taskQueue}" AND ExecutionStatus = "Running"`;
  const converter = stack.client.temporal.options.loadedDataConverter.payloadConverter;
  let sweeping = 0;
  for await (const w of stack.client.temporal.workflow.list({ query })) {
    const d = await stack.client.temporal.workflow
      .getHandle(w.workflowId, w.runId)
      .describe()
      .catch(() => undefined);
    const loop = d?.raw.pendingActivities?.find((a) => a.activityType?.name === 'probeLoop');
    const payload = loop?.heartbeatDetails?.payloads?.[0];
    if (loop && loop.attempt === 1 && payload && converter.fromPayload<{ sweeps: number }>(payload).sweeps >= 2) sweeping += 1;
  }
  return sweeping >= schedules;
}

/**
 * With a check lease: the firings that ran during [fromMs, toMs], each waited for until its lease
 * ends; their sweeps in all (`ran`), those due over their lengths (one per interval), how many ran
 * late (longer than the interval), and each firing's longest sweep (s).
 */
export async function loopSweepsOver(
  stack: BenchStack,
  fromMs: number,
  toMs: number,
  intervalMs: number,
): Promise<{ ran: number; due: number; late: number; longestSeconds: number[] }> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const query = `WorkflowType = ${JSON.stringify(WORKFLOW_TYPES.healthSweep)} AND TaskQueue = "${stack.taskQueue}" AND StartTime <= "${iso(toMs)}" AND (ExecutionStatus = "Running" OR CloseTime >= "${iso(fromMs)}")`;
  const firings: Array<{ workflowId: string; runId: string }> = [];
  for await (const w of stack.client.temporal.workflow.list({ query })) firings.push({ workflowId: w.workflowId, runId: w.runId });
  const out = { ran: 0, due: 0, late: 0, longestSeconds: [] as number[] };
  // A firing still open a minute after the window (its workflow task never ran on an overloaded
  // box) counts as due over its length so far, with no sweeps: the bench must not wait on it.
  const giveUpAt = toMs + 60_000 + intervalMs;
  for (const { workflowId, runId } of firings) {
    const handle = stack.client.temporal.workflow.getHandle(workflowId, runId);
    const waited = await Promise.race([handle.result().catch(() => undefined), sleep(Math.max(0, giveUpAt - Date.now())).then(() => 'open' as const)]);
    const d = await handle.describe();
    const lengthMs = (d.closeTime ?? new Date()).getTime() - d.startTime.getTime();
    const result = waited === 'open' ? { sweeps: 0 } : (waited as { sweeps?: number; late?: number; longestMs?: number } | undefined);
    if (result?.sweeps === undefined) continue;
    out.ran += result.sweeps;
    out.due += Math.max(1, Math.round(lengthMs / intervalMs));
    out.late += result.late ?? 0;
    if (result.longestMs !== undefined) out.longestSeconds.push(result.longestMs / 1000);
  }
  return out;
}

export async function post(url: string): Promise<{ failedAt?: number; restartedAt?: number | null }> {
  const res = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`bench: POST ${url} answered ${res.status}`);
  return (await res.json()) as { failedAt?: number };
}

/** The sample of components to fail: `k` spread evenly over 0..n-1. */
export function spreadSample(n: number, k: number): number[] {
  return Array.from({ length: Math.min(n, k) }, (_, j) => Math.floor(((j + 0.5) * n) / Math.min(n, k)));
}

/** A component to fail: its id and the base of its target endpoints (`http://127.0.0.1:<port>/c/<i>`). */
export interface FailTarget {
  id: string;
  base: string;
}

/**
 * Fails each of `sample` on its target, 370 ms apart, and measures, per failure, the delay (the
 * target's clock) to its recovery run's start and to the target's restart call.
 */
export async function injectAndMeasure(
  stack: BenchStack,
  sample: FailTarget[],
  deadlineMs: number,
): Promise<{ detection: number[]; recovery: number[]; undetected: number; stages: Record<DetectionStage, Summary> }> {
  const failedAt = new Map<FailTarget, number>();
  // Spaced 370 ms apart (not a divisor of the interval): failures land at every phase of the sweep cycle.
  for (const i of sample) {
    const answer = await post(`${i.base}/fail`);
    failedAt.set(i, answer.failedAt!);
    await sleep(370);
  }
  const detection = new Map<FailTarget, number>();
  const recovery = new Map<FailTarget, number>();
  const end = now() + deadlineMs;
  while (now() < end && (detection.size < sample.length || recovery.size < sample.length)) {
    for (const i of sample) {
      if (!detection.has(i)) {
        const d = await stack.client.temporal.workflow
          .getHandle(recoveryWorkflowId(i.id))
          .describe()
          .catch(() => undefined);
        if (d && d.startTime.getTime() >= failedAt.get(i)! - 1_000) detection.set(i, (d.startTime.getTime() - failedAt.get(i)!) / 1000);
      }
      if (!recovery.has(i)) {
        const status = (await (await fetch(`${i.base}/status`)).json()) as { restartedAt: number | null };
        if (status.restartedAt && status.restartedAt >= failedAt.get(i)!) recovery.set(i, (status.restartedAt - failedAt.get(i)!) / 1000);
      }
    }
    await sleep(250);
  }
  const split = await Promise.all([...detection.keys()].map((i) => detectionStages(stack.client.temporal, i.id, failedAt.get(i)!)));
  const stages = summarizeStages(split.filter((x) => x !== undefined));
  log(
    `detection stages (median / p95 ms): ${DETECTION_STAGES.map((st) => `${st} ${Math.round(stages[st].median)} / ${Math.round(stages[st].p95)}`).join('; ')}`,
  );
  return { detection: [...detection.values()], recovery: [...recovery.values()], undetected: sample.length - detection.size, stages };
}

async function measureSize(count: number, opts: ScaleOptions): Promise<ScaleRow> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `mend-bench-scale-${count}-`));
  const target = await startTarget(count);
  let stack: BenchStack | undefined;
  try {
    const config = writeConfig(dir, count, target.port, opts.intervalMs);
    stack = await startStack(dir, { taskQueue: `bench-scale-${count}` });
    const s = stack;
    const t0 = now();
    await reconcileSchedules(s.client, config);
    let running = 0;
    let supervisorsUpSeconds: number | undefined;
    // Every supervisor is started by a sweep's signal-with-start; give a slow start room, but bounded.
    const upDeadline = 60_000 + count * 30;
    await waitUntil(
      `${count} supervisors`,
      upDeadline,
      async () => {
        running = await countRunning(s, WORKFLOW_TYPES.supervisor);
        return running >= count;
      },
      1_000,
    )
      .then(() => (supervisorsUpSeconds = (now() - t0) / 1000))
      .catch(() => log(`scale ${count}: only ${running} of ${count} supervisors after ${upDeadline / 1000}s; measuring anyway`));
    log(
      `scale ${count}: ${running} supervisors running${supervisorsUpSeconds ? ` after ${supervisorsUpSeconds.toFixed(1)}s` : ''}; waiting for the sweeps to keep up`,
    );
    // Steady: the sweeps of the last few intervals all closed, each within one interval. Before
    // that the worker is still starting supervisors (their first workflow tasks) and sweeps queue.
    let steadyAfterSeconds: number | undefined;
    const steadyDeadline = 90_000 + count * 10;
    const schedulesDue = planHealthGroups(config, s.taskQueue).length;
    // With a check lease, each firing is a probe loop: steady once every schedule's loop sweeps.
    const leased = planHealthGroups(config, s.taskQueue)[0]?.leaseMs !== undefined;
    await waitUntil(
      `the sweeps of ${count} components to keep up`,
      steadyDeadline,
      async () => {
        if (leased) return loopsSweeping(s, schedulesDue);
        const recent = await sweepsBetween(s, Date.now() - 6 * opts.intervalMs, Date.now() - 1.5 * opts.intervalMs);
        return recent.length >= 3 * schedulesDue && recent.every((x) => x * 1000 < opts.intervalMs);
      },
      1_000,
    )
      .then(() => (steadyAfterSeconds = (now() - t0) / 1000))
      .catch(() => log(`scale ${count}: the sweeps did not keep up within ${steadyDeadline / 1000}s; measuring anyway`));
    if (steadyAfterSeconds) log(`scale ${count}: steady after ${steadyAfterSeconds.toFixed(1)}s; a ${opts.windowMs / 1000}s window`);

    const windowFrom = Date.now();
    const usage = await usageOver({ worker: [s.worker.pid!], server: [s.server.pid], target: [target.child.pid!] }, opts.windowMs);
    const windowTo = Date.now();
    // A sweep started at the end of the window may still run: wait for it to close before listing.
    await sleep(2_000 + opts.intervalMs);
    // Every schedule (a big group is split into parts) is due once per interval. With a lease: the
    // loops that ran in the window, over their whole leases, and each one's longest sweep.
    const schedules = planHealthGroups(config, s.taskQueue).length;
    const loops = leased ? await loopSweepsOver(s, windowFrom, windowTo, opts.intervalMs) : undefined;
    const sweepSeconds = loops ? loops.longestSeconds : await sweepsBetween(s, windowFrom, windowTo);
    const due = loops ? loops.due : Math.floor((windowTo - windowFrom) / opts.intervalMs) * schedules;
    if (loops)
      log(
        `scale ${count}: probe loops swept ${loops.ran} of ${loops.due} due (${loops.late} late); longest sweep per loop median ${summarize(loops.longestSeconds).median}s`,
      );
    log(
      `scale ${count}: worker ${usage.worker.cpuPercent}% CPU ${usage.worker.rssMiBMax} MiB, server ${usage.server.cpuPercent}% ${usage.server.rssMiBMax} MiB; ${sweepSeconds.length}/${due} sweeps, median ${summarize(sweepSeconds).median}s`,
    );

    const sample = spreadSample(count, opts.failures);
    log(`scale ${count}: failing ${sample.length} components, 370 ms apart`);
    const measured = await injectAndMeasure(
      s,
      sample.map((i) => ({ id: componentId(i), base: `http://127.0.0.1:${target.port}/c/${i}` })),
      60_000,
    );
    const row: ScaleRow = {
      components: count,
      supervisorsUpSeconds,
      supervisorsRunning: running,
      steadyAfterSeconds,
      ...usage,
      sweeps: { schedules, ran: loops ? loops.ran : sweepSeconds.length, due, seconds: summarize(sweepSeconds), ...(loops ? { late: loops.late } : {}) },
      detectionSeconds: measured.detection,
      detection: summarize(measured.detection),
      recoverySeconds: measured.recovery,
      recovery: summarize(measured.recovery),
      undetected: measured.undetected,
      stages: measured.stages,
    };
    log(`scale ${count}: detection median ${row.detection.median}s p95 ${row.detection.p95}s, ${row.undetected} not detected`);
    return row;
  } finally {
    await stack?.stop();
    await stopGroup(target.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function scaleBench(opts: ScaleOptions): Promise<ScaleResult> {
  const measuredAt = new Date().toISOString();
  const began = now();
  const rows: ScaleRow[] = [];
  const failed: ScaleResult['failed'] = [];
  for (const count of opts.sizes) {
    log(`scale: ${count} components, check interval ${opts.intervalMs} ms`);
    const started = now();
    try {
      rows.push(await measureSize(count, opts));
    } catch (err) {
      // One size falling over is a result too: say so (with the server's reason) and go on with the next.
      const e = err as Error & { cause?: Error };
      const error = e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
      log(`scale ${count}: failed: ${error}`);
      failed.push({ components: count, error });
    }
    log(`scale ${count}: done in ${((now() - started) / 1000).toFixed(0)}s`);
  }
  const chart: ExtraChart = {
    file: 'scale.svg',
    title: `failure → recovery run started, check every ${opts.intervalMs / 1000} s (median, p95 whisker)`,
    rows: [
      ...rows.map((r) => ({ label: r.components.toLocaleString('en'), summary: r.detection.n ? r.detection : undefined, note: 'never detected' })),
      ...failed.map((f) => ({ label: f.components.toLocaleString('en'), note: 'could not be measured' })),
    ],
  };
  return {
    intervalMs: opts.intervalMs,
    windowSeconds: opts.windowMs / 1000,
    rows,
    failed,
    measuredAt,
    durationSeconds: Math.round((now() - began) / 1000),
    markdown: scaleMarkdown(opts, rows, failed),
    chart,
  };
}

function scaleMarkdown(opts: ScaleOptions, rows: ScaleRow[], failed: ScaleResult['failed']): string[] {
  const sec = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${x.toFixed(2)} s`);
  const lines = [
    `One worker and one dev server on this machine; every component is a path of one target process, probed over HTTP every ${opts.intervalMs / 1000} s (the same at every size), acting after 2 failed checks (the sweep's probe, then its own second probe 100 ms later), recovered by an http restart call. CPU (% of one core) and RSS sampled from /proc over a ${opts.windowMs / 1000} s steady window with no failures. Detection: from the injected failure (the target's clock) to the start time Temporal gives the component's recovery run, ${opts.failures} failures per size, spread over the components, 370 ms apart. Recovery: failure → the target's restart call.`,
    '',
    '| components | supervisors up after | sweeps keep up after | worker CPU | worker RSS (max) | server CPU | server RSS (max) | target CPU | sweeps ran / due (median length) | detection median | detection p95 | failure → restarted p95 | not detected |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.components.toLocaleString('en')} | ${r.supervisorsUpSeconds === undefined ? `${r.supervisorsRunning} only` : sec(r.supervisorsUpSeconds)} | ${r.steadyAfterSeconds === undefined ? 'never' : sec(r.steadyAfterSeconds)} | ${r.worker.cpuPercent}% | ${r.worker.rssMiBMax} MiB | ${r.server.cpuPercent}% | ${r.server.rssMiBMax} MiB | ${r.target.cpuPercent}% | ${r.sweeps.ran} / ${r.sweeps.due} over ${r.sweeps.schedules} schedule(s) (${sec(r.sweeps.seconds.median)}) | ${sec(r.detection.median)} | ${sec(r.detection.p95)} | ${sec(r.recovery.p95)} | ${r.undetected} |`,
    );
  }
  for (const f of failed) lines.push(`| ${f.components.toLocaleString('en')} | failed: ${f.error.replace(/\|/g, '/')} | | | | | | | | | | | |`);
  lines.push('');
  for (const r of rows) {
    // Said in words where a size did not cope: skipped sweeps and a slow start are what bound detection.
    if (r.sweeps.ran < r.sweeps.due)
      lines.push(
        r.sweeps.late === undefined
          ? `- ${r.components.toLocaleString('en')}: ${r.sweeps.due - r.sweeps.ran} of ${r.sweeps.due} due sweeps were skipped (the last sweep of that schedule was still running; overlap policy SKIP), sweep p95 ${sec(r.sweeps.seconds.p95)} against a ${opts.intervalMs / 1000} s interval.`
          : `- ${r.components.toLocaleString('en')}: the probe loops ran ${r.sweeps.ran} of ${r.sweeps.due} due sweeps, ${r.sweeps.late} longer than the ${opts.intervalMs / 1000} s interval; each loop's longest sweep p95 ${sec(r.sweeps.seconds.p95)}.`,
      );
    if (r.steadyAfterSeconds === undefined)
      lines.push(`- ${r.components.toLocaleString('en')}: the sweeps never all kept up before the window (measured anyway).`);
    if (r.undetected > 0) lines.push(`- ${r.components.toLocaleString('en')}: ${r.undetected} injected failure(s) had no recovery run within 60 s.`);
  }
  for (const r of rows)
    if (r.stages) lines.push('', `${r.components.toLocaleString('en')} components. ${stagesMarkdown(r.stages)[0]}`, ...stagesMarkdown(r.stages).slice(1));
  return lines;
}
