/**
 * The specs a health schedule's sweep probes, read from the workflow that holds them
 * (`mend/health-specs/...`, workflows/health-specs.ts): the start event's input, fetched once per
 * schedule and revision and then kept, so a firing carries only its revision. Read-only.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { healthSpecsWorkflowId } from '../core/constants';
import type { HealthSpecsInput } from '../core/sweep-input';
import type { SupervisorSpec } from '../core/supervision';

export interface SweepSpecs {
  revision: string;
  specs: SupervisorSpec[];
}

/** A reader with its own cache (one per worker): the last revision read of each schedule. */
export function createSweepSpecsReader() {
  const cache = new Map<string, Promise<SweepSpecs>>();

  async function fetchSpecs(client: Client, scheduleId: string): Promise<SweepSpecs> {
    const workflowId = healthSpecsWorkflowId(scheduleId);
    const history = await client.workflow
      .getHandle(workflowId)
      .fetchHistory()
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError)
          throw ApplicationFailure.nonRetryable(`no specs for ${scheduleId}: ${workflowId} not found (reconcile the schedules)`, 'SweepSpecsMissing');
        throw err;
      });
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (!payload)
      throw ApplicationFailure.nonRetryable(`no specs for ${scheduleId}: ${workflowId} has no input (reconcile the schedules)`, 'SweepSpecsMissing');
    const input = client.options.loadedDataConverter.payloadConverter.fromPayload<HealthSpecsInput>(payload);
    return { revision: input.revision, specs: input.specs };
  }

  /**
   * The specs of `scheduleId` at `revision`. A firing from just before a reconcile may name the
   * previous revision: it gets the holder's current (newer) specs, which are what is wanted now.
   */
  return async function sweepSpecs(client: Client, scheduleId: string, revision: string): Promise<SweepSpecs> {
    const cached = cache.get(scheduleId);
    if (cached) {
      const hit = await cached.catch(() => undefined);
      if (hit?.revision === revision) return hit;
    }
    // Concurrent firings of one schedule share one read.
    const reading = fetchSpecs(client, scheduleId);
    cache.set(scheduleId, reading);
    try {
      return await reading;
    } catch (err) {
      if (cache.get(scheduleId) === reading) cache.delete(scheduleId);
      throw err;
    }
  };
}

export type SweepSpecsReader = ReturnType<typeof createSweepSpecsReader>;
