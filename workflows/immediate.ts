import { patched } from '@temporalio/workflow';
import type { RecoveryInput, RecoveryResult } from '../core/run';
import {
  adoptWatchRestart,
  ADOPT_WATCH_RESTART_PATCH,
  notHealthyReason,
  probeBefore,
  probesInOne,
  restartAndValidate,
  restartInOne,
  takesShortPath,
  wantsCleanup,
} from './lib/restart';
import { StepFailed } from './lib/runbook';
import { runStrategy } from './lib/strategy';

/**
 * `immediate`: stop the component, clean up (when the policy asks and it was unhealthy), start
 * it, and probe until healthy or `policy.timeout`. One attempt; each activity has its own short
 * retries (3 tries, 200ms → 5s). Workflow id `mend/recover/<component>` keeps it to one run per component.
 * A process component takes a short path, one activity (lib/restart.ts restartInOne): a failure
 * its supervisor confirmed is not probed again (stop + clean + start + validate); a run with
 * nothing observed (started by hand) probes in that same activity first, then restarts, a healthy
 * component too (without cleanup), as the run of an activity per step does. A restart its pid
 * watch already did in place (`adopted`) is recorded step by step, without acting again.
 */
export async function immediateRestart(input: RecoveryInput): Promise<RecoveryResult> {
  const { component } = input;
  return runStrategy('immediate', input, async (run) => {
    if (input.adopted && patched(ADOPT_WATCH_RESTART_PATCH)) {
      const adopted = adoptWatchRestart(run, component, input.adopted);
      if (!adopted.healthy) throw new StepFailed(adopted.reason, adopted.failureClass);
      return run.finish('recovered');
    }
    run.enter('analysis');
    let validated;
    if (probesInOne(run, component, input.observed)) {
      validated = await restartInOne(run, component, { probeFirst: true });
    } else {
      const before = await probeBefore(run, component, input.observed);
      const cleanup = wantsCleanup(component, before);
      // The common case, a crash or failed probe its supervisor confirmed: one activity does it all.
      validated = takesShortPath(run, component, input.observed)
        ? await restartInOne(run, component, { cleanup })
        : await restartAndValidate(run, component, '', { cleanup });
    }
    if (run.dryRun) return run.finish('planned');
    if (!validated?.healthy) {
      throw new StepFailed(notHealthyReason(component, validated), validated?.last.failureClass);
    }
    return run.finish('recovered');
  });
}
