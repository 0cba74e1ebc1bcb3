/** Checking a component now: one probe on a worker through a short workflow (`mend/check/<component>`). */
import { WorkflowFailedError } from '@temporalio/client';
import { TimeoutFailure } from '@temporalio/common';
import { onHost } from '../core/hosts';
import { MendComponents, MendTrigger } from '../core/search-attributes';
import type { Component, Trigger } from '../core/schemas';
import { checkWorkflowId, type CheckResult } from '../core/supervision';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { mapConnectionError, TemporalUnreachableError, type MendClient } from './index';

/** Time a worker has to pick the check up and probe, beyond the probe's own timeout. */
const WORKER_GRACE_MS = 20_000;

/**
 * Probes `component` once on a worker of the client's task queue and hands the result to its
 * supervisor (if it has one). Concurrent checks of one component share a single probe.
 * TemporalUnreachableError when Temporal does not answer or no worker runs the check in time.
 */
export async function checkComponent(client: MendClient, component: Component, req: { trigger: Trigger; requestedBy: string }): Promise<CheckResult> {
  const workflowId = checkWorkflowId(component.id);
  const timeoutMs = ('timeout' in component.probe ? component.probe.timeout : 1_000) + WORKER_GRACE_MS;
  try {
    return await client.temporal.workflow.execute(WORKFLOW_TYPES.check, {
      workflowId,
      taskQueue: client.taskQueue,
      args: [{ component }],
      memo: client.startMemo,
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowExecutionTimeout: timeoutMs,
      typedSearchAttributes: [
        { key: MendComponents, value: [component.id] },
        { key: MendTrigger, value: req.trigger },
      ],
      staticSummary: `check ${component.id}${onHost(component)} now (${req.trigger} by ${req.requestedBy})`,
    });
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof TimeoutFailure) {
      throw new TemporalUnreachableError(
        `no worker on task queue ${client.taskQueue} checked ${component.id} within ${Math.round(timeoutMs / 1000)}s (is the worker running?)`,
      );
    }
    throw mapConnectionError(err);
  }
}
