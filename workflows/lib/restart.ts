/** The stop / clean / start / validate steps runbooks share, as steps of a Runbook. */
import { ActivityFailure, ApplicationFailure, patched, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { MendActivities, RestartResult, SubStep, WaitHealthyResult } from '../../activities';
import { runKey } from '../../core/constants';
import type { FailureClass, ProbeResult } from '../../core/failure';
import { onAdapterHost, onHost } from '../../core/hosts';
import { beforeNote } from '../../core/restart-plan';
import type { StepRecord, WatchRestart } from '../../core/run';
import type { Component } from '../../core/schemas';
import { adapterActivities, hostActivities } from './hosts';
import type { Runbook } from './runbook';

const base: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
};

/**
 * Host-bound activities of `where` (a component, or a saga command) on its host, with a per-call
 * summary the Web UI shows ("stop api (attempt 2 of 5)", "... on b" when the config names hosts).
 */
export function acts(where: { host?: string }, summary: string, extra: ActivityOptions = {}): MendActivities {
  return hostActivities(where.host, { ...base, ...extra, summary: summary + onHost(where) });
}

/** A component's adapter actions (start, stop): like `acts`, but an http adapter on absolute URLs runs centrally. */
export function adapterActs(component: Component, summary: string, extra: ActivityOptions = {}): MendActivities {
  return adapterActivities(component, { ...base, ...extra, summary: summary + onAdapterHost(component) });
}

/** Options for activities that copy or hash state: long, heartbeating. */
export const LONG: ActivityOptions = { startToCloseTimeout: '30 minutes', heartbeatTimeout: '30s' };

/** This run's folder name for state moved aside. */
export function thisRunKey(): string {
  const info = workflowInfo();
  return runKey(info.workflowId, info.runId);
}

/** Probes once and notes what it saw; the run's analysis step. Runs in a dry run too. A failure the caller observed stands in for it. */
export async function probeBefore(run: Runbook, component: Component, observed?: ProbeResult): Promise<ProbeResult | undefined> {
  const id = component.id;
  // A failure its supervisor has just confirmed is not probed again: on a hang that probe would
  // only wait out its timeout before anything is done.
  if (observed && !observed.healthy && !run.dryRun && patched('observed-failure-skips-probe')) {
    run.skip('probe', `probe ${id} before acting`, id, `confirmed unhealthy by its supervisor: ${observed.failureClass ?? 'unknown'}: ${observed.detail}`);
    return observed;
  }
  // Dry runs probe since this patch; dry runs recorded before it planned the probe instead.
  const readOnly = !run.dryRun || patched('dry-run-probes');
  const before = await run.step('probe', `probe ${id} before acting${onHost(component)}`, id, () => acts(component, `probe ${id}`).checkHealth({ component }), {
    readOnly,
  });
  if (before) run.note(beforeNote(before), id);
  return before;
}

/**
 * Time an adapter call may take: a command adapter may run `status` before `start` or `stop`,
 * each bounded by its own timeout; the rest is margin for the activity itself.
 */
export function adapterBudget(component: Component, op: 'start' | 'stop'): number {
  const { adapter } = component;
  const each = op === 'stop' ? adapter.stopTimeout : adapter.type === 'process' ? 30_000 : adapter.timeout;
  return (adapter.type === 'command' ? 2 : 1) * each + 15_000;
}

export async function stopStep(run: Runbook, component: Component, label = ''): Promise<void> {
  const id = component.id;
  const stopped = await run.step('stop', `stop ${id}${label}${onAdapterHost(component)}`, id, () =>
    adapterActs(component, `stop ${id}${label}`, { startToCloseTimeout: adapterBudget(component, 'stop'), heartbeatTimeout: '10s' }).stopComponent({
      component,
    }),
  );
  if (stopped) run.note(stopped.detail, id);
}

export async function startStep(run: Runbook, component: Component, label = ''): Promise<void> {
  const id = component.id;
  const started = await run.step(
    'start',
    `start ${id}${label}${onAdapterHost(component)}`,
    id,
    () =>
      adapterActs(component, `start ${id}${label}`, { startToCloseTimeout: adapterBudget(component, 'start'), heartbeatTimeout: '10s' }).startComponent({
        component,
      }),
    // A process gone by the time its start returned: the step failed; validation sees it at once too.
    { failed: (s) => s.died !== undefined },
  );
  if (started) run.note(started.died ? `${started.detail}, which ${started.died.detail}` : started.detail, id);
}

/** Moves temp files, stale locks and corrupt markers aside (never deletes), for a start on clean ground. */
export async function cleanupStep(run: Runbook, component: Component, label = ''): Promise<void> {
  const id = component.id;
  const cleaned = await run.step('cleanup', `clean temp files, stale locks and corrupt markers of ${id}${label}${onHost(component)}`, id, () =>
    acts(component, `clean ${id}${label}`, LONG).cleanState({ component, runKey: thisRunKey() }),
  );
  if (cleaned) run.note(cleaned.moved.length > 0 ? `moved aside: ${cleaned.moved.map((m) => m.from).join(', ')}` : 'nothing to clean', id);
}

/** Moves the component's state aside under this run's key (never deleted) for a fresh start or a restore. */
export async function asideStep(run: Runbook, component: Component): Promise<void> {
  const id = component.id;
  const aside = await run.step('aside', `move state of ${id} aside${onHost(component)}`, id, () =>
    acts(component, `move state of ${id} aside`, LONG).moveStateAside({ component, runKey: thisRunKey() }),
  );
  if (aside) run.note(`${aside.moved.length} path(s) moved to ${aside.dir}`, id);
}

/**
 * Probes until healthy or policy.timeout. With `validateAfterRecovery: false` the step is skipped
 * and counts as healthy. Undefined in a dry run.
 */
export async function validateStep(run: Runbook, component: Component, label = ''): Promise<WaitHealthyResult | undefined> {
  const id = component.id;
  run.enter('validation');
  // `=== false`: runs started before the option existed carry no value and always validated.
  if (component.policy.validateAfterRecovery === false) {
    run.skip('validate', `validate ${id}${label}`, id, 'validateAfterRecovery is off');
    return run.dryRun
      ? undefined
      : { healthy: true, probes: 0, elapsedMs: 0, last: { healthy: true, detail: 'not validated (validateAfterRecovery: false)', latencyMs: 0 } };
  }
  const timeoutMs = component.policy.timeout;
  const validated = await run.step(
    'validate',
    `validate ${id}${label}${onHost(component)} (healthy within ${timeoutMs}ms)`,
    id,
    () =>
      acts(component, `validate ${id}${label}`, { startToCloseTimeout: timeoutMs + 15_000, heartbeatTimeout: '10s' }).waitUntilHealthy({
        component,
        timeoutMs,
        intervalMs: component.policy.validateInterval,
      }),
    { failed: (v) => !v.healthy },
  );
  if (validated) run.note(validationNote(validated), id);
  return validated;
}

function validationNote(v: WaitHealthyResult): string {
  if (v.healthy) return `healthy after ${v.probes} probe(s), ${v.elapsedMs}ms`;
  if (v.died) return `${v.last.failureClass}: ${v.last.detail} (after ${v.elapsedMs}ms)`;
  return `not healthy after ${v.probes} probes, ${v.elapsedMs}ms; last: ${v.last.detail}`;
}

/**
 * A run's reason for a validation that did not end healthy: how the started process died, or the
 * last probe when the timeout ran out. `after` names what came before, e.g. "restoring <checkpoint>".
 */
export function notHealthyReason(component: Component, validated: WaitHealthyResult | undefined, after?: string): string {
  if (validated?.died) return `${component.id}${after ? ` (after ${after})` : ''} ${validated.last.detail}`;
  return `${component.id} not healthy within ${component.policy.timeout}ms${after ? ` after ${after}` : ''}: ${validated?.last.detail ?? 'no probe'}`;
}

/**
 * stop → (cleanup) → start → validate. Returns the validation result, or undefined in a dry run.
 * `label` is appended to summaries, e.g. " (attempt 2 of 5)".
 */
export async function restartAndValidate(
  run: Runbook,
  component: Component,
  label = '',
  opts: { cleanup?: boolean } = {},
): Promise<WaitHealthyResult | undefined> {
  run.enter('execution');
  await stopStep(run, component, label);
  if (opts.cleanup) await cleanupStep(run, component, label);
  await startStep(run, component, label);
  return validateStep(run, component, label);
}

export { wantsCleanup } from '../../core/restart-plan';

/**
 * Patch: a failure its supervisor confirmed, of a `process` component, is restarted by one
 * activity (stop-if-alive, clean, start, wait until healthy) instead of one activity per step.
 * Runs recorded before it (and dry runs, other adapters) keep one activity per step; a run started
 * by hand takes PROBE_IN_ONE_PATCH's path instead.
 */
export const SHORT_PATH_PATCH = 'immediate-short-path';

/** The short path applies: a confirmed failure (nothing to look at first), a process component, a real run. */
export function takesShortPath(run: Runbook, component: Component, observed: ProbeResult | undefined): boolean {
  return observed !== undefined && !observed.healthy && !run.dryRun && component.adapter.type === 'process' && patched(SHORT_PATH_PATCH);
}

/**
 * Patch: a run with nothing observed before it (started by hand, through the API or the CLI), of a
 * `process` component, probes and restarts in one activity (restartInOne with `probeFirst`) instead
 * of a probe activity and one activity per step. Runs recorded before it keep the probe activity.
 */
export const PROBE_IN_ONE_PATCH = 'immediate-probe-in-one';

/**
 * The probe-first short path applies: a real run of a process component with no confirmed failure
 * to stand in for the probe (so probeBefore would probe). Dry runs and other adapters keep a step per activity.
 */
export function probesInOne(run: Runbook, component: Component, observed: ProbeResult | undefined): boolean {
  const confirmed = observed !== undefined && !observed.healthy;
  return !confirmed && !run.dryRun && component.adapter.type === 'process' && patched(PROBE_IN_ONE_PATCH);
}

/**
 * (probe →) stop → (cleanup) → start → validate in one host-bound activity (see activities/restart.ts):
 * one workflow task and one activity slot instead of one per step. The run's log still lists each
 * step with its own times and details (the activity reports them); while it runs, the progress
 * query shows the one `restart` step. Returns the validation result, as restartAndValidate does.
 * With `probeFirst` the activity probes before acting and decides the cleanup from what it saw
 * (wantsCleanup, as the workflow does after a probe activity); `cleanup` is then not used.
 */
export async function restartInOne(
  run: Runbook,
  component: Component,
  opts: { cleanup?: boolean; probeFirst?: boolean } = {},
): Promise<WaitHealthyResult | undefined> {
  const id = component.id;
  const { timeout: timeoutMs, validateInterval: intervalMs } = component.policy;
  // `=== false`: as in validateStep.
  const validate = component.policy.validateAfterRecovery === false ? undefined : { timeoutMs, intervalMs };
  const probeFirst = opts.probeFirst === true;
  const summaries = restartSummaries(component);
  const records = (steps: SubStep[]): StepRecord[] => steps.map((s) => ({ ...s, summary: summaries[s.name], component: id }));
  const clean = probeFirst ? (component.policy.cleanupOnFailure ? ['clean if unhealthy'] : []) : opts.cleanup ? ['clean'] : [];
  const names = [...(probeFirst ? ['probe'] : []), 'stop', ...clean, 'start', ...(validate ? ['validate'] : [])];
  run.enter('execution');
  const probeBudget = probeFirst && 'timeout' in component.probe ? component.probe.timeout : 0;
  const budget = probeBudget + adapterBudget(component, 'stop') + adapterBudget(component, 'start') + (validate ? timeoutMs : 0);
  const result: RestartResult = await run.compound(
    'restart',
    `${names.join(', ')} ${id}${onHost(component)} in one activity`,
    id,
    () =>
      acts(component, `restart ${id} (${names.join(', ')})`, { startToCloseTimeout: budget, heartbeatTimeout: '10s' }).restartProcess({
        component,
        cleanup: opts.cleanup === true,
        runKey: thisRunKey(),
        validate,
        // Only when set: the input of runs recorded before it stays as it was.
        ...(probeFirst ? { probeFirst } : {}),
      }),
    (r) => records(r.steps),
    (err) => {
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      const steps = cause instanceof ApplicationFailure ? (cause.details?.[0] as { steps?: SubStep[] } | undefined)?.steps : undefined;
      return steps && records(steps);
    },
  );
  if (!validate) {
    run.enter('validation');
    run.skip('validate', `validate ${id}`, id, 'validateAfterRecovery is off');
    return { healthy: true, probes: 0, elapsedMs: 0, last: { healthy: true, detail: 'not validated (validateAfterRecovery: false)', latencyMs: 0 } };
  }
  return result.validated;
}

/** What each sub-step of a one-activity restart is called in the run's log. */
function restartSummaries(component: Component): Record<SubStep['name'], string> {
  const id = component.id;
  return {
    probe: `probe ${id} before acting${onHost(component)}`,
    stop: `stop ${id}${onAdapterHost(component)}`,
    cleanup: `clean temp files, stale locks and corrupt markers of ${id}${onHost(component)}`,
    start: `start ${id}${onAdapterHost(component)}`,
    validate: `validate ${id}${onHost(component)} (healthy within ${component.policy.timeout}ms)`,
  };
}

/**
 * Patch: a run started with `adopted` (a restart its supervisor's pid watch did in place, see
 * activities/watch-restart.ts) records that restart's sub-steps instead of acting: no activity.
 */
export const ADOPT_WATCH_RESTART_PATCH = 'immediate-adopts-watch-restart';

/**
 * Records a restart the pid watch did in place as this run's steps (each with the times the watch
 * measured), the probe skipped as the supervisor's confirmation skips it. Returns how it ended.
 */
export function adoptWatchRestart(run: Runbook, component: Component, done: WatchRestart): { healthy: boolean; reason: string; failureClass?: FailureClass } {
  const id = component.id;
  const summaries = restartSummaries(component);
  run.enter('analysis');
  run.skip('probe', `probe ${id} before acting`, id, `its pid watch saw the process exit (${done.exitDetail}) and restarted it in place`);
  run.enter('execution');
  const waited = done.backoffMs + done.waitedMs > 0 ? ` (after ${done.backoffMs}ms of restart backoff and ${done.waitedMs}ms for its host's window)` : '';
  run.record(done.steps.map((s, n) => ({ ...s, summary: summaries[s.name] + (n === 0 ? waited : ''), component: id })));
  if (done.healthy && !done.steps.some((s) => s.name === 'validate')) {
    run.enter('validation');
    run.skip('validate', `validate ${id}`, id, 'validateAfterRecovery is off');
  }
  return { healthy: done.healthy, reason: `${id} restarted in place by its pid watch: ${done.reason ?? 'not healthy'}`, failureClass: done.failureClass };
}
