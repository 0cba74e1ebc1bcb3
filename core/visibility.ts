/** Temporal visibility queries for mend's runs, built from already-validated filters. */
import { recoveryWorkflowId } from './constants';
import type { RunListQuery } from './api';

/** A string literal for a visibility query: JSON quoting escapes quotes and backslashes. */
export function queryLiteral(value: string): string {
  return JSON.stringify(value);
}

/**
 * `WorkflowId STARTS_WITH "mend/" AND TaskQueue = "..." AND MendComponents = "api" ...`: mend's runs on
 * this task queue, narrowed by each filter given.
 */
export function runListQuery(filter: Omit<RunListQuery, 'limit'>, taskQueue: string): string {
  const clauses = [`WorkflowId STARTS_WITH ${queryLiteral('mend/')}`, `TaskQueue = ${queryLiteral(taskQueue)}`];
  if (filter.component) clauses.push(`MendComponents = ${queryLiteral(filter.component)}`);
  if (filter.strategy) clauses.push(`MendStrategy = ${queryLiteral(filter.strategy)}`);
  if (filter.phase) clauses.push(`MendPhase = ${queryLiteral(filter.phase)}`);
  if (filter.outcome) clauses.push(`MendOutcome = ${queryLiteral(filter.outcome)}`);
  if (filter.trigger) clauses.push(`MendTrigger = ${queryLiteral(filter.trigger)}`);
  if (filter.status === 'running') clauses.push(`ExecutionStatus = "Running"`);
  if (filter.status === 'closed') clauses.push(`ExecutionStatus != "Running"`);
  if (filter.since) clauses.push(`StartTime >= ${queryLiteral(new Date(filter.since).toISOString())}`);
  return clauses.join(' AND ');
}

/** True for the run of a host runbook (`mend/host-runbook/<host>`) or an untargeted one (`mend/runbook/<name>`). */
export function isTargetedRunId(workflowId: string): boolean {
  return /^mend\/(?:host-runbook|runbook)\//.test(workflowId);
}

/** A path's run: a workflow id as given, or a bare component id meaning its recovery run. */
export function workflowIdOf(id: string): string {
  return id.startsWith('mend/') ? id : recoveryWorkflowId(id);
}

/**
 * The component a workflow id names by itself (`mend/recover/<c>` and its escalation rungs,
 * `mend/supervisor/<c>`); undefined for runs whose components are only in their search attributes.
 */
export function componentOfWorkflowId(workflowId: string): string | undefined {
  return /^mend\/(?:recover|supervisor)\/([a-z0-9][a-z0-9_-]{0,62})(?:\/|$)/.exec(workflowId)?.[1];
}
