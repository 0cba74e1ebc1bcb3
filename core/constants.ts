/** Names shared by every part of mend: task queue, workflow ids, search attributes. */

export const DEFAULT_TASK_QUEUE = 'mend';
export const DEFAULT_NAMESPACE = 'default';

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

export function supervisorWorkflowId(componentId: string): string {
  return `mend/supervisor/${componentId}`;
}

export function backlogWorkflowId(spool: string): string {
  return `mend/backlog/${spool}`;
}

export function healthScheduleId(group: string): string {
  return `mend/health/${group}`;
}

/** Link to a run in the Temporal Web UI. */
export function webUiRunUrl(uiBase: string, namespace: string, workflowId: string, runId?: string): string {
  const base = `${uiBase.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}` : base;
}
