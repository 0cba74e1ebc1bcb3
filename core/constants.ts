/** Names shared by every part of mend: task queue, workflow ids, search attributes. */

export const DEFAULT_TASK_QUEUE = 'mend';
export const DEFAULT_NAMESPACE = 'default';

/**
 * The host of everything a config without `hosts:` names (and of whatever names no host): served by
 * the central worker itself, which also polls this host's queue, so a one-machine setup needs no agent.
 */
export const DEFAULT_HOST = 'local';

/**
 * Memo key a starter sets (to `true`) on a run whose task queue is served by central workers that
 * also serve the default host (workers/main.ts always does; `createMendWorker({ embeddedHost: false })`
 * does not). Such a run schedules the default host's activities on its own queue
 * (workflows/lib/hosts.ts), where the worker that scheduled one can take it at once.
 */
export const DEFAULT_HOST_EMBEDDED_MEMO = 'mendDefaultHostEmbedded';

/** The strict fleet cap on recoveries that are not cheap, when `supervision.maxConcurrentRecoveries` is unset. */
export const DEFAULT_MAX_CONCURRENT_RECOVERIES = 5;

/**
 * How long a host-bound activity may wait for its host's agent to pick it up. Short, so a dead host
 * shows in seconds (the activity fails with a schedule-to-start timeout) instead of work piling up
 * unseen. Not applied to the default host: its poller lives in the central worker, which runs the
 * workflows too, so while it is down nothing waits on it in vain.
 */
export const HOST_PICKUP_TIMEOUT_MS = 15_000;

/**
 * The task queue of a host's agent: `<main queue>/host/<id>`, so `mend/host/<id>` for the default
 * queue, and each test's queue keeps its own hosts.
 */
export function hostTaskQueue(mainQueue: string, host: string): string {
  return `${mainQueue}/host/${host}`;
}

/**
 * Workflow id of a host's outage watch: `mend/host/<id>` on the default queue (the same name as the
 * host's task queue: one per host and main queue).
 */
export function hostWorkflowId(mainQueue: string, host: string): string {
  return hostTaskQueue(mainQueue, host);
}

/** Custom search attributes mend registers on the Temporal server, with their types. */
export const SEARCH_ATTRIBUTES = {
  MendComponents: 'KeywordList',
  MendStrategy: 'Keyword',
  MendPhase: 'Keyword',
  MendOutcome: 'Keyword',
  MendTrigger: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

/** Workflow id of a component's recovery run: one at a time per component. */
export function recoveryWorkflowId(componentId: string): string {
  return `mend/recover/${componentId}`;
}

/**
 * Workflow id of a host runbook's run (`targets: 'host'`): one at a time per host, whichever
 * runbook, as a component has one recovery at a time. Not under `mend/recover/` (a component id
 * could be `host`) nor `mend/host/` (the host's outage watch).
 */
export function hostRunbookWorkflowId(host: string): string {
  return `mend/host-runbook/${host}`;
}

/** Workflow id of an untargeted runbook's run (`targets: 'none'`): one run of each at a time. */
export function runbookWorkflowId(runbook: string): string {
  return `mend/runbook/${runbook}`;
}

export function supervisorWorkflowId(componentId: string): string {
  return `mend/supervisor/${componentId}`;
}

/** The fleet-wide recovery limiter of the supervisors on a task queue. */
export function fleetLimiterWorkflowId(taskQueue: string): string {
  return `mend/fleet/${taskQueue}`;
}

export function backlogWorkflowId(spool: string): string {
  return `mend/backlog/${spool}`;
}

/** Workflow id of one execution of a saga; the request id makes a retried request start it once. */
export function sagaWorkflowId(saga: string, requestId: string): string {
  return `mend/saga/${saga}/${requestId}`;
}

/** Workflow id of the run an escalation starts from `parentId`. */
export function escalationWorkflowId(parentId: string, strategy: string): string {
  return `${parentId}/escalation/${strategy}`;
}

/** A folder name unique to one run (where its state is moved aside): safe characters only. */
export function runKey(workflowId: string, runId: string): string {
  return `${workflowId.replace(/[^\w.-]+/g, '_')}-${runId.slice(0, 8)}`;
}

/** Schedule id of a drill, and the workflow id its runs start with. */
export function drillScheduleId(name: string): string {
  return `mend/drill/${name}`;
}

/** Schedule id of a health-check group, and the workflow id its sweeps start with. */
export function healthScheduleId(group: string): string {
  return `mend/health/${group}`;
}

/**
 * A group too big for one sweep's input is split into parts: part 1 keeps the group's id, the
 * others add `/<part>` (a group name cannot hold a `/`, so no group's id is another's part).
 */
export function healthSchedulePartId(group: string, part: number, host: string = DEFAULT_HOST): string {
  const base = host === DEFAULT_HOST ? healthScheduleId(group) : healthHostScheduleId(group, host);
  return part <= 1 ? base : `${base}/${part}`;
}

/**
 * Schedule id of a group's components on a named host (`mend/health/<group>@<host>`): each host's
 * part of a group has its own schedule, so a lost host stalls only its own sweeps and pausing it
 * stops only its checks. The default host keeps the group's id (a config without hosts is as
 * before). Neither a group nor a host id can hold `@` or `/`, so no two of these ids collide.
 */
export function healthHostScheduleId(group: string, host: string): string {
  return `${healthScheduleId(group)}@${host}`;
}

/**
 * Workflow that holds a health schedule's specs (`mend/health-specs/<group>[@host][/part]`, for
 * `mend/health/<group>[@host][/part]`): its input is that revision's specs, read by the sweeps'
 * activities from its start event once per revision, so a firing carries only the revision.
 */
export function healthSpecsWorkflowId(scheduleId: string): string {
  return `mend/health-specs/${scheduleId.slice(healthScheduleId('').length)}`;
}

/** Link to a run in the Temporal Web UI. */
export function webUiRunUrl(uiBase: string, namespace: string, workflowId: string, runId?: string): string {
  const base = `${uiBase.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}` : base;
}
