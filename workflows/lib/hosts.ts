/**
 * The one way workflows schedule host-bound activities: on the task queue of the host's agent
 * (`<queue>/host/<id>`, see core/hosts.ts for what is host-bound and why), so a process started for
 * a component on host b starts on b, whichever central worker runs the workflow. The default host,
 * when the central workers serve it themselves, is the exception: see DEFAULT_HOST_ON_OWN_QUEUE_PATCH.
 */
import { patched, proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { MendActivities } from '../../activities';
import { DEFAULT_HOST, DEFAULT_HOST_EMBEDDED_MEMO, HOST_PICKUP_TIMEOUT_MS, hostTaskQueue } from '../../core/constants';
import { adapterHost, hostOf } from '../../core/hosts';
import type { Component } from '../../core/schemas';

/**
 * Patch: host-bound activities go to their host's queue. Runs recorded before it scheduled them on
 * the workflow's own queue and keep doing so on replay (and until a supervisor continues as new).
 */
export const HOST_QUEUES_PATCH = 'host-task-queues';

/**
 * Patch: the default host's activities go to the workflow's own queue when its starter said the
 * central workers serve the default host themselves (the memo DEFAULT_HOST_EMBEDDED_MEMO): the same
 * processes poll both queues then, and only an activity on the workflow's own queue can be handed
 * straight back to the worker that scheduled it (eager dispatch) instead of going through matching,
 * about 4 × 30 ms per recovery on a loaded box. Without the memo (a starter that does not know, or
 * central workers that leave the default host to an agent), they stay on `<queue>/host/local`.
 */
export const DEFAULT_HOST_ON_OWN_QUEUE_PATCH = 'default-host-on-workflow-queue';

/**
 * True when this run's starter said the workflow's own queue is served by workers that also serve
 * the default host (read from the run's memo: fixed for the run, so replay decides the same).
 */
export function defaultHostEmbedded(): boolean {
  return workflowInfo().memo?.[DEFAULT_HOST_EMBEDDED_MEMO] === true;
}

/**
 * Start options a run hands on to the runs it starts (children, its continuation), so they route as
 * it does; nothing for a run without the memo, whose commands stay exactly as they were.
 */
export function carriedOn(): { memo?: Record<string, unknown> } {
  return defaultHostEmbedded() ? { memo: { [DEFAULT_HOST_EMBEDDED_MEMO]: true } } : {};
}

/**
 * Activities bound to `host` (undefined: the default host). On another host than the default, a
 * short schedule-to-start timeout makes a dead agent fail the step in seconds instead of leaving it
 * queued unseen; the caller's options may set their own. `lasting`: an activity that holds its slot
 * for minutes (the pid watch) stays on the host's queue even for the default host, so a thousand
 * watches fill the default host's slots, not those of the central worker's own queue.
 */
export function hostActivities(host: string | undefined, options: ActivityOptions, { lasting = false } = {}): MendActivities {
  if (!patched(HOST_QUEUES_PATCH)) return proxyActivities<MendActivities>(options);
  const id = host ?? DEFAULT_HOST;
  if (id === DEFAULT_HOST && !lasting && defaultHostEmbedded() && patched(DEFAULT_HOST_ON_OWN_QUEUE_PATCH)) return proxyActivities<MendActivities>(options);
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
