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
import type { MendActivities } from '../activities';
import type { NotifyEvent } from '../activities/notify/webhook';
import { fleetLimiterWorkflowId, recoveryWorkflowId } from '../core/constants';
import { STRATEGY_WORKFLOW, type RecoveryInput, type RecoveryResult } from '../core/run';
import { advance, afterRecovery, commitReservation, onConfirmedFailure, releaseReservation, reserveRecovery } from '../core/breaker';
import {
  DESTRUCTIVE_STRATEGIES,
  KEEP_MTTRS,
  KEEP_RECENT,
  advanceBreaker,
  afterTrial,
  breakerDecision,
  initialState,
  nextDetectBackoff,
  heldByRecoveryRun,
  relapsedWithin,
  restartDelay,
  settleRecovery,
  type ProbeReport,
  type RecoveryRecord,
  type SupervisorSpec,
  type SupervisorState,
} from '../core/supervision';
import type { RecoveryRunResult } from '../activities/supervision';
import { permitSignal, releaseSignal } from './fleet-limiter';
import { causeMessage } from './lib/runbook';

// Defined once in core/messages (the client and the sweep send them).
import { pauseSupervisionSignal, reportSignal, resumeSupervisionSignal, supervisorStateQuery } from '../core/messages';
export { pauseSupervisionSignal, reportSignal, resumeSupervisionSignal, supervisorStateQuery };

type RecoveryRun = NonNullable<RecoveryRunResult['run']>;

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
/**
 * Patch: the breaker of ./core/breaker: half-open admits one trial, a relapse within
 * `healthyToClose` reopens it, a recovery is recorded only when its run starts (an unused
 * reservation is released); a recovery counts as succeeded only after `relapseWindow` healthy.
 */
const BREAKER_ONE_TRIAL = 'supervisor-breaker-one-trial';
/**
 * Patch: a confirmed failure while a recovery run this supervisor did not start holds the component
 * (`mend run`, the API, a schedule, an escalation ladder) is that run's doing: waited out, not counted.
 */
const WAIT_OUT_RECOVERY_RUNS = 'supervisor-waits-out-recovery-runs';
/** A failure seen this soon after a recovery run ended may still be that run's stop, noticed late. */
const RUN_END_SLACK_MS = 1_000;
/** A wait for a recovery run renews after this long (a run may wait hours for an approval). */
const RUN_WAIT_MS = 60_000;
const DEFAULT_RELAPSE_WINDOW_MS = 5_000;
const WATCH_MAX_MS = 5 * 60_000;
/** A process exit is seen within this (a pid-file read and a /proc stat read per poll). */
const WATCH_POLL_MS = 100;
const FOREVER = Number.MAX_SAFE_INTEGER;

const probes = proxyActivities<MendActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '200ms', maximumInterval: '5s', maximumAttempts: 3 },
});
const watcher = proxyActivities<MendActivities>({
  startToCloseTimeout: WATCH_MAX_MS + 60_000,
  heartbeatTimeout: '5s',
  retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 5 },
});
const runs = proxyActivities<MendActivities>({
  startToCloseTimeout: RUN_WAIT_MS + 60_000,
  heartbeatTimeout: '10s',
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
  // A reservation lives only within one maybeRecover; one carried in was never used.
  if (state.breaker.reservedAt !== undefined) state.breaker = releaseReservation(state.breaker);
  const relapseWindow = () => sup().relapseWindow ?? DEFAULT_RELAPSE_WINDOW_MS;

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
      .run(() => watcher.watchProcess({ component: spec.component, maxMs: WATCH_MAX_MS, pollMs: WATCH_POLL_MS }))
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
    state.breaker = patched(BREAKER_ONE_TRIAL) ? advance(state.breaker, sup().breaker, now, state.healthySince) : advanceBreaker(state.breaker, sup(), now, state.healthySince);
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
    // Stayed healthy for the relapse window (no failure from before its end waits in the inbox): a success.
    const pending = state.confirming;
    if (pending && state.health === 'healthy' && now >= pending.until && !inbox.some((r) => !r.healthy && Date.parse(r.checkedAt) < pending.until)) {
      state.stats = settleRecovery(state, 'succeeded', now);
      state.confirming = undefined;
    }
  };

  const nextDeadline = (): number | undefined => {
    const { breaker, healthySince } = state;
    const at: number[] = [];
    if (breaker.state === 'open' && breaker.halfOpenAt !== undefined) at.push(breaker.halfOpenAt);
    if (breaker.state === 'half-open' && healthySince !== undefined) at.push(healthySince + sup().breaker.healthyToClose);
    if (state.consecutiveRecoveries > 0 && healthySince !== undefined) at.push(healthySince + sup().backoffResetAfter);
    if (state.pausedUntil !== undefined && state.pausedUntil < FOREVER) at.push(state.pausedUntil);
    // Only set on the BREAKER_ONE_TRIAL branch, so older histories never see this timer.
    if (state.confirming && state.health === 'healthy') at.push(state.confirming.until);
    return at.length > 0 ? Math.min(...at) : undefined;
  };

  /**
   * Starts the supervisor's own recovery and waits for it. `started` is false when none started: a
   * run under that id already holds the component (`busy`, to be waited out once the permit is back).
   */
  const recover = async (oneTrial: boolean): Promise<{ started: boolean; busy?: RecoveryRun }> => {
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
      // Someone else's recovery runs (mend run, the API): it does not count against this
      // supervisor's breaker (on the one-trial branch the caller releases the reservation).
      if (!oneTrial) state.breaker.recoveries = state.breaker.recoveries.slice(0, -1);
      if (patched(WAIT_OUT_RECOVERY_RUNS)) {
        const { run } = await runs.recoveryRun({ workflowId, waitMs: 0 });
        if (run) return { started: false, busy: run };
      }
      // Let it finish, look again after a while. Count afresh afterwards: the next failed check is
      // confirmed again before anything is done.
      state.consecutiveFailures = 0;
      state.held = `a recovery already runs as ${workflowId}`;
      state.ignoreUntil = Date.now() + Math.max(sup().interval, sup().cadence.min);
      return { started: false };
    }
    if (oneTrial) {
      state.breaker = commitReservation(state.breaker, sup().breaker, Date.now());
      // Defensive: a recovery still awaiting confirmation when another starts did not hold.
      if (state.confirming) {
        state.stats = settleRecovery(state, 'relapsed', Date.now());
        state.confirming = undefined;
      }
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
    const trial = oneTrial ? afterRecovery(state.breaker, sup().breaker, Date.now(), recovered) : afterTrial(state.breaker, sup(), Date.now(), recovered);
    state.breaker = trial.breaker;
    if (recovered) {
      const mttr = endedMs - (state.firstFailedAt ?? Date.parse(record.startedAt));
      record.mttrMs = mttr;
      if (oneTrial) {
        // A success once it holds for the relapse window (tick), a relapse if it fails before.
        state.confirming = { runId: record.runId, endedAt: endedMs, until: endedMs + relapseWindow(), mttrMs: mttr };
      } else {
        const s = state.stats;
        s.succeeded += 1;
        s.mttrs = [...s.mttrs, mttr].slice(-KEEP_MTTRS);
        s.lastMttrMs = mttr;
        s.meanMttrMs = Math.round(((s.meanMttrMs ?? 0) * (s.succeeded - 1) + mttr) / s.succeeded);
      }
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
    return { started: true };
  };

  /**
   * Waits until `first`, a recovery run this supervisor did not start, ends, and takes its result
   * as the news: healthy as of its end if it recovered, else unhealthy and counted afresh. Nothing
   * goes to the breaker or the statistics, and no alert: the run reports for itself.
   */
  const waitOut = async (workflowId: string, first: RecoveryRun): Promise<void> => {
    let run = first;
    stopWatch();
    state.health = 'recovering';
    state.held = `recovery ${workflowId} (not started by this supervisor) holds the component: waiting it out`;
    log.info('waiting out a recovery run', { component: id, workflowId, runId: run.runId });
    for (;;) {
      state.waitedOutRunId = run.runId;
      if (!run.running) break;
      const seen = (await runs.recoveryRun({ workflowId, waitMs: RUN_WAIT_MS })).run;
      if (!seen) break;
      run = seen;
    }
    const endedMs = run.endedAt ? Date.parse(run.endedAt) : Date.now();
    // Reports probed before the run ended say nothing about the component now.
    state.lastReportAt = Math.max(state.lastReportAt ?? 0, endedMs);
    state.consecutiveFailures = 0;
    if (run.outcome === 'recovered') {
      state.healthySince = undefined;
      markHealthy(endedMs);
      // The run started a new process: watch that one.
      watchUnavailable = false;
    } else {
      state.health = 'unhealthy';
      state.held = `recovery ${workflowId} (not started by this supervisor) ended ${run.outcome ?? 'without a result'}${run.reason ? `: ${run.reason}` : ''}`;
    }
  };

  /** True when the failure just confirmed is a recovery run's doing (see heldByRecoveryRun); then it was waited out. */
  const waitOutRecoveryRun = async (): Promise<boolean> => {
    const workflowId = recoveryWorkflowId(id);
    const { run } = await runs.recoveryRun({ workflowId, waitMs: 0 });
    if (!run || !heldByRecoveryRun(run, { failedAt: lastFailedCheckAt, ownRunIds: state.stats.recent.map((r) => r.runId), waitedOutRunId: state.waitedOutRunId, slackMs: RUN_END_SLACK_MS })) return false;
    await waitOut(workflowId, run);
    return true;
  };

  /**
   * A confirmed failure that is no recovery run's doing: settles a recovery awaiting confirmation
   * (a relapse if it came within the relapse window) and, half-open after a trial, reopens the
   * breaker (with an alert). True when it reopened: nothing more is done for this failure.
   */
  const noteConfirmedFailure = (): boolean => {
    const failedAt = state.firstFailedAt ?? Date.now();
    const pending = state.confirming;
    if (pending) {
      const relapsed = relapsedWithin(pending, failedAt);
      state.stats = settleRecovery(state, relapsed ? 'relapsed' : 'succeeded', failedAt);
      state.confirming = undefined;
      if (relapsed) log.warn('relapsed after recovery', { component: id, runId: pending.runId, afterMs: failedAt - pending.endedAt });
    }
    tick();
    const relapse = onConfirmedFailure(state.breaker, sup().breaker, Date.now());
    state.breaker = relapse.breaker;
    if (!relapse.opened) return false;
    openedBreaker();
    backOffDetection(`circuit breaker ${state.breaker.state}`);
    return true;
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
    // Before anything counts: a recovery run's own stop and start are not failures.
    if (patched(WAIT_OUT_RECOVERY_RUNS) && (await waitOutRecoveryRun())) return;
    const oneTrial = patched(BREAKER_ONE_TRIAL);
    if (oneTrial && noteConfirmedFailure()) return;
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
      const { waitingFor } = await probes.dependenciesNotReady({ dependencies });
      if (waitingFor.length > 0) {
        state.held = `waiting for ${waitingFor.map((w) => `${w.id} (${w.reason})`).join(', ')}`;
        return;
      }
    }
    tick();
    const decision = oneTrial ? reserveRecovery(state.breaker, sup().breaker, Date.now()) : breakerDecision(state.breaker, sup(), now);
    state.breaker = decision.breaker;
    if (!decision.allow) {
      if (decision.opened) openedBreaker();
      backOffDetection(`circuit breaker ${state.breaker.state}`);
      return;
    }
    // The reservation is recorded when a run starts (recover), and given back on every other way out.
    let started = false;
    let busy: RecoveryRun | undefined;
    try {
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
          const again = await probes.confirmFailure({ component: spec.component, probes: 1, intervalMs: 0 });
          state.lastReportAt = Math.max(state.lastReportAt ?? 0, Date.parse(again.lastAt));
          if (again.healthy) {
            markHealthy(Date.parse(again.lastAt));
            if (!oneTrial) state.breaker.recoveries = state.breaker.recoveries.slice(0, -1);
            return;
          }
        }
        ({ started, busy } = await recover(oneTrial));
      } finally {
        if (permit) await releaseFleetPermit();
      }
    } finally {
      if (oneTrial && !started && state.breaker.reservedAt !== undefined) state.breaker = releaseReservation(state.breaker);
    }
    if (busy) await waitOut(recoveryWorkflowId(id), busy);
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
      const confirmed = await probes.confirmFailure({ component: spec.component, probes: threshold - state.consecutiveFailures, intervalMs: confirmInterval });
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
