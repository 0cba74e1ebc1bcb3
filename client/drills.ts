/**
 * Drills: start one now (`mend drill <name>`), and keep one Temporal Schedule per drill that has
 * an `every` (`mend/drill/<name>`), reconciled from the config like the health schedules.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { drillScheduleId } from '../core/constants';
import type { DrillInput, DrillResult } from '../core/drill';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import type { Config, Drill } from '../core/schemas';
import { MendComponents, MendStrategy, MendTrigger } from '../core/search-attributes';
import { mapConnectionError, mapRunError, type MendClient, type StartedRun } from './index';
import { applySchedule, deleteUnwanted, type ScheduleParts } from './schedule-sync';

const PREFIX = drillScheduleId('');

function inputOf(config: Config, drill: Drill, trigger: DrillInput['trigger'], requestedBy: string): DrillInput {
  const component = config.components.find((c) => c.id === drill.component);
  if (!component) throw new Error(`drill ${drill.name}: unknown component ${drill.component}`);
  return { drill, component, trigger, requestedBy };
}

/** Starts a drill now, as `mend/drill/<name>/<random>`; resolves once it started. */
export async function startDrill(client: MendClient, config: Config, drill: Drill, requestedBy: string): Promise<StartedRun> {
  const workflowId = `${drillScheduleId(drill.name)}/${randomUUID().slice(0, 8)}`;
  try {
    const handle = await client.temporal.workflow.start(WORKFLOW_TYPES.drill, {
      workflowId,
      taskQueue: client.taskQueue,
      args: [inputOf(config, drill, 'manual', requestedBy)],
      memo: client.startMemo,
      typedSearchAttributes: [
        { key: MendComponents, value: [drill.component] },
        { key: MendStrategy, value: 'drill' },
        { key: MendTrigger, value: 'manual' },
      ],
      staticSummary: `drill ${drill.name}: break ${drill.component} (${typeof drill.fault === 'string' ? drill.fault : 'command'}) and time its recovery`,
    });
    return { workflowId, runId: handle.firstExecutionRunId, url: client.runUrl(workflowId, handle.firstExecutionRunId) };
  } catch (err) {
    throw mapConnectionError(err);
  }
}

export async function drillResult(client: MendClient, run: StartedRun): Promise<DrillResult> {
  return (await client.temporal.workflow.getHandle(run.workflowId, run.runId).result()) as DrillResult;
}

/** A drill run's Temporal status and, once it has completed, its result; RunNotFoundError when there is no such run. */
export async function describeDrillRun(client: MendClient, workflowId: string): Promise<{ workflowId: string; status: string; result?: DrillResult }> {
  const handle = client.temporal.workflow.getHandle(workflowId);
  try {
    const d = await handle.describe();
    return { workflowId, status: d.status.name, result: d.status.name === 'COMPLETED' ? ((await handle.result()) as DrillResult) : undefined };
  } catch (err) {
    throw mapRunError(err, workflowId);
  }
}

/** Creates, updates and deletes the drill schedules to match `config` (idempotent, like the health schedules). */
export async function reconcileDrills(
  client: MendClient,
  config: Config,
  owner = client.taskQueue,
): Promise<{ created: string[]; updated: string[]; deleted: string[]; unchanged: string[] }> {
  const result = { created: [] as string[], updated: [] as string[], deleted: [] as string[], unchanged: [] as string[] };
  const wanted = new Set<string>();
  for (const drill of config.drills) {
    if (drill.every === undefined) continue;
    const scheduleId = drillScheduleId(drill.name);
    wanted.add(scheduleId);
    const input = inputOf(config, drill, 'schedule', 'schedule');
    const hash = createHash('sha256')
      .update(JSON.stringify({ v: 1, every: drill.every, taskQueue: client.taskQueue, input }))
      .digest('hex');
    const parts: ScheduleParts = {
      spec: { intervals: [{ every: drill.every }] },
      action: {
        type: 'startWorkflow',
        workflowType: WORKFLOW_TYPES.drill,
        workflowId: scheduleId,
        taskQueue: client.taskQueue,
        args: [input],
        memo: { ...client.startMemo, mendSpecHash: hash, mendDrill: drill.name, mendComponents: [drill.component] },
        staticSummary: `drill ${drill.name} on ${drill.component}`,
      },
      // Never two drills of one schedule at once; a missed one is not made up later.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute', pauseOnFailure: false },
    };
    result[await applySchedule(client, scheduleId, parts, hash, owner)].push(scheduleId);
  }
  result.deleted = await deleteUnwanted(client, PREFIX, owner, wanted);
  return result;
}
