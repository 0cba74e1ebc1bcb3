import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { MendActivities } from '../activities';
import type { RecoveryInput, RecoveryResult } from '../core/run';
import { Runbook, StepFailed } from './lib/runbook';

const base: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
};

function acts(summary: string, extra: ActivityOptions = {}) {
  return proxyActivities<MendActivities>({ ...base, ...extra, summary });
}

/**
 * `immediate`: stop the component, start it, and probe until healthy or `policy.timeout`.
 * One attempt; each activity has its own short retries (3 tries, 200ms → 5s). Workflow id
 * `mend/recover/<component>` keeps it to one run per component.
 */
export async function immediateRestart(input: RecoveryInput): Promise<RecoveryResult> {
  const { component } = input;
  const id = component.id;
  const run = new Runbook({ strategy: 'immediate', components: [id], trigger: input.trigger, dryRun: input.dryRun });
  try {
    run.enter('analysis');
    const before = await run.step('probe', `probe ${id} before acting`, id, () => acts(`probe ${id}`).checkHealth({ component }));
    if (before) run.note(before.healthy ? 'healthy before restart' : `${before.failureClass}: ${before.detail}`);

    run.enter('execution');
    const stopTimeoutMs = component.adapter.stopTimeout + 15_000;
    await run.step('stop', `stop ${id}`, id, () =>
      acts(`stop ${id}`, { startToCloseTimeout: stopTimeoutMs, heartbeatTimeout: '10s' }).stopComponent({ component }),
    );
    const started = await run.step('start', `start ${id}`, id, () => acts(`start ${id}`).startComponent({ component }));
    if (started) run.note(started.started ? `started pid ${started.pid}` : `already running as pid ${started.pid}`);

    run.enter('validation');
    const timeoutMs = component.policy.timeout;
    const validated = await run.step('validate', `validate ${id} (healthy within ${timeoutMs}ms)`, id, () =>
      acts(`validate ${id}`, { startToCloseTimeout: timeoutMs + 15_000, heartbeatTimeout: '10s' }).waitUntilHealthy({
        component,
        timeoutMs,
        intervalMs: component.policy.validateInterval,
      }),
    );
    if (run.dryRun) return run.finish('planned');
    if (!validated?.healthy) {
      run.note(`${validated?.probes ?? 0} probes, last: ${validated?.last.detail ?? 'none'}`);
      throw new StepFailed(`${id} not healthy within ${timeoutMs}ms: ${validated?.last.detail ?? 'no probe'}`, validated?.last.failureClass);
    }
    run.note(`healthy after ${validated.probes} probe(s), ${validated.elapsedMs}ms`);
    return run.finish('recovered');
  } catch (err) {
    return run.fail(err);
  }
}
