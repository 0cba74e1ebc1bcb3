/**
 * The hosts of a config and whether their agents are there, from Temporal's own view of the pollers
 * on each host's activity task queue (DescribeTaskQueue): identity and when each last polled.
 */
import { temporal } from '@temporalio/proto';
import { hostTaskQueue } from '../core/constants';
import { hostStatuses, type HostStatus, type Poller } from '../core/host-status';
import type { Config } from '../core/schemas';
import { mapConnectionError, type MendClient } from './index';

/** The pollers Temporal knows on `host`'s queue (recent ones, live or not). */
export async function hostPollers(client: MendClient, host: string): Promise<Poller[]> {
  try {
    const res = await client.temporal.workflowService.describeTaskQueue({
      namespace: client.namespace,
      taskQueue: { name: hostTaskQueue(client.taskQueue, host), kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    return (res.pollers ?? []).map((p) => ({ identity: p.identity ?? '', lastAccessTime: timestampIso(p.lastAccessTime) }));
  } catch (err) {
    throw mapConnectionError(err);
  }
}

/** Every host of `config` with its agent up or down, last seen, version and component count. */
export async function describeHosts(client: MendClient, config: Pick<Config, 'hosts' | 'components'>, now = Date.now()): Promise<HostStatus[]> {
  const ids = hostStatuses(
    config,
    () => [],
    (h) => h,
    now,
  ).map((h) => h.id);
  const pollers = new Map(await Promise.all(ids.map(async (id) => [id, await hostPollers(client, id)] as const)));
  return hostStatuses(
    config,
    (id) => pollers.get(id) ?? [],
    (id) => hostTaskQueue(client.taskQueue, id),
    now,
  );
}

function timestampIso(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}
