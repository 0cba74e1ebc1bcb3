/**
 * A check now (`mend/check/<component>`): one probe on a worker (where the supervisors probe from),
 * its result handed to the component's supervisor as a report (so a failure is confirmed and
 * recovered like a sweep's), and returned to the caller.
 */
import { getExternalWorkflowHandle } from '@temporalio/workflow';
import { supervisorWorkflowId } from '../core/constants';
import { reportSignal } from '../core/messages';
import type { Component } from '../core/schemas';
import type { CheckResult, ProbeReport } from '../core/supervision';
import { hostActivities } from './lib/hosts';

export interface CheckInput {
  component: Component;
  /** Hand the result to the supervisor (default true). */
  report?: boolean;
}

export async function checkComponent(input: CheckInput): Promise<CheckResult> {
  const id = input.component.id;
  // On the component's host: a probe of 127.0.0.1 means that host.
  const probes = hostActivities(input.component.host, {
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '200ms', maximumInterval: '2s', maximumAttempts: 2 },
  });
  const probed = await probes.confirmFailure({ component: input.component, probes: 1, intervalMs: 0 });
  const { healthy, failureClass, detail, latencyMs } = probed.last;
  let reported = false;
  if (input.report !== false) {
    const report: ProbeReport = { healthy, failureClass, detail, checkedAt: probed.lastAt, source: 'manual' };
    try {
      await getExternalWorkflowHandle(supervisorWorkflowId(id)).signal(reportSignal, report);
      reported = true;
    } catch {
      // No supervisor (supervision disabled, or no sweep has run yet): the result is only returned.
    }
  }
  return { component: id, healthy, ...(failureClass ? { failureClass } : {}), detail, latencyMs, checkedAt: probed.lastAt, reported };
}
