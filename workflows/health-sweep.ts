/**
 * One firing of a health schedule (`mend/health/<group>`): probe the group's components at once and
 * report failures and changes to their supervisors (signal-with-start, so a supervisor exists for
 * every watched component). Short-lived; the schedule skips a firing while the last still runs.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { MendActivities, SweepResult } from '../activities';
import type { SupervisorSpec } from '../core/supervision';

export interface HealthSweepInput {
  group: string;
  specs: SupervisorSpec[];
  /** The schedule's spec hash: a new revision makes every component report once again. */
  revision?: string;
}

export async function healthSweep(input: HealthSweepInput): Promise<SweepResult> {
  // Every probe is bounded by its own timeout: the slowest one plus margin bounds the sweep.
  const slowest = Math.max(1_000, ...input.specs.map((s) => ('timeout' in s.component.probe ? s.component.probe.timeout : 1_000)));
  const { sweepHealth } = proxyActivities<MendActivities>({
    startToCloseTimeout: slowest + 30_000,
    retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 2 },
    summary: `probe ${input.specs.length} component(s) of group ${input.group}`,
  });
  return sweepHealth({ group: input.group, specs: input.specs, revision: input.revision, taskQueue: workflowInfo().taskQueue });
}
