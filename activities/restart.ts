/**
 * The short path of a restart (issue 16): stop-if-alive, clean (when asked), start and wait until
 * healthy in one heartbeating activity on the component's host, instead of three or four
 * activities each waiting a workflow task and an activity slot on a loaded worker. A run with
 * nothing observed before it (one started by hand) has it probe first, too. Its result lists every
 * sub-step with its times, so the run's step log stays step by step.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ProbeResult } from '../core/failure';
import { beforeNote, wantsCleanup } from '../core/restart-plan';
import type { Component } from '../core/schemas';
import { cleanState } from '../domain/state/aside';
import { adoptUnrecorded, runningProcess } from '../domain/adapters/process';
import { createKeyedTurns } from '../domain/keyed-turns';
import type { StartOutcome, StopOutcome } from '../domain/adapters';

export type SubStepName = 'probe' | 'stop' | 'cleanup' | 'start' | 'validate';

/** One sub-step as the workflow records it (a StepRecord's fields, times from the worker's clock). */
export interface SubStep {
  name: SubStepName;
  status: 'ok' | 'failed';
  startedAt: string;
  endedAt: string;
  durationMs: number;
  detail: string;
}

export interface RestartInput {
  component: Component;
  /** Move temp files, stale locks and corrupt markers aside (under `runKey`) between stop and start. */
  cleanup: boolean;
  /**
   * Probe once before acting (the run's analysis step) and note what it saw; cleanup is then what
   * `wantsCleanup` decides from that probe (as the workflow decides it after a probe activity), and
   * `cleanup` is not used. Whatever the probe saw, the component is restarted (a run by hand
   * restarts a healthy component too, without cleanup).
   */
  probeFirst?: boolean;
  runKey: string;
  /** Probe until healthy within this; undefined: validation is off (validateAfterRecovery: false). */
  validate?: { timeoutMs: number; intervalMs: number };
}

/** What validation saw (the waitUntilHealthy activity's result). */
export interface WaitHealthy {
  healthy: boolean;
  probes: number;
  elapsedMs: number;
  last: ProbeResult;
  /** The started process exited before it was healthy. */
  died?: boolean;
}

export interface RestartResult {
  steps: SubStep[];
  /** What the probe before acting saw (with `probeFirst`). */
  before?: ProbeResult;
  started: StartOutcome;
  /** Undefined when validation is off. */
  validated?: WaitHealthy;
}

/** What the activity heartbeats: the sub-steps done so far (a retry resumes after them). */
interface Progress {
  steps: SubStep[];
  before?: ProbeResult;
  started?: StartOutcome;
}

/** The single-step actions the activity chains; each calls `beat` to show it is alive (with what it saw, if anything). */
export interface RestartParts {
  probe(component: Component): Promise<ProbeResult>;
  stop(component: Component, beat: () => void): Promise<StopOutcome>;
  start(component: Component, beat: () => void): Promise<StartOutcome>;
  /** `sleep`: between looks (default the activity's own, which a cancellation ends). */
  waitHealthy(
    input: { component: Component; timeoutMs: number; intervalMs: number },
    beat: (seen?: object) => void,
    sleep?: (ms: number) => Promise<void>,
  ): Promise<WaitHealthy>;
}

/**
 * Idempotent, so safe to retry: every sub-step is (the probe only reads, stop does nothing to a
 * process that is not running, cleanup moves aside only what is still there, start starts nothing
 * when a live process already holds the pid file, validation only probes); and a retry resumes
 * from the heartbeated progress: once a start is recorded, it goes straight to validation instead
 * of stopping the process it started; a probe recorded stands, with the cleanup it decided. A
 * start whose heartbeat was lost with a dead worker is found by its pid file (a live process
 * started after this activity was first scheduled) and not started again, also when that worker
 * died before it wrote the pid file (the process is found by its environment).
 */
export async function restartProcess(parts: RestartParts, input: RestartInput, extra: object = {}): Promise<RestartResult> {
  // One restart of a component at a time in this process: two attempts of one activity can run at
  // once here (the server timed the first out, a slow heartbeat, and handed the retry to this same
  // worker while the first went on). The second waits, then finds the first one's start as an
  // earlier attempt's and only validates it, instead of stopping that process and starting another.
  const { component } = input;
  const key = component.adapter.type === 'process' && component.adapter.pidFile ? component.adapter.pidFile : `component:${component.id}`;
  const ctx = Context.current();
  // While it waits, it beats with what it already had (a detail-less heartbeat would erase it).
  const keepAlive = restartTurns.busy(key)
    ? setInterval(() => ctx.heartbeat({ ...extra, ...((ctx.info.heartbeatDetails as object | undefined) ?? {}) }), 1_000)
    : undefined;
  try {
    return await restartTurns.run(key, (waited) => {
      clearInterval(keepAlive);
      return restartOnce(parts, input, extra, waited);
    });
  } finally {
    clearInterval(keepAlive);
  }
}

/** Restarts under way in this process, by pid file (or component): see restartProcess. */
const restartTurns = createKeyedTurns();

async function restartOnce(parts: RestartParts, input: RestartInput, extra: object, afterAnother: boolean): Promise<RestartResult> {
  const ctx = Context.current();
  const prior = (ctx.info.heartbeatDetails as Partial<Progress> | undefined) ?? {};
  const progress: Progress = { steps: (prior.steps ?? []).filter((s) => s.status === 'ok'), before: prior.before, started: prior.started };
  const done = (name: SubStepName) => progress.steps.some((s) => s.name === name);
  const { component } = input;
  // Every heartbeat carries the progress (a detail-less one would erase it), and `extra` (the pid
  // watch's exit, when it restarts in place); `seen` is the latest probe.
  const beat = (seen?: object) => ctx.heartbeat({ ...extra, ...progress, ...(seen ? { seen } : {}) });
  const beating = <T>(fn: () => Promise<T>): Promise<T> => {
    const timer = setInterval(() => beat(), 1_000);
    return fn().finally(() => clearInterval(timer));
  };

  async function sub<T>(name: SubStepName, fn: () => Promise<T>, detail: (value: T) => string, failed?: (value: T) => boolean): Promise<T> {
    const startedAt = new Date();
    const record = (status: SubStep['status'], text: string): SubStep => {
      const endedAt = new Date();
      return {
        name,
        status,
        startedAt: startedAt.toISOString(),
        endedAt: endedAt.toISOString(),
        durationMs: endedAt.getTime() - startedAt.getTime(),
        detail: text,
      };
    };
    try {
      const value = await fn();
      progress.steps.push(record(failed?.(value) ? 'failed' : 'ok', detail(value)));
      beat();
      return value;
    } catch (err) {
      // The steps so far go along with the failure, so the run's log still shows what was done.
      const failedStep = record('failed', err instanceof Error ? err.message : String(err));
      throw withSteps(err, [...progress.steps, failedStep]);
    }
  }

  // A retry whose heartbeat lost the start (the worker died right after it) finds the process an
  // earlier attempt started by its pid file: started after this activity was first scheduled, it is
  // that attempt's start, and stopping and starting it again would be a duplicate action.
  // So does one that waited for another restart of the component in this worker (see restartProcess).
  const earlier =
    !done('start') && (ctx.info.attempt > 1 || afterAnother) ? await startedByEarlierAttempt(component, ctx.info.scheduledTimestampMs) : undefined;
  if (earlier) {
    const at = new Date().toISOString();
    const by = ctx.info.attempt > 1 ? 'an earlier attempt' : 'another restart of it in this worker';
    progress.started = { started: true, pid: earlier.pid, detail: `started pid ${earlier.pid} (by ${by}, at ${earlier.startedAt})` };
    progress.steps.push({ name: 'start', status: 'ok', startedAt: at, endedAt: at, durationMs: 0, detail: progress.started.detail });
    beat();
  }
  const resumed = progress.started !== undefined && done('start');
  // Read-only, and once per run: a retry keeps what the first probe saw (and so its cleanup decision).
  if (input.probeFirst && !resumed && !done('probe')) progress.before = await sub('probe', () => parts.probe(component), beforeNote);
  const cleanup = input.probeFirst ? wantsCleanup(component, progress.before) : input.cleanup;
  if (!resumed) {
    // A stop done before the worker died is not done again (nor listed twice).
    if (!done('stop'))
      await sub(
        'stop',
        () => beating(() => parts.stop(component, beat)),
        (s) => s.detail,
      );
    if (cleanup && !done('cleanup'))
      await sub(
        'cleanup',
        () => beating(() => cleanState(component, input.runKey)),
        (c) => (c.moved.length > 0 ? `moved aside: ${c.moved.map((m) => m.from).join(', ')}` : 'nothing to clean'),
      );
    progress.started = await sub(
      'start',
      () => beating(() => parts.start(component, beat)),
      (s) => (s.died ? `${s.detail}, which ${s.died.detail}` : s.detail),
      (s) => s.died !== undefined,
    );
  }
  const started = progress.started!;
  const before = progress.before;
  if (!input.validate) return { steps: progress.steps, before, started };
  const { timeoutMs, intervalMs } = input.validate;
  const validated = await sub(
    'validate',
    () => parts.waitHealthy({ component, timeoutMs, intervalMs }, beat),
    validationNote,
    (v) => !v.healthy,
  );
  return { steps: progress.steps, before, started, validated };
}

/**
 * The live process the pid file names, when it was started at or after `since` (ms) by a restart (not
 * by the dev stack or another start that says who it was: `startedBy`): an earlier attempt's start.
 * Or one the pid file does not name yet, found by its environment: the earlier attempt's worker died
 * between the spawn and the pid file write (adopted: the pid file names it now).
 */
export async function startedByEarlierAttempt(component: Component, since: number): Promise<{ pid: number; startedAt: string } | undefined> {
  if (component.adapter.type !== 'process') return undefined;
  const recorded = await runningProcess(component.adapter);
  // E.g. `npm start` again after the whole stack was killed: it starts its fleet before its worker, whose
  // retried pid watches must watch those processes, not take them for their own restarts of a crash.
  if (recorded?.startedBy !== undefined) return undefined;
  if (recorded) return Date.parse(recorded.startedAt) >= since ? { pid: recorded.pid, startedAt: recorded.startedAt } : undefined;
  // An adopted process's start comes from /proc in 10 ms ticks against /proc/uptime: it may read a
  // few ms before the spawn really happened, so it is allowed a small slack.
  const adopted = await adoptUnrecorded(component.adapter);
  return adopted && Date.parse(adopted.startedAt) >= since - PROC_START_SLACK_MS ? { pid: adopted.pid, startedAt: adopted.startedAt } : undefined;
}

/** How far before `since` an adopted process's /proc start time may read (two 10 ms ticks and the reads between, with room). */
const PROC_START_SLACK_MS = 250;

export function validationNote(v: WaitHealthy): string {
  if (v.healthy) return `healthy after ${v.probes} probe(s), ${v.elapsedMs}ms`;
  if (v.died) return `${v.last.failureClass}: ${v.last.detail} (after ${v.elapsedMs}ms)`;
  return `not healthy after ${v.probes} probes, ${v.elapsedMs}ms; last: ${v.last.detail}`;
}

/** An ApplicationFailure carrying the sub-steps as its details (type and retryability of the original kept). */
function withSteps(err: unknown, steps: SubStep[]): ApplicationFailure {
  if (err instanceof ApplicationFailure)
    return ApplicationFailure.create({
      message: err.message,
      type: err.type ?? undefined,
      nonRetryable: err.nonRetryable ?? false,
      details: [{ steps }],
      cause: err.cause,
    });
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({ message, type: err instanceof Error ? err.name : 'Error', details: [{ steps }] });
}
