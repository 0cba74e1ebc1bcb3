import { sleep } from '@temporalio/workflow';
import type { WaitHealthyResult } from '../activities';
import { backoffDelay } from '../core/backoff';
import type { RecoveryInput, RecoveryResult } from '../core/run';
import { probeBefore, restartAndValidate, wantsCleanup } from './lib/restart';
import { StepFailed } from './lib/runbook';
import { runStrategy } from './lib/strategy';

/**
 * `progressive`: restart and validate; after a failed attempt wait with exponential backoff and
 * jitter (a durable timer: a 5-minute wait survives worker and server restarts), up to
 * `policy.maxRetries` attempts. Pause holds before the next attempt; cancel stops it cleanly.
 */
export async function progressiveRestart(input: RecoveryInput): Promise<RecoveryResult> {
  const { component } = input;
  const { policy } = component;
  return runStrategy('progressive', input, async (run) => {
    run.enter('analysis');
    const before = await probeBefore(run, component, input.observed);
    const cleanup = wantsCleanup(component, before);
    let last: WaitHealthyResult | undefined;
    for (let attempt = 1; attempt <= policy.maxRetries; attempt++) {
      run.attempt = attempt;
      last = await restartAndValidate(run, component, ` (attempt ${attempt} of ${policy.maxRetries})`, { cleanup });
      if (run.dryRun) return run.finish('planned');
      if (last?.healthy) return run.finish('recovered');
      if (attempt === policy.maxRetries) break;
      const delayMs = backoffDelay(attempt, policy, Math.random());
      run.nextAttemptAt = new Date(Date.now() + delayMs).toISOString();
      run.enter('preparation');
      await run.step('backoff', `backoff ${delayMs}ms before attempt ${attempt + 1}`, component.id, () =>
        sleep(delayMs, { summary: `backoff ${delayMs}ms before attempt ${attempt + 1} of ${policy.maxRetries}` }),
      );
      run.nextAttemptAt = undefined;
    }
    throw new StepFailed(`${component.id} not healthy after ${policy.maxRetries} attempts: ${last?.last.detail ?? 'no probe'}`, last?.last.failureClass);
  });
}
