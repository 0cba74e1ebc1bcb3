/** Reading and steering component supervisors (`mend/supervisor/<component>`): state, stats, pause. */
import { WorkflowNotFoundError } from '@temporalio/client';
import { mapConnectionError, RunRefusedError, type MendClient } from './index';
import { supervisorWorkflowId } from '../core/constants';
import { breakerResetUpdate, pauseSupervisionSignal, resumeSupervisionSignal, supervisorStateQuery } from '../core/messages';
import type { BreakerResetRequest } from '../core/breaker';
import type { Config } from '../core/schemas';
import type { BreakerResetResult, SupervisorView } from '../core/api';
import { componentStats, fleetStats, type FleetStats, type SupervisorState } from '../core/supervision';
import { isPaused } from '../core/supervisor-machine';
import { orUnanswered, requireReachable, UNANSWERED } from './partial-reads';

/**
 * A supervisor's state, or undefined when the component has none (never reported, or ended).
 * `timeoutMs` bounds the wait for its answer within the caller's deadline (TemporalTimeoutError after it).
 */
export async function supervisorState(client: MendClient, componentId: string, opts: { timeoutMs?: number } = {}): Promise<SupervisorState | undefined> {
  try {
    return await client.query(supervisorWorkflowId(componentId), supervisorStateQuery, opts);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    // Temporal down, or not answering within the caller's deadline, is said as such (the API's 503), not as a broken supervisor.
    const unreachable = mapConnectionError(err);
    if (unreachable !== err) throw unreachable;
    // The server's reason (no worker answered, a failed workflow task) is in the cause.
    const cause = (err as Error & { cause?: { details?: string } }).cause?.details;
    throw new Error(`cannot read the supervisor of ${componentId}: ${(err as Error).message}${cause ? ` (${cause})` : ''}`);
  }
}

/**
 * Per-component and fleet-wide recovery statistics of the config's components, from their supervisors.
 * With `timeoutMs`, each supervisor gets that long to answer (within the caller's deadline), and one
 * that does not is listed in `unanswered` (a partial answer, client/partial-reads.ts) instead of failing the read.
 */
export async function supervisionStats(client: MendClient, config: Config, opts: { timeoutMs?: number } = {}): Promise<FleetStats> {
  const ids = config.components.filter((c) => c.supervision.enabled).map((c) => c.id);
  const read = (id: string) => supervisorState(client, id, opts);
  const states = await Promise.all(
    ids.map(async (id): Promise<{ id: string; state: SupervisorState | undefined | typeof UNANSWERED }> => ({
      id,
      state: opts.timeoutMs === undefined ? await read(id) : await orUnanswered(read(id)),
    })),
  );
  const answered = states.flatMap(({ state }) => (state === undefined || state === UNANSWERED ? [] : [state]));
  const unanswered = states.filter((s) => s.state === UNANSWERED).map((s) => s.id);
  if (unanswered.length === states.length && unanswered.length > 0) await requireReachable(client);
  const stats: FleetStats = {
    ...fleetStats(
      answered,
      states.filter((s) => !s.state).map((s) => s.id),
    ),
    ...(unanswered.length > 0 ? { unanswered } : {}),
  };
  const strategy = new Map(config.components.map((c) => [c.id, c.policy.strategy]));
  for (const c of stats.components) c.strategy = strategy.get(c.component);
  return stats;
}

/** Holds auto-recovery of a component (for `forMs`, or until resumed). */
export async function pauseSupervisor(client: MendClient, componentId: string, by: string, forMs?: number): Promise<void> {
  client.queries.forget(supervisorWorkflowId(componentId));
  await client.temporal.workflow.getHandle(supervisorWorkflowId(componentId)).signal(pauseSupervisionSignal, { by, forMs });
}

export async function resumeSupervisor(client: MendClient, componentId: string, by: string): Promise<void> {
  client.queries.forget(supervisorWorkflowId(componentId));
  await client.temporal.workflow.getHandle(supervisorWorkflowId(componentId)).signal(resumeSupervisionSignal, { by });
}

/**
 * Closes the component's breaker by hand: its supervisor records who and why in its history and
 * checks the component at once. RunRefusedError when the component has no running supervisor.
 */
export async function resetBreaker(client: MendClient, componentId: string, req: BreakerResetRequest): Promise<BreakerResetResult> {
  const workflowId = supervisorWorkflowId(componentId);
  const handle = client.temporal.workflow.getHandle(workflowId);
  client.queries.forget(workflowId);
  try {
    return await handle.executeUpdate(breakerResetUpdate, { args: [req] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { cause?: unknown }).cause instanceof WorkflowNotFoundError)
      throw new RunRefusedError(`${componentId} has no running supervisor (${workflowId}): not supervised, or no health sweep has reported it yet`);
    throw mapConnectionError(err);
  }
}

const iso = (ms: number | undefined) => (ms === undefined || ms >= Number.MAX_SAFE_INTEGER ? undefined : new Date(ms).toISOString());

/** What a supervisor holds now, as the API and `mend components` show it (times as ISO). */
export function supervisorView(state: SupervisorState): SupervisorView {
  return {
    workflowId: supervisorWorkflowId(state.component),
    health: state.health,
    consecutiveFailures: state.consecutiveFailures,
    threshold: state.threshold,
    breaker: {
      state: state.breaker.state,
      reason: state.breaker.reason,
      halfOpenAt: state.breaker.state === 'open' ? iso(state.breaker.halfOpenAt) : undefined,
      lastReset: state.lastBreakerReset,
    },
    current: state.current && { workflowId: state.current.workflowId, strategy: state.current.strategy, startedAt: state.current.startedAt },
    paused: isPaused(state),
    pausedUntil: iso(state.pausedUntil),
    pausedBy: state.pausedBy,
    drainedHost: state.drainedHost,
    held: state.held,
    lastFailureClass: state.lastFailureClass,
    lastDetail: state.lastDetail,
    stats: componentStats(state),
  };
}
