/**
 * The schedule plumbing reconcile shares (health checks, drills): create or update by a spec
 * hash kept in the action memo, delete what the owner no longer wants.
 */
import { ScheduleNotFoundError, type ScheduleOptionsStartWorkflowAction, type ScheduleOverlapPolicy } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { MendClient } from './index';

/** The parts of a schedule reconcile compares and writes; the action's memo carries `mendSpecHash`. */
export interface ScheduleParts {
  spec: { intervals: Array<{ every: number }> };
  action: ScheduleOptionsStartWorkflowAction<Workflow>;
  policies: { overlap: ScheduleOverlapPolicy; catchupWindow: string; pauseOnFailure: boolean };
}

/**
 * Creates the schedule, or updates it when the hash in its action memo differs; leaves it alone
 * when it matches. Keeps an operator's pause (and its note) across an update.
 */
export async function applySchedule(
  client: MendClient,
  scheduleId: string,
  parts: ScheduleParts,
  hash: string,
  owner: string,
): Promise<'created' | 'updated' | 'unchanged'> {
  const handle = client.temporal.schedule.getHandle(scheduleId);
  const current = await handle.describe().catch((err: unknown) => {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  });
  if (!current) {
    await client.temporal.schedule.create({ scheduleId, ...parts, memo: { mendOwner: owner } });
    return 'created';
  }
  const memo = current.action.type === 'startWorkflow' ? current.action.memo : undefined;
  if (memo?.mendSpecHash === hash) return 'unchanged';
  await handle.update((prev) => ({ ...parts, state: { paused: prev.state.paused, note: prev.state.note } }));
  return 'updated';
}

/** Deletes the schedules under `prefix` that `owner` created and `wanted` does not name; returns their ids. */
export async function deleteUnwanted(client: MendClient, prefix: string, owner: string, wanted: ReadonlySet<string>): Promise<string[]> {
  const deleted: string[] = [];
  for (const info of await ownedSchedules(client, owner, prefix)) {
    if (wanted.has(info.scheduleId)) continue;
    await client.temporal.schedule
      .getHandle(info.scheduleId)
      .delete()
      .catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
    deleted.push(info.scheduleId);
  }
  return deleted;
}

/** Ids of the schedules under `prefix` that `owner` created (visibility: a schedule created a moment ago may be missing). */
export async function ownedSchedules(client: MendClient, owner: string, prefix: string): Promise<Array<{ scheduleId: string }>> {
  const out: Array<{ scheduleId: string }> = [];
  for await (const s of client.temporal.schedule.list()) {
    if (s.scheduleId.startsWith(prefix) && s.memo?.mendOwner === owner) out.push({ scheduleId: s.scheduleId });
  }
  return out;
}
