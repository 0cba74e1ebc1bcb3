/**
 * Holds one health schedule's specs at one revision (`mend/health-specs/<group>[@host][/part]`):
 * its input is the specs, which the sweeps' activities read from its start event once per revision
 * (activities/sweep-specs.ts). It runs until reconcile starts the next revision in its place
 * (terminating this one) or deletes the schedule: a running workflow's history outlives the
 * namespace's retention, so an agent started a month later still finds the specs. Issues no commands.
 */
import { condition } from '@temporalio/workflow';
import type { HealthSpecsInput } from '../core/sweep-input';

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- the input is the point: the sweeps read it from the start event
export async function healthSpecs(_input: HealthSpecsInput): Promise<void> {
  await condition(() => false);
}
