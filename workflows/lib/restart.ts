/** The restart-and-validate sequence runbooks share, as steps of a Runbook. */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { MendActivities, WaitHealthyResult } from '../../activities';
import type { Component } from '../../core/schemas';
import type { Runbook } from './runbook';

const base: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
};

/** Activities with a per-call summary the Web UI shows ("stop api (attempt 2 of 5)"). */
export function acts(summary: string, extra: ActivityOptions = {}): MendActivities {
  return proxyActivities<MendActivities>({ ...base, ...extra, summary });
}

/** Probes once and notes what it saw; the run's analysis step. */
export async function probeBefore(run: Runbook, component: Component): Promise<void> {
  const id = component.id;
  const before = await run.step('probe', `probe ${id} before acting`, id, () => acts(`probe ${id}`).checkHealth({ component }));
  if (before) run.note(before.healthy ? 'healthy before restart' : `${before.failureClass}: ${before.detail}`, id);
}

/**
 * stop → start → validate (probe until healthy or policy.timeout). Returns the validation result,
 * or undefined in a dry run. `label` is appended to summaries, e.g. " (attempt 2 of 5)".
 */
export async function restartAndValidate(run: Runbook, component: Component, label = ''): Promise<WaitHealthyResult | undefined> {
  const id = component.id;
  run.enter('execution');
  await run.step('stop', `stop ${id}${label}`, id, () =>
    acts(`stop ${id}${label}`, { startToCloseTimeout: component.adapter.stopTimeout + 15_000, heartbeatTimeout: '10s' }).stopComponent({ component }),
  );
  const started = await run.step('start', `start ${id}${label}`, id, () => acts(`start ${id}${label}`).startComponent({ component }));
  if (started) run.note(started.started ? `started pid ${started.pid}` : `already running as pid ${started.pid}`, id);

  run.enter('validation');
  const timeoutMs = component.policy.timeout;
  const validated = await run.step('validate', `validate ${id}${label} (healthy within ${timeoutMs}ms)`, id, () =>
    acts(`validate ${id}${label}`, { startToCloseTimeout: timeoutMs + 15_000, heartbeatTimeout: '10s' }).waitUntilHealthy({
      component,
      timeoutMs,
      intervalMs: component.policy.validateInterval,
    }),
  );
  if (validated) {
    run.note(validated.healthy ? `healthy after ${validated.probes} probe(s), ${validated.elapsedMs}ms` : `${validated.probes} probes, last: ${validated.last.detail}`, id);
  }
  return validated;
}
