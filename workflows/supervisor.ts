/**
 * The supervisor of one component (`mend/supervisor/<component>`): a long-lived entity that turns
 * probe reports (from health sweeps and its own pid watch) into at most one recovery at a time,
 * behind a startup grace, fast confirmation, a restart backoff, a circuit breaker, a fleet-wide cap
 * and a pause. Its state (and statistics) survive worker crashes and continue-as-new.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  CancellationScope,
  ParentClosePolicy,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { DependenciesResult, MendActivities } from '../activities';
import type { NotifyEvent } from '../activities/notify/webhook';
import { fleetLimiterWorkflowId, recoveryWorkflowId } from '../core/constants';
import { STRATEGY_WORKFLOW, type RecoveryInput, type RecoveryResult } from '../core/run';
import type { Component } from '../core/schemas';
import {
  DESTRUCTIVE_STRATEGIES,
  KEEP_MTTRS,
  KEEP_RECENT,
  advanceBreaker,
  afterTrial,
  breakerDecision,
  initialState,
  nextDetectBackoff,
  restartDelay,
  type ProbeReport,
  type RecoveryRecord,
  type SupervisorSpec,
  type SupervisorState,
} from '../core/supervision';
import { permitSignal, releaseSignal } from './fleet-limiter';
import { byHost, HOST_QUEUES_PATCH, hostActivities } from './lib/hosts';
import { causeMessage } from './lib/runbook';

export const reportSignal = defineSignal<[ProbeReport]>('report');
export const supervisorStateQuery = defineQuery<SupervisorState>('state');
/** Same names as a run's pause/resume, so `mend pause mend/supervisor/api` works; `forMs` pauses for a while. */
export const pauseSupervisionSignal = defineSignal<[{ by?: string; reason?: string; forMs?: number }?]>('pause');
export const resumeSupervisionSignal = defineSignal<[{ by?: string }?]>('resume');

export interface SupervisorInput {
  spec: SupervisorSpec;
  /** Carried across continue-as-new. */
  state?: SupervisorState;
  pending?: ProbeReport[];
  /** Continue as new after this many history events (default 10,000; tests use less). */
  historyLimit?: number;
}

/** Patch: a supervisor holds a recovery while a dependency is unhealthy or being recovered. */
const HOLD_FOR_DEPENDENCIES = 'supervisor-holds-for-dependencies';
/** Patch: the fleet permit goes back by a signal from the workflow instead of an activity. */
const RELEASE_BY_SIGNAL = 'supervisor-releases-permit-by-signal';
/** Patch: fresh failure reports waiting in the inbox count as evidence, so no extra probe before acting. */
const INBOX_EVIDENCE = 'supervisor-inbox-failures-are-evidence';
const WATCH_MAX_MS = 5 * 60_000;
/** A process exit is seen within this (a pid-file read and a /proc stat read per poll). */
const WATCH_POLL_MS = 100;
const FOREVER = Number.MAX_SAFE_INTEGER;

/** Confirmation probes and the pid watch run on the component's (or dependency's) host: see workflows/lib/hosts.ts. */
const probes = (where: { host?: string }) =>
  hostActivities(where.host, {
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '30s',
    retry: { initialInterval: '200ms', maximumInterval: '5s', maximumAttempts: 3 },
  });
const watcher = (where: { host?: string }) =>
  hostActivities(where.host, {
    startToCloseTimeout: WATCH_MAX_MS + 60_000,
    heartbeatTimeout: '5s',
    retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 5 },
  });
const fleet = proxyActivities<MendActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 3 } });
const alerts = proxyActivities<MendActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 } });

/**
 * Runs until terminated. Reports arrive by the `report` signal (signal-with-start from the sweep);
 * `state` answers with everything it holds; `pause`/`resume` hold and release auto-recovery.
 * Recoveries start as children `mend/recover/<component>` (ABANDON: a supervisor's end never
 * cancels a recovery); a run already going under that id (e.g. started by hand) is waited out, never doubled.
 */
export async function supervisor(input: SupervisorInput): Promise<void> {
  let spec = input.spec;
  const id = spec.component.id;
  const sup = () => spec.component.supervision;
  const state: SupervisorState = input.state ?? initialState(id, sup(), Date.now());
  const inbox: ProbeReport[] = [...(input.pending ?? [])];
  const historyLimit = input.historyLimit ?? 10_000;

  let permitted = false;
  /** When a check last failed (ms): evidence older than a moment is checked again before a delayed recovery. */
  let lastFailedCheckAt = 0;
  setHandler(reportSignal, (report) => void inbox.push(report));
  setHandler(permitSignal, ({ component }) => {
    if (component === id) permitted = true;
  });
  setHandler(supervisorStateQuery, () => state);
  setHandler(pauseSupervisionSignal, (req) => {
    state.pausedUntil = req?.forMs ? Date.now() + req.forMs : FOREVER;
    state.pausedBy = req?.by;
  });
  setHandler(resumeSupervisionSignal, () => {
    state.pausedUntil = undefined;
    state.pausedBy = undefined;
    // A failure held by the pause may be acted on at the next report.
    state.ignoreUntil = undefined;
    state.detectBackoffMs = 0;
  });

  const notify = (event: Omit<NotifyEvent, 'component'>) => {
    const webhook = spec.notify?.webhook;
    if (!webhook) return;
    // Not awaited: an alert never holds up detection or a recovery.
    void alerts.notifyWebhook({ url: webhook, timeoutMs: spec.notify?.timeoutMs ?? 5_000, event: { ...event, component: id } }).catch(() => undefined);
  };

  let watch: { scope: CancellationScope; promise: Promise<void> } | undefined;
  /** Set when the pid file names no process: the watch waits for a recovery to write one. */
  let watchUnavailable = false;
  /** Set when a watch ends without news, so the loop wakes to renew it. */
  let renewWatch = false;
  const stopWatch = () => {
    watch?.scope.cancel();
    watch = undefined;
  };
  const startWatch = () => {
    if (watch || watchUnavailable || spec.component.adapter.type !== 'process' || state.health !== 'healthy' || state.current) return;
    const scope = new CancellationScope();
    const promise = scope
      .run(() => watcher(spec.component).watchProcess({ component: spec.component, maxMs: WATCH_MAX_MS, pollMs: WATCH_POLL_MS }))
      .then(
        (seen) => {
          if (watch?.scope === scope) watch = undefined;
          if (!seen.exited) {
            renewWatch = true;
            return;
          }
          if (/pid file missing/.test(seen.detail)) {
            watchUnavailable = true;
            return;
          }
          inbox.push({ healthy: false, failureClass: 'unknown', detail: `process exited (${seen.detail})`, checkedAt: seen.at, source: 'watch' });
        },
        (err: unknown) => {
          if (watch?.scope === scope) watch = undefined;
          if (isCancellation(err)) return;
          // Its own retries are spent (seconds apart): try a fresh watch rather than none until the next report.
          log.warn('pid watch failed', { component: id, error: causeMessage(err) });
          renewWatch = true;
        },
      );
    watch = { scope, promise };
  };

  const markHealthy = (atMs: number) => {
    state.health = 'healthy';
    state.consecutiveFailures = 0;
    state.detectBackoffMs = 0;
    state.ignoreUntil = undefined;
    state.firstFailedAt = undefined;
    state.healthySince ??= atMs;
    state.held = undefined;
  };

  const backOffDetection = (why: string) => {
    state.held = why;
    state.detectBackoffMs = nextDetectBackoff(state.detectBackoffMs, sup());
    state.ignoreUntil = Date.now() + state.detectBackoffMs;
  };

  /** Time-driven moves: breaker cool-down and close, restart backoff reset, pause expiry. */
  const tick = () => {
    const now = Date.now();
    const before = state.breaker.state;
    state.breaker = advanceBreaker(state.breaker, sup(), now, state.healthySince);
    if (before === 'open' && state.breaker.state === 'half-open') {
      log.info('breaker half-open: one trial recovery allowed', { component: id });
      state.ignoreUntil = undefined;
      state.detectBackoffMs = 0;
    }
    if (before !== 'closed' && state.breaker.state === 'closed') {
      log.info('breaker closed', { component: id });
      notify({ kind: 'breaker-closed', text: `${id}: circuit breaker closed (${state.breaker.reason})` });
    }
    if (state.consecutiveRecoveries > 0 && state.healthySince !== undefined && now - state.healthySince >= sup().backoffResetAfter) state.consecutiveRecoveries = 0;
    if (state.pausedUntil !== undefined && now >= state.pausedUntil) {
      state.pausedUntil = undefined;
      state.pausedBy = undefined;
    }
  };

  const nextDeadline = (): number | undefined => {
    const { breaker, healthySince } = state;
    const at: number[] = [];
    if (breaker.state === 'open' && breaker.halfOpenAt !== undefined) at.push(breaker.halfOpenAt);
    if (breaker.state === 'half-open' && healthySince !== undefined) at.push(healthySince + sup().breaker.healthyToClose);
    if (state.consecutiveRecoveries > 0 && healthySince !== undefined) at.push(healthySince + sup().backoffResetAfter);
    if (state.pausedUntil !== undefined && state.pausedUntil < FOREVER) at.push(state.pausedUntil);
    return at.length > 0 ? Math.min(...at) : undefined;
  };

  const recover = async (): Promise<void> => {
    const component = spec.component;
    const strategy = component.policy.strategy;
    const workflowId = recoveryWorkflowId(id);
    const reason = `${state.consecutiveFailures} failed checks (${state.lastFailureClass ?? 'unknown'}): ${state.lastDetail ?? ''}`;
    // The failure just confirmed goes along, so the run acts at once instead of probing again.
    const observed = { healthy: false, failureClass: state.lastFailureClass, detail: state.lastDetail ?? '', latencyMs: 0 };
    const recoveryInput: RecoveryInput = { component, trigger: 'schedule', requestedBy: 'supervisor', reason, related: spec.related, observed };
    stopWatch();
    let handle;
    try {
      handle = await startChild(STRATEGY_WORKFLOW[strategy], {
        workflowId,
        args: [recoveryInput],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `recover ${id} (${strategy}, started by its supervisor)`,
        staticDetails: reason,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Someone else's recovery runs (mend run, the API): let it finish, look again after a while.
      // It does not count against this supervisor's breaker.
      state.breaker.recoveries = state.breaker.recoveries.slice(0, -1);
      // Count afresh afterwards: the next failed check is confirmed again before anything is done.
      state.consecutiveFailures = 0;
      state.held = `a recovery already runs as ${workflowId}`;
      state.ignoreUntil = Date.now() + Math.max(sup().interval, sup().cadence.min);
      return;
    }
    const record: RecoveryRecord = { workflowId, runId: handle.firstExecutionRunId, strategy, startedAt: new Date().toISOString() };
    state.current = record;
    state.health = 'recovering';
    state.held = undefined;
    state.stats.attempted += 1;
    state.consecutiveRecoveries += 1;
    log.info('recovery started', { component: id, workflowId, strategy, reason });

    let result: RecoveryResult | undefined;
    try {
      result = (await handle.result()) as RecoveryResult;
    } catch (err) {
      record.reason = causeMessage(err);
    }
    const endedMs = result ? Date.parse(result.endedAt) : Date.now();
    const recovered = result?.outcome === 'recovered';
    record.endedAt = new Date(endedMs).toISOString();
    record.outcome = result?.outcome ?? 'failed';
    record.reason ??= result?.reason;
    // Reports probed before the recovery ended say nothing about the component now.
    state.lastReportAt = Math.max(state.lastReportAt ?? 0, endedMs);
    const trial = afterTrial(state.breaker, sup(), Date.now(), recovered);
    state.breaker = trial.breaker;
    if (recovered) {
      const mttr = endedMs - (state.firstFailedAt ?? Date.parse(record.startedAt));
      record.mttrMs = mttr;
      const s = state.stats;
      s.succeeded += 1;
      s.mttrs = [...s.mttrs, mttr].slice(-KEEP_MTTRS);
      s.lastMttrMs = mttr;
      s.meanMttrMs = Math.round(((s.meanMttrMs ?? 0) * (s.succeeded - 1) + mttr) / s.succeeded);
      state.healthySince = undefined;
      markHealthy(endedMs);
      watchUnavailable = false;
      log.info('recovered', { component: id, workflowId, mttrMs: mttr });
    } else {
      state.stats.failed += 1;
      state.health = 'unhealthy';
      log.warn('recovery did not recover the component', { component: id, workflowId, outcome: record.outcome, reason: record.reason });
      notify({ kind: 'recovery-failed', text: `${id}: recovery ${workflowId} ended ${record.outcome}${record.reason ? `: ${record.reason}` : ''}`, details: { workflowId, runId: record.runId } });
    }
    if (trial.opened) openedBreaker();
    state.stats.recent = [...state.stats.recent, record].slice(-KEEP_RECENT);
    state.current = undefined;
  };

  const openedBreaker = () => {
    state.stats.breakerOpened += 1;
    const text = `${id}: circuit breaker OPEN (${state.breaker.reason}); no automatic recovery until ${new Date(state.breaker.halfOpenAt ?? 0).toISOString()}`;
    log.error(text, { component: id });
    notify({ kind: 'breaker-open', text, details: { reason: state.breaker.reason } });
  };

  /** Waits for a permit of the fleet limiter when the fleet caps recoveries; true when one is held. */
  const takeFleetPermit = async (): Promise<boolean> => {
    const max = spec.maxConcurrentRecoveries;
    if (!max) return false;
    permitted = false;
    state.held = `waiting for a fleet permit (at most ${max} recoveries at once)`;
    await fleet.requestFleetPermit({
      taskQueue: workflowInfo().taskQueue,
      component: id,
      supervisorId: workflowInfo().workflowId,
      max,
      destructive: DESTRUCTIVE_STRATEGIES.includes(spec.component.policy.strategy),
      maxDestructivePerMinute: spec.maxDestructivePerMinute,
    });
    await condition(() => permitted);
    return true;
  };

  const releaseFleetPermit = async () => {
    const { taskQueue } = workflowInfo();
    // A signal straight to the limiter hands the permit on without an activity's round trip
    // through the task queue, which in a mass outage is queued behind everything else.
    const released = patched(RELEASE_BY_SIGNAL)
      ? getExternalWorkflowHandle(fleetLimiterWorkflowId(taskQueue)).signal(releaseSignal, { component: id })
      : fleet.releaseFleetPermit({ taskQueue, component: id });
    await released.catch((err: unknown) => log.warn('fleet permit not released', { component: id, error: causeMessage(err) }));
  };

  const maybeRecover = async (failureClass: ProbeReport['failureClass']): Promise<void> => {
    const now = Date.now();
    if (now < state.graceUntil) {
      state.held = `startup grace until ${new Date(state.graceUntil).toISOString()}`;
      return;
    }
    if (failureClass === 'auth') {
      if (state.held?.startsWith('auth') !== true) notify({ kind: 'auth-failure', text: `${id}: probe fails with an auth error; a restart does not fix credentials, not recovering`, details: { detail: state.lastDetail } });
      backOffDetection('auth failure: a restart does not fix credentials');
      return;
    }
    if (state.pausedUntil !== undefined && now < state.pausedUntil) {
      backOffDetection(`paused${state.pausedBy ? ` by ${state.pausedBy}` : ''}`);
      return;
    }
    // Nothing is restarted before what it depends on is healthy: a dependent started without its
    // dependency comes up broken, and a dependency's recovery may restart its dependents itself.
    // Held without a detection backoff: the next failure report looks again, so the component is
    // recovered within one check interval of its dependencies being ready.
    const dependencies = spec.dependencies ?? [];
    if (dependencies.length > 0 && patched(HOLD_FOR_DEPENDENCIES)) {
      const waitingFor = await dependenciesNotReady(dependencies);
      if (waitingFor.length > 0) {
        state.held = `waiting for ${waitingFor.map((w) => `${w.id} (${w.reason})`).join(', ')}`;
        return;
      }
    }
    tick();
    const decision = breakerDecision(state.breaker, sup(), now);
    state.breaker = decision.breaker;
    if (!decision.allow) {
      if (decision.opened) openedBreaker();
      backOffDetection(`circuit breaker ${state.breaker.state}`);
      return;
    }
    const delay = restartDelay(state.consecutiveRecoveries, sup());
    if (delay > 0) {
      state.held = `restart backoff ${delay}ms`;
      await sleep(delay);
    }
    const permit = await takeFleetPermit();
    try {
      // Healthy again while waiting (fixed by hand, or it came back): nothing to recover.
      if (inbox.some((r) => r.healthy && Date.parse(r.checkedAt) > (state.lastReportAt ?? 0))) return;
      // Failure reports that arrived while waiting (the sweep goes on checking) are evidence too.
      const evidenceAt = patched(INBOX_EVIDENCE) ? Math.max(lastFailedCheckAt, ...inbox.filter((r) => !r.healthy).map((r) => Date.parse(r.checkedAt))) : lastFailedCheckAt;
      if (Date.now() - evidenceAt > Math.max(1_000, 4 * sup().confirmInterval)) {
        // The evidence went stale while waiting: one more look before acting.
        const again = await probes(spec.component).confirmFailure({ component: spec.component, probes: 1, intervalMs: 0 });
        state.lastReportAt = Math.max(state.lastReportAt ?? 0, Date.parse(again.lastAt));
        if (again.healthy) {
          markHealthy(Date.parse(again.lastAt));
          state.breaker.recoveries = state.breaker.recoveries.slice(0, -1);
          return;
        }
      }
      await recover();
    } finally {
      if (permit) await releaseFleetPermit();
    }
  };

  const handleFailure = async (report: ProbeReport): Promise<void> => {
    const checkedMs = Date.parse(report.checkedAt);
    lastFailedCheckAt = checkedMs;
    state.health = state.health === 'recovering' ? state.health : 'unhealthy';
    state.healthySince = undefined;
    state.lastFailureClass = report.failureClass;
    state.lastDetail = report.detail;
    state.firstFailedAt ??= checkedMs;
    state.stats.recentFailures = [...state.stats.recentFailures, { at: report.checkedAt, failureClass: report.failureClass, detail: report.detail }].slice(-KEEP_RECENT);
    if (state.ignoreUntil !== undefined && Date.now() < state.ignoreUntil) return;
    const { failuresBeforeRecovery: threshold, confirmInterval } = sup();
    state.threshold = threshold;
    // A pid seen gone is certain; a failed probe is confirmed quickly before anything is done.
    // A sweep's overlapping probes of a slow component may stand for several failures at once.
    state.consecutiveFailures = report.source === 'watch' ? Math.max(threshold, state.consecutiveFailures + 1) : state.consecutiveFailures + Math.max(1, report.failures ?? 1);
    if (state.consecutiveFailures < threshold) {
      const confirmed = await probes(spec.component).confirmFailure({ component: spec.component, probes: threshold - state.consecutiveFailures, intervalMs: confirmInterval });
      state.lastReportAt = Math.max(state.lastReportAt ?? 0, Date.parse(confirmed.lastAt));
      if (confirmed.healthy) {
        markHealthy(Date.parse(confirmed.lastAt));
        return;
      }
      state.consecutiveFailures += confirmed.failures;
      lastFailedCheckAt = Date.parse(confirmed.lastAt);
      state.lastFailureClass = confirmed.last.failureClass;
      state.lastDetail = confirmed.last.detail;
    }
    if (state.consecutiveFailures >= threshold) await maybeRecover(state.lastFailureClass);
  };

  for (;;) {
    tick();
    startWatch();
    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength > historyLimit) && !state.current) {
      stopWatch();
      await continueAsNew<typeof supervisor>({ spec, state: { ...state, generation: state.generation + 1 }, pending: inbox.splice(0), historyLimit: input.historyLimit });
    }
    const deadline = nextDeadline();
    await condition(() => inbox.length > 0 || renewWatch, deadline === undefined ? undefined : Math.max(1, deadline - Date.now()));
    renewWatch = false;
    tick();

    const reports = inbox.splice(0).sort((a, b) => Date.parse(a.checkedAt) - Date.parse(b.checkedAt));
    for (const report of reports) {
      if (report.spec) spec = report.spec;
      const checkedMs = Date.parse(report.checkedAt);
      // Duplicates (a retried sweep) and reports older than what is known are dropped.
      if (checkedMs <= (state.lastReportAt ?? 0)) continue;
      state.lastReportAt = checkedMs;
      if (report.healthy) {
        if (state.health !== 'healthy') log.info('healthy', { component: id, source: report.source });
        markHealthy(checkedMs);
      } else {
        await handleFailure(report);
      }
    }
  }
}

/** Which dependencies are not ready, each probed from its own host (one activity per host, at once). */
async function dependenciesNotReady(dependencies: Component[]): Promise<DependenciesResult['waitingFor']> {
  if (!patched(HOST_QUEUES_PATCH)) return (await probes({}).dependenciesNotReady({ dependencies })).waitingFor;
  const found = await Promise.all(byHost(dependencies, (dep) => dep).map(({ host, items }) => probes({ host }).dependenciesNotReady({ dependencies: items })));
  return found.flatMap((f) => f.waitingFor);
}
