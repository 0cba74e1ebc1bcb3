/**
 * The fleet at a glance (GET /v1/fleet, the fleet page): each component with its supervisor's view,
 * its running recovery and phase, the hosts, the spools and the runs that need a human, gathered in
 * one pass so the page makes one request per refresh instead of one per component.
 */
import { componentView, hourlyCounts, type Fleet, type FleetComponent, type RunSummary } from '../core/api';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { Component, Config } from '../core/schemas';
import { componentStats, type SupervisorState } from '../core/supervision';
import { BacklogControl } from './backlog';
import { describeHosts } from './hosts';
import { listRuns } from './runs';
import { supervisorState } from './supervisors';
import { isPaused } from '../core/supervisor-machine';
import { RunNotFoundError, type MendClient } from './index';
import { orUnanswered, READ_QUERY_WAIT_MS, spoolUnanswered, UNANSWERED } from './partial-reads';

const iso = (ms: number | undefined) => (ms === undefined || ms >= Number.MAX_SAFE_INTEGER ? undefined : new Date(ms).toISOString());
const DAY_MS = 24 * 3_600_000;
/** Runs of the last 24 h read per refresh: a fleet recovering more than this a day has bigger worries than a chart. */
const DAY_RUNS_LIMIT = 500;
/**
 * How long the page waits for one supervisor's or spool's answer (within the request's deadline).
 * One that is slower (a busy worker) is shown as not answering, and the page still comes back,
 * instead of the whole read waiting out the API's 10 s deadline and answering 503.
 */
export const FLEET_QUERY_WAIT_MS = READ_QUERY_WAIT_MS;

export async function fleetView(mend: MendClient, config: Config, now = Date.now()): Promise<Fleet> {
  const control = new BacklogControl(mend);
  // One visibility query for every running run: the recoveries' phases, and the resets that may wait for approval.
  const running = listRuns(mend, { status: 'running', limit: 500 });
  // The approval checks start as soon as that list is in, beside the supervisors' answers, not after them:
  // in turn, the two waits could add up past the request's deadline on a slow server.
  const recoveriesAndApprovals = running.then(async ({ runs }) => {
    const recoveries = runs.filter((r) => r.workflowId.startsWith('mend/recover/'));
    return { recoveries, approvals: await waitingApprovals(mend, recoveries) };
  });
  const [states, { recoveries, approvals }, needsAttention, lastDay, hosts, spools] = await Promise.all([
    Promise.all(
      config.components.map(async (c) => (c.supervision.enabled ? orUnanswered(supervisorState(mend, c.id, { timeoutMs: FLEET_QUERY_WAIT_MS })) : undefined)),
    ),
    recoveriesAndApprovals,
    listRuns(mend, { outcome: 'needs-attention', since: new Date(now - DAY_MS).toISOString(), limit: 20 }),
    // Every run of the last 24 h (newest first): the recoveries per hour, started by a supervisor or by hand
    // (a supervisor keeps only its last few), and the last one of each component.
    listRuns(mend, { since: new Date(now - DAY_MS).toISOString(), limit: DAY_RUNS_LIMIT }),
    describeHosts(mend, config, now),
    Promise.all(
      config.spools.map(async (s) => {
        try {
          const status = await orUnanswered(control.status(s.name, { timeoutMs: FLEET_QUERY_WAIT_MS }));
          // Running, as far as anyone knows: its entity did not answer in time.
          return status === UNANSWERED ? { spool: s.name, running: true, unanswered: spoolUnanswered(s.name) } : { spool: s.name, running: true, status };
        } catch (err) {
          if (err instanceof RunNotFoundError) return { spool: s.name, running: false };
          throw err;
        }
      }),
    ),
  ]);

  // A dry run (outcome `planned`) recovered nothing: not in the chart, not a last recovery.
  const dayRecoveries = lastDay.runs.filter((r) => r.workflowId.startsWith('mend/recover/') && r.outcome !== 'planned');
  const components = config.components.map((c, i) =>
    componentRow(
      mend,
      c,
      states[i],
      recoveries,
      dayRecoveries.filter((r) => r.components.includes(c.id)),
      now,
    ),
  );
  return {
    generatedAt: new Date(now).toISOString(),
    temporalUi: mend.uiUrl,
    components,
    hosts,
    spools,
    attention: {
      approvals,
      needsAttention: needsAttention.runs.map((r) => ({
        workflowId: r.workflowId,
        runId: r.runId,
        url: r.url,
        components: r.components,
        strategy: r.strategy,
        closeTime: r.closeTime,
      })),
      openBreakers: components.flatMap((c) => (c.breaker && c.breaker.state !== 'closed' ? [{ component: c.id, ...c.breaker }] : [])),
    },
  };
}

type Running = Awaited<ReturnType<typeof listRuns>>['runs'];

function componentRow(
  mend: MendClient,
  c: Component,
  read: SupervisorState | typeof UNANSWERED | undefined,
  recoveries: Running,
  lastDay: Running,
  now: number,
): FleetComponent {
  const state = read === UNANSWERED ? undefined : read;
  // The supervisor's own record of its current run comes first (visibility may lag a just-started run);
  // a run started by hand has only the visibility entry.
  const own = recoveryWorkflowId(c.id);
  const listed = recoveries.find((r) => r.workflowId === own || r.workflowId.startsWith(`${own}/`));
  const fromSupervisor = state?.current;
  const current = fromSupervisor
    ? {
        workflowId: fromSupervisor.workflowId,
        runId: fromSupervisor.runId,
        url: mend.runUrl(fromSupervisor.workflowId, fromSupervisor.runId),
        strategy: fromSupervisor.strategy,
        phase: listed?.workflowId === fromSupervisor.workflowId ? listed.phase : undefined,
        startedAt: fromSupervisor.startedAt,
      }
    : listed && {
        workflowId: listed.workflowId,
        runId: listed.runId,
        url: listed.url,
        strategy: listed.strategy,
        phase: listed.phase,
        startedAt: listed.startTime,
      };
  const recoveries24h = hourlyCounts(
    lastDay.map((r) => r.startTime),
    now,
  );
  // The last recovery that ended: the supervisor's record (with its time to recover), unless a run
  // started by hand ended after it (visibility has that one; no MTTR, nobody measured an outage).
  const byHand = lastDay.find((r) => r.closeTime);
  const fromVisibility = byHand && {
    workflowId: byHand.workflowId,
    runId: byHand.runId,
    url: byHand.url,
    outcome: byHand.outcome ?? byHand.status.toLowerCase(),
    startedAt: byHand.startTime,
    endedAt: byHand.closeTime,
    mttrMs: undefined,
  };
  const base = { ...componentView(c), group: c.supervision.group, recoveries24h };
  if (read === UNANSWERED)
    return {
      ...base,
      health: 'unknown',
      lastDetail: `its supervisor did not answer within ${FLEET_QUERY_WAIT_MS / 1000} s (a busy worker); refresh to try again`,
      current,
      last: fromVisibility,
    };
  if (!state) return { ...base, health: 'unknown', current, last: fromVisibility };

  const finished = state.stats.recent.filter((r) => r.endedAt);
  const mine = finished[finished.length - 1];
  const ownLast = mine && {
    workflowId: mine.workflowId,
    runId: mine.runId,
    url: mend.runUrl(mine.workflowId, mine.runId),
    outcome: mine.outcome,
    startedAt: mine.startedAt,
    endedAt: mine.endedAt,
    mttrMs: mine.mttrMs,
  };
  const handIsNewer = fromVisibility?.endedAt && ownLast?.endedAt && Date.parse(fromVisibility.endedAt) > Date.parse(ownLast.endedAt) + 1_000;
  const last = !ownLast || handIsNewer ? fromVisibility : ownLast;
  const stats = componentStats(state);
  return {
    ...base,
    health: state.health,
    since: iso(state.health === 'healthy' ? state.healthySince : state.health === 'unknown' ? undefined : state.firstFailedAt),
    breaker: {
      state: state.breaker.state,
      reason: state.breaker.reason,
      halfOpenAt: state.breaker.state === 'open' ? iso(state.breaker.halfOpenAt) : undefined,
    },
    supervisor: {
      workflowId: supervisorWorkflowId(c.id),
      url: mend.runUrl(supervisorWorkflowId(c.id)),
      paused: isPaused(state),
      pausedBy: state.pausedBy,
      held: state.held,
    },
    lastFailureClass: state.lastFailureClass,
    lastDetail: state.lastDetail,
    current,
    last,
    mttrP50Ms: stats.mttrP50Ms,
    mttrP95Ms: stats.mttrP95Ms,
  };
}

/**
 * An emergency reset (or a rung of a ladder that escalated to one) is the run that waits for an admin:
 * its progress says whether it waits now. A run that ended meanwhile, or did not answer in time, is not listed.
 */
async function waitingApprovals(mend: MendClient, recoveries: RunSummary[]): Promise<Fleet['attention']['approvals']> {
  const checks = recoveries
    .filter((r) => r.strategy === 'emergency-reset')
    .map(async (r) => {
      const progress = await mend.progress(r.workflowId, undefined, { timeoutMs: FLEET_QUERY_WAIT_MS }).catch(() => undefined);
      if (progress?.approval?.state !== 'waiting') return [];
      return [{ workflowId: r.workflowId, runId: r.runId, url: r.url, components: r.components, strategy: r.strategy, deadline: progress.approval.deadline }];
    });
  return (await Promise.all(checks)).flat();
}
