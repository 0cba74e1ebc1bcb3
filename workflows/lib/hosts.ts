/**
 * The one way workflows schedule host-bound activities: on the task queue of the host's agent
 * (`<queue>/host/<id>`, see core/hosts.ts for what is host-bound and why), so a process started for
 * a component on host b starts on b, whichever central worker runs the workflow.
 */
import { patched, proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { MendActivities } from '../../activities';
import { DEFAULT_HOST, HOST_PICKUP_TIMEOUT_MS, hostTaskQueue } from '../../core/constants';
import { adapterHost, hostOf } from '../../core/hosts';
import type { Component } from '../../core/schemas';

/**
 * Patch: host-bound activities go to their host's queue. Runs recorded before it scheduled them on
 * the workflow's own queue and keep doing so on replay (and until a supervisor continues as new).
 */
export const HOST_QUEUES_PATCH = 'host-task-queues';

/**
 * Activities bound to `host` (undefined: the default host). On another host than the default, a
 * short schedule-to-start timeout makes a dead agent fail the step in seconds instead of leaving it
 * queued unseen; the caller's options may set their own.
 */
export function hostActivities(host: string | undefined, options: ActivityOptions): MendActivities {
  if (!patched(HOST_QUEUES_PATCH)) return proxyActivities<MendActivities>(options);
  const id = host ?? DEFAULT_HOST;
  return proxyActivities<MendActivities>({
    ...(id === DEFAULT_HOST ? {} : { scheduleToStartTimeout: HOST_PICKUP_TIMEOUT_MS }),
    ...options,
    taskQueue: hostTaskQueue(workflowInfo().taskQueue, id),
  });
}

/** Activities that belong to no host (notifications, the fleet limiter): on the workflow's own queue, served by the central worker. */
export function centralActivities(options: ActivityOptions): MendActivities {
  return proxyActivities<MendActivities>(options);
}

/** A component's adapter actions: on its host, except an http adapter on absolute URLs, which any central worker can call. */
export function adapterActivities(component: Component, options: ActivityOptions): MendActivities {
  const host = adapterHost(component);
  return host === undefined ? centralActivities(options) : hostActivities(host, options);
}

/** Items grouped by host (in first-seen order), so a fan-out activity runs once per host on that host. */
export function byHost<T>(items: readonly T[], hostOfItem: (item: T) => { host?: string }): Array<{ host: string; items: T[] }> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const host = hostOf(hostOfItem(item));
    groups.set(host, [...(groups.get(host) ?? []), item]);
  }
  return [...groups].map(([host, grouped]) => ({ host, items: grouped }));
}
