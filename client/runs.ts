/** Reading runs through Temporal visibility: lists for the API, and which components a run acts on. */
import { WorkflowNotFoundError, type WorkflowExecutionInfo } from '@temporalio/client';
import type { RunList, RunListQuery, RunSummary } from '../core/api';
import { runListQuery } from '../core/visibility';
import { MendComponents, MendOutcome, MendPhase, MendStrategy, MendTrigger } from '../core/search-attributes';
import { mapConnectionError, RunNotFoundError, type MendClient } from './index';

export type { RunList };

/** mend's runs on the client's task queue matching `filter`, newest first, at most `filter.limit`. */
export async function listRuns(client: MendClient, filter: RunListQuery): Promise<RunList> {
  const query = runListQuery(filter, client.taskQueue);
  const runs: RunSummary[] = [];
  try {
    for await (const info of client.temporal.workflow.list({ query, pageSize: Math.min(filter.limit, 100) })) {
      runs.push(summarize(client, info));
      if (runs.length >= filter.limit) break;
    }
  } catch (err) {
    throw mapConnectionError(err);
  }
  return { query, runs };
}

/** How many runs match `filter` (all of them, not bounded by a limit). */
export async function countRuns(client: MendClient, filter: Omit<RunListQuery, 'limit'>): Promise<number> {
  try {
    return (await client.temporal.workflow.count(runListQuery(filter, client.taskQueue))).count;
  } catch (err) {
    throw mapConnectionError(err);
  }
}

/** A run's summary from its description: the components it acts on come from its search attributes. */
export async function describeSummary(client: MendClient, workflowId: string): Promise<RunSummary> {
  try {
    return summarize(client, await client.temporal.workflow.getHandle(workflowId).describe());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new RunNotFoundError(`no run ${workflowId}`);
    throw mapConnectionError(err);
  }
}

function summarize(client: MendClient, info: Omit<WorkflowExecutionInfo, 'raw'>): RunSummary {
  const sa = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    type: info.type,
    status: info.status.name,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
    components: sa.get(MendComponents) ?? [],
    strategy: sa.get(MendStrategy),
    phase: sa.get(MendPhase),
    outcome: sa.get(MendOutcome),
    trigger: sa.get(MendTrigger),
    url: client.runUrl(info.workflowId, info.runId),
  };
}

/**
 * True for errors that mean "the server did not answer": gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4),
 * directly or as the cause of the SDK's ServiceError (whose own message does not say so).
 */
