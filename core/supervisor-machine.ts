/**
 * The decisions of a component's supervisor as a pure state machine: no I/O, no clock, no Temporal.
 * Events go in (a report, a probe's answer, a recovery run seen, started or ended, a permit, the
 * wake-up of its timer, pause and resume); the new state and intents come out (confirm with N more
 * probes, look for a recovery run, check the dependencies, sleep out the restart backoff, ask a
 * fleet permit, start a recovery, notify, watch the pid, continue as new). workflows/supervisor.ts
 * carries the intents out and feeds what came of them back in as events; it decides nothing.
 *
 * Only one thing is in flight at a time (`pass.stage` says what it waits for). The one intent per
 * decision that needs an answer comes last; `notify`, `log`, `watch` and `stop-watch` before it are
 * carried out at once, in order (so the workflow issues its commands in the order it always did).
 *
 * Replay: behaviour that changed under a running supervisor sits behind a `patched()` marker in its
 * history. The machine asks for such a flag (a `patched` answer instead of a machine) at exactly the
 * point the workflow called `patched()` before the machine existed; the workflow calls it there
 * (the marker lands where it always did) and decides the same event again with the answer known.
 */
import { advance, afterRecovery, commitReservation, onConfirmedFailure, releaseReservation, reserveRecovery, resetBreaker } from './breaker';
import { recoveryWorkflowId } from './constants';
import type { FailureClass } from './failure';
import type { RecoveryInput, RecoveryResult, WatchRestart } from './run';
import { strategyWorkflowType } from './workflow-types';
import type { Component } from './schemas';
import {
  DESTRUCTIVE_STRATEGIES,
  type AdaptiveCap,
  KEEP_MTTRS,
  KEEP_RECENT,
  advanceBreaker,
  afterTrial,
  breakerDecision,
  dropLastRecovery,
  heldByRecoveryRun,
  initialState,
  nextDetectBackoff,
  relapsedWithin,
  restartDelay,
  settleRecovery,
  type ProbeReport,
  type RecoveryRecord,
  type SupervisorSpec,
  type SupervisorState,
} from './supervision';

/**
 * Flags of the workflow's `patched()` markers (the workflow maps them to marker names).
 * oneTrial: the breaker of ./breaker (one half-open trial, relapses, reservations).
 * waitOutRuns: a recovery run this supervisor did not start is waited out, not counted.
 * holdForDependencies: no recovery while a dependency is unhealthy or being recovered.
 * inboxEvidence: failure reports that arrived while waiting count as fresh evidence.
 * hostOutage: a host that picks up no probe or pid watch is reported to its host's workflow (one
 *   event per outage), and the pid watch waits for the host instead of being renewed in vain.
 * drainApart: a drain is kept apart from a pause by hand (undrain leaves that pause).
 * breakerReset: an operator's breaker reset closes the breaker, alerts, and checks the component at once.
 * pidExitNoLastLook: a pid exit that only waited for a fleet permit is acted on without a last look.
 * permitWithRunLookup: the fleet permit is asked for together with the recovery run lookup (one round trip, not two).
 * hostOutageFree: a host outage is one event, not the component's fault: the recovery of a failure
 *   its host's outage caused takes no breaker slot and no restart backoff (nor settles a recovery as
 *   relapsed), and a recovery that failed because its host went away gives its slot back.
 * permitWakesOnHealthy: a supervisor queued for a fleet permit wakes on a newer healthy report (a
 *   false alarm: start-up probes that timed out on a loaded box) and withdraws its request at once,
 *   instead of learning it when the permit comes (the queue drained one round trip at a time).
 * dependencyOutageFree: a failure held for a dependency whose host was unreachable is that outage's
 *   too: its recovery, once the dependencies are ready, is free as the host's own components' are.
 * watchRestarts: the pid watch is armed to restart in place when an exit would be recovered at once
 *   with nothing else to decide (restartAuthorization); the supervisor then records what it did as a
 *   recovery run. A pause, drain, or any change that takes the authorization away re-arms it without.
 */
export type Patch =
  | 'oneTrial'
  | 'waitOutRuns'
  | 'holdForDependencies'
  | 'inboxEvidence'
  | 'hostOutage'
  | 'drainApart'
  | 'breakerReset'
  | 'pidExitNoLastLook'
  | 'permitWithRunLookup'
  | 'hostOutageFree'
  | 'permitWakesOnHealthy'
  | 'dependencyOutageFree'
  | 'watchRestarts';
export type Patches = Partial<Record<Patch, boolean>>;

/**
 * A failure first seen this soon after its host came back (or within 3 check intervals, if longer)
 * died with the host: the host's workflow fires the health sweeps at once, so it is seen in seconds.
 */
export const HOST_RETURN_WINDOW_MS = 60_000;
/** A failure seen this soon after a recovery run ended may still be that run's stop, noticed late. */
export const RUN_END_SLACK_MS = 1_000;
/** A wait for a recovery run renews after this long (a run may wait hours for an approval). */
export const RUN_WAIT_MS = 60_000;
export const DEFAULT_RELAPSE_WINDOW_MS = 5_000;
const FOREVER = Number.MAX_SAFE_INTEGER;

/** The latest run under a component's recovery id, as the `recoveryRun` activity sees it. */
export interface RecoveryRunSeen {
  runId: string;
  startedAt: string;
  running: boolean;
  closedAt?: string;
  /** An ended run's outcome: its result's, or `failed`/`cancelled` when it returned none. */
  outcome?: string;
  reason?: string;
  /** When the run says it ended (its result's endedAt), else its close time. */
  endedAt?: string;
}

/** What confirmation probes found (the `confirmFailure` activity's answer). */
export interface Confirmation {
  healthy: boolean;
  failures: number;
  last: { failureClass?: FailureClass; detail: string };
  lastAt: string;
}

/**
 * How a pid watch ended: still alive after its time, the process exited, or no pid file names one.
 * `restart`: the watch was authorized to restart in place (WatchRestartAuth) and did, on that exit.
 */
export type WatchOutcome =
  { exited: false; detail: string; at: string } | { exited: true; reason: 'exited' | 'pid-file-missing'; detail: string; at: string; restart?: WatchRestart };

/** A watch result as recorded in a history: those from before `reason` existed say it only in their text. */
export type RecordedWatchOutcome = { exited: boolean; reason?: 'exited' | 'pid-file-missing'; detail: string; at: string; restart?: WatchRestart };

/**
 * What a supervisor authorizes its pid watch to do on seeing the process exit, armed only when such
 * an exit would be recovered at once with nothing else to decide (see `restartAuthorization`): stop-if-alive,
 * clean, start and wait until healthy, in place, admitted by its host's adaptive window.
 */
export interface WatchRestartAuth {
  cleanup: boolean;
  /** Probe until healthy within this; unset: validation is off. */
  validate?: { timeoutMs: number; intervalMs: number };
  /** The restart backoff: wait this long after the exit, unless the exit comes at or after `backoffUntil` (ms; the backoff resets then). */
  backoffMs: number;
  backoffUntil?: number;
  /** The host's adaptive window: its ceiling, what counts as slow, and its floor (the fleet's strict cap). */
  window: { ceiling: number; slowMs: number; floor: number };
}

export function watchReason(seen: RecordedWatchOutcome): 'alive' | 'exited' | 'pid-file-missing' {
  if (!seen.exited) return 'alive';
  return seen.reason ?? (seen.detail.includes('pid file missing') ? 'pid-file-missing' : 'exited');
}

type Stage =
  | 'confirm'
  | 'run-lookup'
  | 'dependencies'
  | 'backoff'
  | 'permit'
  | 'last-look'
  | 'starting'
  | 'busy-lookup'
  | 'recovering'
  | 'releasing'
  | 'waiting-out'
  | 'reset-check'
  | 'disarm'
  | 'next';

/** What is in flight for the failure being handled (a pass through the recovery decision). */
interface Pass {
  stage: Stage;
  /** When the recovery decision began (ms). */
  since?: number;
  failureClass?: FailureClass;
  oneTrial?: boolean;
  /** A fleet permit is held (given back before the pass ends). */
  permit?: boolean;
  /** The supervisor's own recovery started (its breaker reservation is committed). */
  started?: boolean;
  /** A run this supervisor did not start holds the component: waited out once the permit is back. */
  busy?: RecoveryRunSeen;
  /** The run being waited out. */
  run?: RecoveryRunSeen;
  /** An intent failed: after the permit is back, the workflow fails with it. */
  rethrow?: boolean;
  /** The evidence is a pid exit and nothing but the lookup and the permit was waited for since (a sleep or a dependency check clears it). */
  pidExit?: boolean;
  /** The permit was asked for with the run lookup: `permit` is set from then on (queued or held, it is given back on every way out). */
  permitAsked?: boolean;
  /** The failure is this host's outage (hostOutageFree branch): not the component's fault. */
  hostOutage?: string;
  /** The recovery is the host outage's: admitted without a breaker slot or restart backoff (the breaker was closed). */
  free?: boolean;
}

export interface SupervisorMachine {
  id: string;
  spec: SupervisorSpec;
  /** Carried across continue-as-new; the `state` query's answer. */
  state: SupervisorState;
  /** Reports received and not yet taken up. */
  inbox: ProbeReport[];
  /** Reports taken up, handled oldest first. */
  batch: ProbeReport[];
  /** When a check last failed (ms): evidence older than a moment is checked again before a delayed recovery. */
  lastFailedCheckAt: number;
  /** The pid file names no process: no watch until a recovery writes one. */
  watchUnavailable: boolean;
  /** A watch ended without news: the loop wakes to renew it. */
  renewWatch: boolean;
  /** The breaker was reset by hand: the loop wakes to check the component once nothing else is in flight. */
  checkDue?: boolean;
  /** The watchRestarts patch is on in this run: a pid watch may be armed to restart in place (so a pass disarms it first). */
  watchRestarts?: boolean;
  pass?: Pass;
}

export type NotifyIntent = {
  kind: 'notify';
  url: string;
  timeoutMs: number;
  event: { kind: string; text: string; details?: Record<string, unknown>; component: string };
};

/** Carried out at once, in order. */
export type SyncIntent =
  | NotifyIntent
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; message: string; fields: Record<string, unknown> }
  /** `restart`: armed to restart in place on an exit (a watch armed otherwise is replaced). */
  | { kind: 'watch'; component: Component; restart?: WatchRestartAuth }
  | { kind: 'stop-watch' }
  /** Tell the host's workflow (`mend/host/<id>`) that its agent picked nothing up: one event per outage, however many report it. */
  | { kind: 'host-down'; host: string; component: string; notify?: SupervisorSpec['notify'] };

/** The one intent a decision ends with: its outcome comes back as the event named. */
export type WaitIntent =
  | { kind: 'wait'; until?: number } // → woke (a report, a renewed watch, or the deadline)
  | { kind: 'loop' } // → loop (the loop top)
  | { kind: 'continue' } // → continue (the rest of the reports taken up)
  | { kind: 'continue-as-new'; spec: SupervisorSpec; state: SupervisorState; pending: ProbeReport[] }
  | { kind: 'confirm'; component: Component; probes: number; intervalMs: number } // → confirmed
  | { kind: 'find-recovery-run'; workflowId: string; waitMs: number } // → recovery-run
  | { kind: 'check-dependencies'; dependencies: Component[] } // → dependencies
  | { kind: 'sleep'; ms: number } // → slept
  | AskPermit // → permit-granted | permit-moot
  | { kind: 'find-run-ask-permit'; workflowId: string; waitMs: number; permit: AskPermit } // → recovery-run (the permit comes by signal)
  | { kind: 'await-permit'; wakeOnHealthy?: boolean } // → permit-granted | permit-moot (asked for with the run lookup)
  | { kind: 'start-recovery'; workflowType: string; workflowId: string; input: RecoveryInput; summary: string; details: string } // → recovery-started | recovery-already-running
  | { kind: 'await-recovery' } // → recovery-ended
  /** A pid watch armed to restart in place is cancelled; `wait`: for its outcome (it may be restarting), else at once. */
  | { kind: 'disarm-watch'; wait: boolean } // → watch-disarmed
  | { kind: 'release-permit'; component: string; ok?: boolean } // → permit-released (ok: how the recovery it was for ended)
  | { kind: 'throw' }; // the intent that failed fails the workflow

export type Intent = SyncIntent | WaitIntent;

export type AskPermit = {
  kind: 'ask-permit';
  component: string;
  max: number;
  destructive: boolean;
  maxDestructivePerMinute?: number;
  adaptive?: AdaptiveCap;
  host?: string;
  /** Wake as well when `failureMoot` holds (permitWakesOnHealthy branch): the answer is then `permit-moot`. */
  wakeOnHealthy?: boolean;
};

export type MachineEvent =
  | { kind: 'report'; report: ProbeReport }
  | { kind: 'pause'; now: number; by?: string; forMs?: number; reason?: string; host?: string }
  | { kind: 'resume'; host?: string }
  | { kind: 'breaker-reset'; now: number; by: string; reason: string }
  | { kind: 'host-status'; now: number; host: string; reachable: boolean }
  /** `unreachable`: the watch was not picked up on that host in time (a pickup timeout), not an error of the watch. */
  | { kind: 'watch-ended'; seen?: RecordedWatchOutcome; error?: string; unreachable?: string }
  | { kind: 'loop'; now: number; historyFull: boolean }
  | { kind: 'woke'; now: number }
  | { kind: 'continue'; now: number }
  | { kind: 'confirmed'; now: number; result: Confirmation }
  | { kind: 'recovery-run'; now: number; run?: RecoveryRunSeen }
  | { kind: 'dependencies'; now: number; waitingFor: Array<{ id: string; reason: string }> }
  | { kind: 'slept'; now: number }
  | { kind: 'permit-granted'; now: number }
  /** Woken while queued for a permit, none granted: `failureMoot` held (an intent's `wakeOnHealthy`). */
  | { kind: 'permit-moot'; now: number }
  | { kind: 'recovery-started'; now: number; runId: string }
  | { kind: 'recovery-already-running'; now: number }
  | { kind: 'recovery-ended'; now: number; result?: RecoveryResult; error?: string }
  /** The watch armed to restart in place is gone; `seen`: how it ended, if it ended before its cancellation (it may have restarted). */
  | { kind: 'watch-disarmed'; now: number; seen?: RecordedWatchOutcome }
  | { kind: 'permit-released'; now: number }
  | { kind: 'host-unreachable'; now: number; host: string }
  | { kind: 'failed'; now: number };

export type Decision = { machine: SupervisorMachine; intents: Intent[]; ask?: undefined } | { ask: Patch; intents: Intent[]; machine?: undefined };

/** The supervisor workflow's input. */
export interface SupervisorInput {
  spec: SupervisorSpec;
  /** Carried across continue-as-new. */
  state?: SupervisorState;
  pending?: ProbeReport[];
  /** Continue as new after this many history events (default 10,000; tests use less). */
  historyLimit?: number;
}

export function initialMachine(input: SupervisorInput, now: number): SupervisorMachine {
  const id = input.spec.component.id;
  const state = input.state ? { ...input.state } : initialState(id, input.spec.component.supervision, now);
  // A reservation lives only within one pass; one carried in was never used.
  if (state.breaker.reservedAt !== undefined) state.breaker = releaseReservation(state.breaker);
  return { id, spec: input.spec, state, inbox: [...(input.pending ?? [])], batch: [], lastFailedCheckAt: 0, watchUnavailable: false, renewWatch: false };
}

/** The intent the workflow waits on, if the decision ends with one. */
export function waitIntent(intents: readonly Intent[]): WaitIntent | undefined {
  const last = intents[intents.length - 1];
  return last && !['notify', 'log', 'watch', 'stop-watch', 'host-down'].includes(last.kind) ? (last as WaitIntent) : undefined;
}

class NeedPatch {
  constructor(readonly patch: Patch) {}
}

/** One decision: the draft machine it changes, the clock, the patch answers known, the intents so far. */
class Step {
  readonly intents: Intent[] = [];
  constructor(
    readonly m: SupervisorMachine,
    readonly now: number,
    private readonly patches: Patches,
  ) {}
  get st(): SupervisorState {
    return this.m.state;
  }
  get sup() {
    return this.m.spec.component.supervision;
  }
  patched(patch: Patch): boolean {
    const known = this.patches[patch];
    if (known === undefined) throw new NeedPatch(patch);
    return known;
  }
  emit(intent: Intent): void {
    this.intents.push(intent);
  }
  log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
    this.emit({ kind: 'log', level, message, fields: { component: this.m.id, ...fields } });
  }
  notify(kind: string, text: string, details?: Record<string, unknown>): void {
    const url = this.m.spec.notify?.webhook;
    if (url)
      this.emit({
        kind: 'notify',
        url,
        timeoutMs: this.m.spec.notify?.timeoutMs ?? 5_000,
        event: { kind, text, ...(details ? { details } : {}), component: this.m.id },
      });
  }
  /** Waits for `stage` with `intent`. */
  await(stage: Stage, intent: WaitIntent): void {
    this.m.pass = { ...(this.m.pass ?? { stage }), stage };
    this.emit(intent);
  }
  get pass(): Pass {
    if (!this.m.pass) throw new Error('supervisor machine: no pass in flight');
    return this.m.pass;
  }
}

/** Decides one event. Pure: `m` is not changed. With `ask`, decide the same event again once `patches[ask]` is known. */
export function decide(m: SupervisorMachine, event: MachineEvent, patches: Patches = {}): Decision {
  const s = new Step(draft(m), 'now' in event ? event.now : 0, patches);
  try {
    apply(s, event);
  } catch (err) {
    if (err instanceof NeedPatch) return { ask: err.patch, intents: s.intents };
    throw err;
  }
  return { machine: s.m, intents: s.intents };
}

function draft(m: SupervisorMachine): SupervisorMachine {
  const st = m.state;
  return {
    ...m,
    inbox: [...m.inbox],
    batch: [...m.batch],
    pass: m.pass && { ...m.pass },
    state: {
      ...st,
      breaker: { ...st.breaker },
      stats: { ...st.stats },
      current: st.current && { ...st.current },
      confirming: st.confirming && { ...st.confirming },
    },
  };
}

function expect(s: Step, stages: Stage[], event: MachineEvent): Pass {
  const pass = s.m.pass;
  if (!pass || !stages.includes(pass.stage)) throw new Error(`supervisor machine: ${event.kind} while ${pass?.stage ?? 'idle'}`);
  return pass;
}

function apply(s: Step, ev: MachineEvent): void {
  const { m, st } = s;
  switch (ev.kind) {
    case 'report':
      m.inbox.push(ev.report);
      return;
    case 'pause':
      // A drain is kept apart from a pause by hand, so undrain does not lift that pause.
      if (ev.host !== undefined && s.patched('drainApart')) {
        st.drainedHost = ev.host;
        st.drainedBy = ev.by ?? 'unknown';
        st.drainReason = ev.reason;
        disarmNow(s);
        return;
      }
      st.pausedUntil = ev.forMs ? ev.now + ev.forMs : FOREVER;
      st.pausedBy = ev.by;
      st.pauseReason = ev.reason;
      st.drainedHost = ev.host;
      disarmNow(s);
      return;
    case 'resume':
      // An undrain lifts that host's drain only (a drain recorded before drainApart was the pause itself).
      if (ev.host !== undefined) {
        if (st.drainedHost !== ev.host) return;
        if (st.drainedBy !== undefined) clearDrain(st);
        else clearPause(st);
      } else clearPause(st);
      // A failure held by the pause may be acted on at the next report.
      st.ignoreUntil = undefined;
      st.detectBackoffMs = 0;
      // The loop wakes to arm the watch to restart again.
      if (m.watchRestarts) m.renewWatch = true;
      return;
    case 'breaker-reset':
      return breakerReset(s, ev);
    case 'host-status':
      return hostStatus(s, ev.host, ev.reachable);
    case 'watch-ended':
      return watchEnded(s, ev);
    case 'loop':
      return loopTop(s, ev.historyFull);
    case 'woke':
      m.renewWatch = false;
      tick(s);
      m.batch = m.inbox.splice(0).sort((a, b) => Date.parse(a.checkedAt) - Date.parse(b.checkedAt));
      return handleBatch(s);
    case 'continue':
      expect(s, ['next'], ev);
      m.pass = undefined;
      return handleBatch(s);
    case 'confirmed': {
      const stage = expect(s, ['confirm', 'last-look', 'reset-check'], ev).stage;
      if (stage === 'reset-check') return resetChecked(s, ev.result);
      return stage === 'confirm' ? confirmed(s, ev.result) : lastLooked(s, ev.result);
    }
    case 'recovery-run': {
      const stage = expect(s, ['run-lookup', 'busy-lookup', 'waiting-out'], ev).stage;
      if (stage === 'run-lookup') return runLookedUp(s, ev.run);
      if (stage === 'busy-lookup') return busyLookedUp(s, ev.run);
      return waitingOut(s, ev.run);
    }
    case 'dependencies':
      expect(s, ['dependencies'], ev).pidExit = false;
      // Held for a dependency's host that picked nothing up (see dependenciesNotReady): noted for the recovery after it.
      for (const w of ev.waitingFor) if (w.reason === 'unreachable' && w.id.startsWith('host ')) st.dependencyHostDown = w.id.slice('host '.length);
      if (ev.waitingFor.length > 0) {
        st.held = `waiting for ${ev.waitingFor.map((w) => `${w.id} (${w.reason})`).join(', ')}`;
        return endPass(s);
      }
      return reserve(s);
    case 'slept':
      expect(s, ['backoff'], ev).pidExit = false;
      return takePermit(s);
    case 'permit-granted':
      expect(s, ['permit'], ev).permit = true;
      return permitted(s);
    case 'permit-moot':
      return permitMoot(s, expect(s, ['permit'], ev));
    case 'recovery-started':
      expect(s, ['starting'], ev);
      return recoveryStarted(s, ev.runId);
    case 'recovery-already-running':
      expect(s, ['starting'], ev);
      return alreadyRunning(s);
    case 'recovery-ended':
      expect(s, ['recovering'], ev);
      return recoveryEnded(s, ev.result, ev.error);
    case 'permit-released':
      expect(s, ['releasing'], ev);
      return permitReleased(s);
    case 'watch-disarmed':
      return disarmed(s, expect(s, ['disarm'], ev), ev.seen);
    case 'host-unreachable':
      return hostUnreachable(s, expect(s, ['confirm', 'last-look', 'reset-check'], ev).stage, ev.host);
    case 'failed':
      return failed(s);
  }
}

/**
 * No agent picked up a confirmation probe on the component's host: nothing is known of the
 * component, and nothing could be done there. Held with the host named; the failure is not
 * counted, and what a last look held (the breaker's slot, a permit) is given back. The next report
 * that comes through (the agent polls again) is handled as usual.
 */
function hostUnreachable(s: Step, stage: Stage, host: string): void {
  const { st } = s;
  st.unreachableHost = host;
  st.held = `host ${host} unreachable: its agent did not pick up a probe in time`;
  s.log('warn', 'host unreachable', { host });
  if (s.patched('hostOutage')) reportHostDown(s, host);
  if (stage === 'confirm' || stage === 'reset-check') return endPass(s);
  if (!s.pass.oneTrial) st.breaker = dropLastRecovery(st.breaker);
  finishAttempt(s);
}

/** The host's workflow hears of it (at once, not awaited); the pid watch, which cannot run there, stops. */
function reportHostDown(s: Step, host: string): void {
  s.emit({ kind: 'stop-watch' });
  s.emit({ kind: 'host-down', host, component: s.m.id, notify: s.m.spec.notify });
}

/**
 * From the host's workflow. Unreachable: held naming the host, no pid watch (it would only wait on
 * a queue nobody polls). Reachable: the hold ends and the watch starts again (the loop wakes); the
 * host's workflow has its health sweeps fire at once, so a component that died with the host is
 * recovered at the next report, after its dependencies (the dependency hold).
 */
function hostStatus(s: Step, host: string, reachable: boolean): void {
  const { st } = s;
  if (!reachable) {
    if (st.unreachableHost === host) return;
    st.unreachableHost = host;
    if (!st.current) st.held = `host ${host} unreachable: its agent picks up nothing`;
    s.log('warn', 'host unreachable', { host });
    s.emit({ kind: 'stop-watch' });
    return;
  }
  if (st.unreachableHost !== host) return;
  st.unreachableHost = undefined;
  // Whatever failure is seen next, soon, died with the host (see outageCause); only read behind hostOutageFree.
  st.hostReturned = { host, at: s.now };
  if (st.held?.startsWith(`host ${host} unreachable`)) st.held = undefined;
  s.log('info', 'host reachable again', { host });
  s.m.renewWatch = true;
}

/** Loop top: time-driven moves, the pid watch, continue-as-new when the history is long, then wait. */
function loopTop(s: Step, historyFull: boolean): void {
  const { m, st } = s;
  tick(s);
  // Not while its host is unreachable (only set so while healthy on the hostOutage branch).
  if (!m.watchUnavailable && m.spec.component.adapter.type === 'process' && st.health === 'healthy' && !st.current && st.unreachableHost === undefined) {
    const restart = restartAuthorization(s);
    if (restart && s.patched('watchRestarts')) {
      m.watchRestarts = true;
      s.emit({ kind: 'watch', component: m.spec.component, restart });
    } else s.emit({ kind: 'watch', component: m.spec.component });
  }
  // Only set on the breakerReset branch: a reset's check, as soon as nothing else is in flight.
  if (m.checkDue && !st.current) {
    m.checkDue = false;
    return s.await('reset-check', { kind: 'confirm', component: m.spec.component, probes: 1, intervalMs: 0 });
  }
  if (historyFull && !st.current) {
    s.emit({ kind: 'stop-watch' });
    s.emit({ kind: 'continue-as-new', spec: m.spec, state: { ...st, generation: st.generation + 1 }, pending: m.inbox.splice(0) });
    return;
  }
  s.emit({ kind: 'wait', until: nextDeadline(s) });
}

function watchEnded(s: Step, ev: Extract<MachineEvent, { kind: 'watch-ended' }>): void {
  if (!ev.seen && ev.unreachable !== undefined && s.patched('hostOutage')) {
    // Nobody picked the watch up on its host: renewing it would only queue another there.
    const { st } = s;
    st.unreachableHost = ev.unreachable;
    if (!st.current) st.held = `host ${ev.unreachable} unreachable: its agent did not pick up the pid watch in time`;
    s.log('warn', 'host unreachable', { host: ev.unreachable });
    return reportHostDown(s, ev.unreachable);
  }
  if (!ev.seen) {
    // Its own retries are spent (seconds apart): try a fresh watch rather than none until the next report.
    s.log('warn', 'pid watch failed', { error: ev.error });
    s.m.renewWatch = true;
    return;
  }
  if (ev.seen.restart) {
    s.m.inbox.push(restartedReport(ev.seen.restart));
    return;
  }
  const reason = watchReason(ev.seen);
  if (reason === 'alive') s.m.renewWatch = true;
  else if (reason === 'pid-file-missing') s.m.watchUnavailable = true;
  else s.m.inbox.push({ healthy: false, failureClass: 'crash', detail: `process exited (${ev.seen.detail})`, checkedAt: ev.seen.at, source: 'watch' });
}

/**
 * An operator closed the breaker by hand: who and why are kept (and alerted); the restart and
 * detection backoffs start over, and the component is checked at once (the loop wakes for it), its
 * answer handled as a check-now report is: a failure is confirmed and recovered, the breaker closed.
 */
function breakerReset(s: Step, ev: Extract<MachineEvent, { kind: 'breaker-reset' }>): void {
  const { m, st } = s;
  if (!s.patched('breakerReset')) return;
  const from = st.breaker.state;
  st.breaker = resetBreaker(st.breaker, ev);
  st.lastBreakerReset = { at: new Date(ev.now).toISOString(), by: ev.by, reason: ev.reason, from };
  st.consecutiveRecoveries = 0;
  st.detectBackoffMs = 0;
  st.ignoreUntil = undefined;
  if (st.held?.startsWith('circuit breaker')) st.held = undefined;
  m.checkDue = true;
  const text = `${m.id}: circuit breaker reset by ${ev.by} (was ${from}): ${ev.reason}`;
  s.log('info', text, { by: ev.by, reason: ev.reason, from });
  s.notify('breaker-reset', text, { by: ev.by, reason: ev.reason, from });
}

/** The reset's check answered: taken as a check now's report would be (a failure confirmed, then recovered). */
function resetChecked(s: Step, result: Confirmation): void {
  const { m } = s;
  m.pass = undefined;
  const { failureClass, detail } = result.last;
  m.inbox.push({ healthy: result.healthy, ...(failureClass ? { failureClass } : {}), detail, checkedAt: result.lastAt, source: 'manual' });
  tick(s);
  m.batch = m.inbox.splice(0).sort((a, b) => Date.parse(a.checkedAt) - Date.parse(b.checkedAt));
  handleBatch(s);
}

function clearPause(st: SupervisorState): void {
  st.pausedUntil = undefined;
  st.pausedBy = undefined;
  st.pauseReason = undefined;
  clearDrain(st);
}

function clearDrain(st: SupervisorState): void {
  st.drainedHost = undefined;
  st.drainedBy = undefined;
  st.drainReason = undefined;
}

/** Held by a pause by hand or a drain. */
export function isPaused(st: Pick<SupervisorState, 'pausedUntil' | 'drainedHost'>): boolean {
  return st.pausedUntil !== undefined || st.drainedHost !== undefined;
}

/** What `held` says of a pause: `host web-1 drained (disk swap) by alice`, or `paused by alice`. */
export function pausedWhy(st: Pick<SupervisorState, 'pausedBy' | 'pauseReason' | 'drainedHost' | 'drainedBy' | 'drainReason'>): string {
  if (st.drainedHost !== undefined) {
    // A drain from before drainApart kept its who and why in the pause's fields.
    const [by, reason] = st.drainedBy !== undefined ? [st.drainedBy, st.drainReason] : [st.pausedBy, st.pauseReason];
    return `host ${st.drainedHost} drained${reason ? ` (${reason})` : ''}${by ? ` by ${by}` : ''}`;
  }
  return `paused${st.pausedBy ? ` by ${st.pausedBy}` : ''}`;
}

/** Time-driven moves: breaker cool-down and close, restart backoff reset, pause expiry, recovery confirmed. */
function tick(s: Step): void {
  const { m, st, sup, now } = s;
  const before = st.breaker.state;
  st.breaker = s.patched('oneTrial') ? advance(st.breaker, sup.breaker, now, st.healthySince) : advanceBreaker(st.breaker, sup, now, st.healthySince);
  if (before === 'open' && st.breaker.state === 'half-open') {
    s.log('info', 'breaker half-open: one trial recovery allowed');
    st.ignoreUntil = undefined;
    st.detectBackoffMs = 0;
  }
  if (before !== 'closed' && st.breaker.state === 'closed') {
    s.log('info', 'breaker closed');
    s.notify('breaker-closed', `${m.id}: circuit breaker closed (${st.breaker.reason})`);
  }
  if (st.consecutiveRecoveries > 0 && st.healthySince !== undefined && now - st.healthySince >= sup.backoffResetAfter) st.consecutiveRecoveries = 0;
  if (st.pausedUntil !== undefined && now >= st.pausedUntil) clearPause(st);
  // Stayed healthy for the relapse window (no failure from before its end waits in the inbox): a success.
  const pending = st.confirming;
  if (pending && st.health === 'healthy' && now >= pending.until && !m.inbox.some((r) => !r.healthy && Date.parse(r.checkedAt) < pending.until)) {
    st.stats = settleRecovery(st, 'succeeded', now);
    st.confirming = undefined;
  }
}

/** When the loop must wake without a report: breaker moves, backoff reset, pause end, recovery confirmed. */
export function nextDeadline(s: { st: SupervisorState; sup: SupervisorSpec['component']['supervision'] }): number | undefined {
  const { st, sup } = s;
  const { breaker, healthySince } = st;
  const at: number[] = [];
  if (breaker.state === 'open' && breaker.halfOpenAt !== undefined) at.push(breaker.halfOpenAt);
  if (breaker.state === 'half-open' && healthySince !== undefined) at.push(healthySince + sup.breaker.healthyToClose);
  if (st.consecutiveRecoveries > 0 && healthySince !== undefined) at.push(healthySince + sup.backoffResetAfter);
  if (st.pausedUntil !== undefined && st.pausedUntil < FOREVER) at.push(st.pausedUntil);
  // Only set on the oneTrial branch, so older histories never see this timer.
  if (st.confirming && st.health === 'healthy') at.push(st.confirming.until);
  return at.length > 0 ? Math.min(...at) : undefined;
}

/** The reports taken up, oldest first: duplicates and stale ones dropped, healthy ones noted, failures handled. */
function handleBatch(s: Step): void {
  const { m, st } = s;
  for (let report = m.batch.shift(); report; report = m.batch.shift()) {
    if (report.spec) m.spec = report.spec;
    // Done already (its watch restarted it): recorded whatever else is known, then the reports after it.
    if (report.restarted) {
      adoptRestart(s, report, report.restarted);
      if (m.pass) return;
      continue;
    }
    const checkedMs = Date.parse(report.checkedAt);
    // Duplicates (a retried sweep) and reports older than what is known are dropped.
    if (checkedMs <= (st.lastReportAt ?? 0)) continue;
    st.lastReportAt = checkedMs;
    if (report.healthy) {
      if (st.health !== 'healthy') s.log('info', 'healthy', { source: report.source });
      markHealthy(s, checkedMs);
      continue;
    }
    handleFailure(s, report);
    if (m.pass) return;
  }
  // All handled: back to the loop top (after the workflow yields, as the loop always did).
  s.emit({ kind: 'loop' });
}

function markHealthy(s: Step, atMs: number): void {
  const { st } = s;
  st.health = 'healthy';
  st.consecutiveFailures = 0;
  st.detectBackoffMs = 0;
  st.ignoreUntil = undefined;
  st.firstFailedAt = undefined;
  st.healthySince ??= atMs;
  st.held = undefined;
  st.unreachableHost = undefined;
  st.hostReturned = undefined;
  st.dependencyHostDown = undefined;
}

function backOffDetection(s: Step, why: string): void {
  s.st.held = why;
  s.st.detectBackoffMs = nextDetectBackoff(s.st.detectBackoffMs, s.sup);
  s.st.ignoreUntil = s.now + s.st.detectBackoffMs;
}

/** The failure handled is done with: the rest of the reports taken up come next (after the workflow yields). */
function endPass(s: Step): void {
  s.await('next', { kind: 'continue' });
}

function handleFailure(s: Step, report: ProbeReport): void {
  const { st, sup } = s;
  noteFailure(s, report);
  if (st.ignoreUntil !== undefined && s.now < st.ignoreUntil) return;
  const threshold = sup.failuresBeforeRecovery;
  st.threshold = threshold;
  // A pid seen gone is certain; a failed probe is confirmed quickly before anything is done.
  // A sweep's overlapping probes of a slow component may stand for several failures at once.
  st.consecutiveFailures =
    report.source === 'watch' ? Math.max(threshold, st.consecutiveFailures + 1) : st.consecutiveFailures + Math.max(1, report.failures ?? 1);
  if (st.consecutiveFailures < threshold) {
    s.await('confirm', { kind: 'confirm', component: s.m.spec.component, probes: threshold - st.consecutiveFailures, intervalMs: sup.confirmInterval });
    return;
  }
  maybeRecover(s, st.lastFailureClass, report.source === 'watch');
}

/** A failure seen: what it was, when the outage began, counted by class and kept among the recent ones. */
function noteFailure(s: Step, report: ProbeReport): void {
  const { m, st } = s;
  const checkedMs = Date.parse(report.checkedAt);
  m.lastFailedCheckAt = checkedMs;
  st.health = st.health === 'recovering' ? st.health : 'unhealthy';
  st.healthySince = undefined;
  st.lastFailureClass = report.failureClass;
  st.lastDetail = report.detail;
  if (st.firstFailedAt === undefined) {
    // A new outage: counted by what happened (crash, timeout, resource ...), for the metrics.
    const cls = report.failureClass ?? 'unknown';
    st.stats.failuresByClass = { ...st.stats.failuresByClass, [cls]: (st.stats.failuresByClass?.[cls] ?? 0) + 1 };
  }
  st.firstFailedAt ??= checkedMs;
  st.stats.recentFailures = [...st.stats.recentFailures, { at: report.checkedAt, failureClass: report.failureClass, detail: report.detail }].slice(
    -KEEP_RECENT,
  );
}

function confirmed(s: Step, result: Confirmation): void {
  const { m, st } = s;
  st.lastReportAt = Math.max(st.lastReportAt ?? 0, Date.parse(result.lastAt));
  if (result.healthy) {
    markHealthy(s, Date.parse(result.lastAt));
    return endPass(s);
  }
  st.consecutiveFailures += result.failures;
  m.lastFailedCheckAt = Date.parse(result.lastAt);
  st.lastFailureClass = result.last.failureClass;
  st.lastDetail = result.last.detail;
  if (st.consecutiveFailures >= s.sup.failuresBeforeRecovery) {
    m.pass = undefined;
    maybeRecover(s, st.lastFailureClass);
    if (s.m.pass) return;
  }
  endPass(s);
}

/** A confirmed failure: hold (grace, a run not ours, breaker, auth, pause, dependencies) or go for a recovery. */
function maybeRecover(s: Step, failureClass: FailureClass | undefined, pidExit = false, disarmedFirst = false): void {
  const { m, st } = s;
  if (s.now < st.graceUntil) {
    st.held = `startup grace until ${new Date(st.graceUntil).toISOString()}`;
    return;
  }
  if (m.watchRestarts && !disarmedFirst) {
    // A watch armed to restart in place may be restarting it now: it is disarmed first, and what it did
    // is the news. A failure that says the process is gone (refused, crashed) waits for its outcome:
    // never two restarts at once. Others (a hang, an error answer) have a live process, which the watch
    // does not touch (and the run's own stop is no exit it acts on): not waited for (a cancellation
    // reaches the activity only with a heartbeat's answer, seconds later).
    m.pass = { stage: 'disarm', since: s.now, failureClass, ...(pidExit ? { pidExit } : {}) };
    return s.await('disarm', { kind: 'disarm-watch', wait: failureClass === 'network' || failureClass === 'crash' });
  }
  m.pass = { stage: 'run-lookup', since: s.now, failureClass, ...(pidExit ? { pidExit } : {}) };
  // Before anything counts: a recovery run's own stop and start are not failures.
  if (s.patched('waitOutRuns')) {
    const workflowId = recoveryWorkflowId(m.id);
    // When nothing but the permit would come between the lookup and the start, the permit is asked
    // for at once, alongside the lookup: a mass outage queues for permits a round trip sooner.
    const permit = permitLikelyNext(s) ? permitIntent(s) : undefined;
    if (permit && s.patched('permitWithRunLookup')) {
      Object.assign(s.pass, { permit: true, permitAsked: true });
      return s.await('run-lookup', { kind: 'find-run-ask-permit', workflowId, waitMs: 0, permit });
    }
    return s.await('run-lookup', { kind: 'find-recovery-run', workflowId, waitMs: 0 });
  }
  holdOrReserve(s);
}

/**
 * Whether a pass is likely to go from the run lookup straight to the fleet permit: the fleet caps
 * recoveries, and no dependency check, restart backoff, pause or breaker would come first (if one
 * does after all, the permit asked for is given back, and the pass goes on as it would have).
 */
function permitLikelyNext(s: Step): boolean {
  const { m, st, sup } = s;
  return (
    m.spec.maxConcurrentRecoveries !== undefined &&
    m.spec.maxConcurrentRecoveries > 0 &&
    (m.spec.dependencies ?? []).length === 0 &&
    restartDelay(st.consecutiveRecoveries, sup) === 0 &&
    st.breaker.state === 'closed' &&
    !isPaused(st) &&
    s.pass.failureClass !== 'auth'
  );
}

/** The pass ends before its recovery: a permit asked for with the run lookup goes back first. */
function endHeld(s: Step): void {
  if (s.pass.permitAsked) return finishAttempt(s);
  endPass(s);
}

function runLookedUp(s: Step, run: RecoveryRunSeen | undefined): void {
  const { m, st } = s;
  if (
    run &&
    heldByRecoveryRun(run, {
      failedAt: m.lastFailedCheckAt,
      ownRunIds: st.stats.recent.map((r) => r.runId),
      waitedOutRunId: st.waitedOutRunId,
      slackMs: RUN_END_SLACK_MS,
    })
  ) {
    // A permit asked for with the lookup goes back before the run is waited out.
    if (s.pass.permitAsked) {
      s.pass.busy = run;
      return finishAttempt(s);
    }
    return waitOut(s, run);
  }
  holdOrReserve(s);
}

function holdOrReserve(s: Step): void {
  const { m, st } = s;
  const pass = s.pass;
  const oneTrial = (pass.oneTrial = s.patched('oneTrial'));
  const outage = oneTrial ? outageCause(s) : undefined;
  if (outage !== undefined && s.patched('hostOutageFree')) pass.hostOutage = outage;
  // Held for a dependency's host outage (across hosts): that outage's doing too, not the component's.
  else if (oneTrial && st.dependencyHostDown !== undefined && s.patched('dependencyOutageFree')) pass.hostOutage = st.dependencyHostDown;
  if (oneTrial && noteConfirmedFailure(s)) return endHeld(s);
  if (pass.failureClass === 'auth') {
    if (st.held?.startsWith('auth') !== true)
      s.notify('auth-failure', `${m.id}: probe fails with an auth error; a restart does not fix credentials, not recovering`, { detail: st.lastDetail });
    backOffDetection(s, 'auth failure: a restart does not fix credentials');
    return endHeld(s);
  }
  if ((st.pausedUntil !== undefined && pass.since! < st.pausedUntil) || st.drainedHost !== undefined) {
    backOffDetection(s, pausedWhy(st));
    return endHeld(s);
  }
  // Nothing is restarted before what it depends on is healthy: a dependent started without its
  // dependency comes up broken, and a dependency's recovery may restart its dependents itself.
  // Held without a detection backoff: the next failure report looks again, so the component is
  // recovered within one check interval of its dependencies being ready.
  const dependencies = m.spec.dependencies ?? [];
  if (dependencies.length > 0 && s.patched('holdForDependencies')) return s.await('dependencies', { kind: 'check-dependencies', dependencies });
  reserve(s);
}

/**
 * A confirmed failure that is no recovery run's doing: settles a recovery awaiting confirmation
 * (a relapse if it came within the relapse window) and, half-open after a trial, reopens the
 * breaker (with an alert). True when it reopened: nothing more is done for this failure.
 */
function noteConfirmedFailure(s: Step): boolean {
  const { st } = s;
  const failedAt = st.firstFailedAt ?? s.now;
  const pending = st.confirming;
  if (s.pass.hostOutage !== undefined) {
    // Its host went away: that says nothing of the last recovery, nor is it a relapse of a trial.
    if (pending) {
      s.log('info', 'recovery interrupted: its host went away before it was confirmed', { runId: pending.runId, host: s.pass.hostOutage });
      st.stats = { ...st.stats, interrupted: (st.stats.interrupted ?? 0) + 1 };
    }
    st.confirming = undefined;
    tick(s);
    return false;
  }
  if (pending) {
    const relapsed = relapsedWithin(pending, failedAt);
    st.stats = settleRecovery(st, relapsed ? 'relapsed' : 'succeeded', failedAt);
    st.confirming = undefined;
    if (relapsed) s.log('warn', 'relapsed after recovery', { runId: pending.runId, afterMs: failedAt - pending.endedAt });
  }
  tick(s);
  const relapse = onConfirmedFailure(st.breaker, s.sup.breaker, s.now);
  st.breaker = relapse.breaker;
  if (!relapse.opened) return false;
  openedBreaker(s);
  backOffDetection(s, `circuit breaker ${st.breaker.state}`);
  return true;
}

function openedBreaker(s: Step): void {
  const { m, st } = s;
  st.stats.breakerOpened += 1;
  const text = `${m.id}: circuit breaker OPEN (${st.breaker.reason}); no automatic recovery until ${new Date(st.breaker.halfOpenAt ?? 0).toISOString()}`;
  s.log('error', text);
  s.notify('breaker-open', text, { reason: st.breaker.reason });
}

/** The breaker admits a recovery (a reservation) or holds; then the restart backoff. */
function reserve(s: Step): void {
  const { st, sup } = s;
  const pass = s.pass;
  tick(s);
  if (pass.hostOutage !== undefined && st.breaker.state === 'closed') {
    // One host outage is one event, not the component's fault: no breaker slot, no restart backoff
    // (else every return of a flaky host would use up each of its components' breakers).
    pass.free = true;
    pass.started = false;
    s.log('info', 'recovery after a host outage: no breaker slot, no restart backoff', { host: pass.hostOutage });
    return takePermit(s);
  }
  if (pass.hostOutage !== undefined && st.breaker.trialAt !== undefined) {
    // The trial's host went away under it: no relapse, the trial is tried again (the next one admitted).
    st.breaker = { ...st.breaker };
    delete st.breaker.trialAt;
  }
  const decision = pass.oneTrial ? reserveRecovery(st.breaker, sup.breaker, s.now) : breakerDecision(st.breaker, sup, pass.since!);
  st.breaker = decision.breaker;
  if (!decision.allow) {
    if (decision.opened) openedBreaker(s);
    backOffDetection(s, `circuit breaker ${st.breaker.state}`);
    return endHeld(s);
  }
  // From here on the reservation is recorded when a run starts, and given back on every other way out (permitReleased).
  pass.started = false;
  const delay = restartDelay(st.consecutiveRecoveries, sup);
  if (delay > 0) {
    st.held = `restart backoff ${delay}ms`;
    return s.await('backoff', { kind: 'sleep', ms: delay });
  }
  takePermit(s);
}

/** Waits for a permit of the fleet limiter when the fleet caps recoveries. */
function takePermit(s: Step): void {
  const { m, st } = s;
  const max = m.spec.maxConcurrentRecoveries;
  if (!max) return permitted(s);
  // A healthy report wakes the wait: a false alarm leaves the queue at once, not when its permit comes.
  const wake = s.patched('permitWakesOnHealthy') ? { wakeOnHealthy: true } : {};
  st.held = `waiting for a fleet permit (at most ${max} recoveries at once)`;
  if (s.pass.permitAsked) return s.await('permit', { kind: 'await-permit', ...wake });
  s.await('permit', { ...permitIntent(s), ...wake });
}

/**
 * Whether the failure being handled is moot: a healthy report newer than any report taken up waits
 * in the inbox (fixed by hand, or it came back). Read by the workflow too, to wake a permit wait.
 */
export function failureMoot(m: Pick<SupervisorMachine, 'inbox' | 'state'>): boolean {
  return m.inbox.some((r) => r.healthy && Date.parse(r.checkedAt) > (m.state.lastReportAt ?? 0));
}

/**
 * Woken while queued for a permit (permitWakesOnHealthy branch): the request is withdrawn, as a
 * permit is given back (a release takes a queued request out of the limiter's queue ungranted).
 */
function permitMoot(s: Step, pass: Pass): void {
  // Queued at the limiter from the ask on: from here on it is given back on every way out.
  Object.assign(pass, { permit: true, permitAsked: true });
  const { m } = s;
  if (!failureMoot(m)) return takePermit(s);
  // Failures probed before the healthy report are superseded by it: taken up after this pass, each
  // would start a pass of its own and queue at the limiter again.
  const healthyAt = Math.max(...m.inbox.filter((r) => r.healthy).map((r) => Date.parse(r.checkedAt)));
  const superseded = (r: ProbeReport) => !r.healthy && Date.parse(r.checkedAt) <= healthyAt;
  // The spec they carry (a config change) is taken still, as the batch would have taken it.
  const specs = m.inbox.filter((r) => superseded(r) && r.spec).sort((a, b) => Date.parse(a.checkedAt) - Date.parse(b.checkedAt));
  for (const r of specs) m.spec = r.spec!;
  m.inbox = m.inbox.filter((r) => !superseded(r));
  s.log('info', 'healthy again while queued for a fleet permit: request withdrawn');
  finishAttempt(s);
}

function permitIntent(s: Step): AskPermit {
  const { m } = s;
  const destructive = DESTRUCTIVE_STRATEGIES.includes(m.spec.component.policy.strategy);
  // A cheap one (spec.adaptive) is admitted by its host's adaptive window; the host goes along for that.
  const adaptive = m.spec.adaptive ? { adaptive: m.spec.adaptive, host: m.spec.component.host } : {};
  return {
    kind: 'ask-permit',
    component: m.id,
    max: m.spec.maxConcurrentRecoveries ?? 0,
    destructive,
    maxDestructivePerMinute: m.spec.maxDestructivePerMinute,
    ...adaptive,
  };
}

function permitted(s: Step): void {
  const { m, sup } = s;
  // Healthy again while waiting (fixed by hand, or it came back): nothing to recover.
  if (failureMoot(m)) return finishAttempt(s);
  // Failure reports that arrived while waiting (the sweep goes on checking) are evidence too.
  const evidenceAt = s.patched('inboxEvidence')
    ? Math.max(m.lastFailedCheckAt, ...m.inbox.filter((r) => !r.healthy).map((r) => Date.parse(r.checkedAt)))
    : m.lastFailedCheckAt;
  if (s.now - evidenceAt > Math.max(1_000, 4 * sup.confirmInterval)) {
    // A process seen gone does not come back by itself, and only the permit was waited for: the
    // (non-destructive) run stops whatever runs before it starts, so the look would only cost time.
    const cheap = !DESTRUCTIVE_STRATEGIES.includes(m.spec.component.policy.strategy);
    if (s.pass.pidExit === true && cheap && s.patched('pidExitNoLastLook')) return startRecovery(s);
    // The evidence went stale while waiting: one more look before acting.
    return s.await('last-look', { kind: 'confirm', component: m.spec.component, probes: 1, intervalMs: 0 });
  }
  startRecovery(s);
}

function lastLooked(s: Step, again: Confirmation): void {
  const { st } = s;
  st.lastReportAt = Math.max(st.lastReportAt ?? 0, Date.parse(again.lastAt));
  if (!again.healthy) return startRecovery(s);
  markHealthy(s, Date.parse(again.lastAt));
  if (!s.pass.oneTrial) st.breaker = dropLastRecovery(st.breaker);
  finishAttempt(s);
}

function recoveryReason(st: SupervisorState): string {
  return `${st.consecutiveFailures} failed checks (${st.lastFailureClass ?? 'unknown'}): ${st.lastDetail ?? ''}`;
}

/**
 * Starts the supervisor's own recovery, `mend/recover/<component>`, as a child it does not wait on to end.
 * `adopted`: a restart its pid watch did in place, which the run records instead of acting.
 */
function startRecovery(s: Step, adopted?: WatchRestart): void {
  const { m, st } = s;
  const component = m.spec.component;
  const strategy = component.policy.strategy;
  const reason = adopted ? `process exited (${adopted.exitDetail}): restarted in place by its pid watch` : recoveryReason(st);
  // The failure just confirmed goes along, so the run acts at once instead of probing again.
  const observed = { healthy: false, failureClass: st.lastFailureClass, detail: st.lastDetail ?? '', latencyMs: 0 };
  const input: RecoveryInput = {
    component,
    trigger: 'schedule',
    requestedBy: 'supervisor',
    reason,
    related: m.spec.related,
    observed,
    ...(adopted ? { adopted } : {}),
  };
  s.emit({ kind: 'stop-watch' });
  s.await('starting', {
    kind: 'start-recovery',
    // A restart done already is recorded by `immediate` (whose run adopts it), whatever the policy says now.
    workflowType: strategyWorkflowType(adopted ? 'immediate' : strategy),
    workflowId: recoveryWorkflowId(m.id),
    input,
    summary: adopted ? `recover ${m.id} (${strategy}, restarted by its pid watch)` : `recover ${m.id} (${strategy}, started by its supervisor)`,
    details: reason,
  });
}

/**
 * What the pid watch may do on an exit, armed now: restart in place, when such an exit would be
 * recovered at once with nothing else to decide: a process component whose policy is `immediate`,
 * no dependencies to check, not paused or drained, its host reachable and not just back, past its
 * start-up grace and detection backoff, the breaker closed with a slot free, and no strict fleet cap
 * (none, or the adaptive window of cheap recoveries, which the host's agent applies itself). Destructive
 * strategies, dependents and a tripped breaker keep the supervisor's own path. No breaker slot is
 * reserved while it is armed: only this watch can start a recovery until it ends (a pass disarms it
 * first), and a closed breaker with a slot free now still has one at any later exit.
 */
export function restartAuthorization(s: Pick<Step, 'm' | 'st' | 'sup' | 'now'>): WatchRestartAuth | undefined {
  const { m, st, sup, now } = s;
  const { component } = m.spec;
  const cap = m.spec.maxConcurrentRecoveries ?? 0;
  const allowed =
    component.adapter.type === 'process' &&
    // `!== false`: specs from before the option carry none.
    sup.restartInPlace !== false &&
    component.policy.strategy === 'immediate' &&
    (m.spec.dependencies ?? []).length === 0 &&
    !isPaused(st) &&
    st.unreachableHost === undefined &&
    st.hostReturned === undefined &&
    st.dependencyHostDown === undefined &&
    now >= st.graceUntil &&
    (st.ignoreUntil === undefined || now >= st.ignoreUntil) &&
    st.breaker.state === 'closed' &&
    reserveRecovery(st.breaker, sup.breaker, now).allow &&
    (cap === 0 || m.spec.adaptive !== undefined);
  if (!allowed) return undefined;
  const { timeout: timeoutMs, validateInterval: intervalMs, cleanupOnFailure } = component.policy;
  const backoffMs = restartDelay(st.consecutiveRecoveries, sup);
  // Only with a backoff to wait (an authorization that does not change is not re-armed).
  const backoffUntil = backoffMs > 0 && st.healthySince !== undefined ? st.healthySince + sup.backoffResetAfter : undefined;
  // Uncapped (no fleet cap): the window admits every restart at once, as the supervisors' own path would.
  const window = m.spec.adaptive ? { ...m.spec.adaptive, floor: Math.max(1, cap) } : { ceiling: UNCAPPED, slowMs: UNCAPPED, floor: UNCAPPED };
  return {
    cleanup: cleanupOnFailure,
    // `=== false`: as the immediate runbook reads it.
    ...(component.policy.validateAfterRecovery === false ? {} : { validate: { timeoutMs, intervalMs } }),
    backoffMs,
    ...(backoffUntil !== undefined ? { backoffUntil } : {}),
    window,
  };
}

/** An adaptive window that never holds a restart back. */
const UNCAPPED = 1_000_000;

/** The report a pid watch's restart in place becomes: a crash, seen at the exit, done already. */
export function restartedReport(restart: WatchRestart): ProbeReport {
  return {
    healthy: false,
    failureClass: 'crash',
    detail: `process exited (${restart.exitDetail})`,
    checkedAt: restart.exitAt,
    source: 'watch',
    restarted: restart,
  };
}

/** A pause or drain takes the authorization away: the watch is cancelled (a restart it began still comes back) and re-armed without. */
function disarmNow(s: Step): void {
  if (!s.m.watchRestarts) return;
  s.emit({ kind: 'stop-watch' });
  s.m.renewWatch = true;
}

/**
 * The pid watch restarted the component in place: noted as the crash it was, counted by the breaker
 * (a slot, committed when the run starts), and recorded as a recovery run that adopts what the watch
 * did (no action of its own), awaited as any recovery of this supervisor is.
 */
function adoptRestart(s: Step, report: ProbeReport, restart: WatchRestart): void {
  const { m, st, sup } = s;
  noteFailure(s, report);
  st.lastReportAt = Math.max(st.lastReportAt ?? 0, Date.parse(report.checkedAt));
  st.consecutiveFailures = Math.max(sup.failuresBeforeRecovery, st.consecutiveFailures + 1);
  m.pass = { stage: 'starting', since: s.now, failureClass: 'crash', oneTrial: s.patched('oneTrial'), started: false };
  // A recovery awaiting confirmation settles as it would at any confirmed failure (the breaker was closed when the watch was armed).
  if (s.pass.oneTrial) noteConfirmedFailure(s);
  const admitted = reserveRecovery(st.breaker, sup.breaker, s.now);
  if (admitted.allow) st.breaker = admitted.breaker;
  s.log('info', 'restarted in place by its pid watch', { healthy: restart.healthy, waitedMs: restart.waitedMs, backoffMs: restart.backoffMs });
  startRecovery(s, restart);
}

/** The watch armed to restart in place is gone: a restart it did is recorded; else the pass goes on as it would have. */
function disarmed(s: Step, pass: Pass, seen: RecordedWatchOutcome | undefined): void {
  const { m } = s;
  m.pass = undefined;
  if (seen?.restart) {
    m.batch.unshift(restartedReport(seen.restart));
    return handleBatch(s);
  }
  // An exit it saw without restarting (a recovery run held the component) is the failure handled now.
  maybeRecover(s, pass.failureClass, pass.pidExit === true, true);
  if (!m.pass) handleBatch(s);
}

/** Someone else's recovery runs (mend run, the API): it does not count against this supervisor's breaker. */
function alreadyRunning(s: Step): void {
  const { m, st } = s;
  // On the oneTrial branch the reservation is released when the attempt finishes.
  if (!s.pass.oneTrial) st.breaker = dropLastRecovery(st.breaker);
  if (s.patched('waitOutRuns')) return s.await('busy-lookup', { kind: 'find-recovery-run', workflowId: recoveryWorkflowId(m.id), waitMs: 0 });
  notStarted(s);
}

function busyLookedUp(s: Step, run: RecoveryRunSeen | undefined): void {
  if (!run) return notStarted(s);
  s.pass.busy = run;
  finishAttempt(s);
}

/** Let the other run finish, look again after a while; the next failed check is confirmed again before anything is done. */
function notStarted(s: Step): void {
  const { st, sup } = s;
  st.consecutiveFailures = 0;
  st.held = `a recovery already runs as ${recoveryWorkflowId(s.m.id)}`;
  st.ignoreUntil = s.now + Math.max(sup.interval, sup.cadence.min);
  finishAttempt(s);
}

function recoveryStarted(s: Step, runId: string): void {
  const { m, st, sup } = s;
  const pass = s.pass;
  pass.started = true;
  if (pass.free) {
    // The outage's one free recovery is taken: a failure after it is the component's own.
    st.hostReturned = undefined;
    st.unreachableHost = undefined;
    st.dependencyHostDown = undefined;
  } else if (pass.oneTrial) {
    st.breaker = commitReservation(st.breaker, sup.breaker, s.now);
    // Defensive: a recovery still awaiting confirmation when another starts did not hold.
    if (st.confirming) {
      st.stats = settleRecovery(st, 'relapsed', s.now);
      st.confirming = undefined;
    }
  }
  const record: RecoveryRecord = {
    workflowId: recoveryWorkflowId(m.id),
    runId,
    strategy: m.spec.component.policy.strategy,
    startedAt: new Date(s.now).toISOString(),
  };
  st.current = record;
  st.health = 'recovering';
  st.held = undefined;
  st.stats.attempted += 1;
  if (!pass.free) st.consecutiveRecoveries += 1;
  s.log('info', 'recovery started', {
    workflowId: record.workflowId,
    strategy: record.strategy,
    failureClass: st.lastFailureClass,
    reason: recoveryReason(st),
  });
  s.await('recovering', { kind: 'await-recovery' });
}

function recoveryEnded(s: Step, result: RecoveryResult | undefined, error: string | undefined): void {
  const { m, st, sup } = s;
  const oneTrial = s.pass.oneTrial;
  const record = st.current!;
  if (!result) record.reason = error;
  const endedMs = result ? Date.parse(result.endedAt) : s.now;
  const recovered = result?.outcome === 'recovered';
  record.endedAt = new Date(endedMs).toISOString();
  record.outcome = result?.outcome ?? 'failed';
  record.reason ??= result?.reason;
  // Reports probed before the recovery ended say nothing about the component now.
  st.lastReportAt = Math.max(st.lastReportAt ?? 0, endedMs);
  // Its host went away while it ran (so it could not act there): the host's doing, not the component's.
  const hostGone = !recovered && oneTrial === true && st.unreachableHost !== undefined && s.patched('hostOutageFree');
  if (hostGone && !s.pass.free) giveSlotBack(s, record);
  const trial = hostGone
    ? { breaker: st.breaker, opened: false }
    : oneTrial
      ? afterRecovery(st.breaker, sup.breaker, s.now, recovered)
      : afterTrial(st.breaker, sup, s.now, recovered);
  st.breaker = trial.breaker;
  if (recovered) {
    const mttr = endedMs - (st.firstFailedAt ?? Date.parse(record.startedAt));
    record.mttrMs = mttr;
    if (oneTrial) {
      // A success once it holds for the relapse window (tick), a relapse if it fails before.
      st.confirming = { runId: record.runId, endedAt: endedMs, until: endedMs + (sup.relapseWindow ?? DEFAULT_RELAPSE_WINDOW_MS), mttrMs: mttr };
    } else {
      const stats = st.stats;
      stats.succeeded += 1;
      stats.mttrs = [...stats.mttrs, mttr].slice(-KEEP_MTTRS);
      stats.lastMttrMs = mttr;
      stats.meanMttrMs = Math.round(((stats.meanMttrMs ?? 0) * (stats.succeeded - 1) + mttr) / stats.succeeded);
    }
    st.healthySince = undefined;
    markHealthy(s, endedMs);
    m.watchUnavailable = false;
    s.log('info', 'recovered', { workflowId: record.workflowId, mttrMs: mttr });
  } else {
    st.stats.failed += 1;
    st.health = 'unhealthy';
    s.log('warn', 'recovery did not recover the component', { workflowId: record.workflowId, outcome: record.outcome, reason: record.reason });
    const cls = result?.failureClass;
    // The host's workflow sends the one alert of the outage.
    if (!hostGone)
      s.notify(
        'recovery-failed',
        `${m.id}: recovery ${record.workflowId} ended ${record.outcome}${cls ? ` [${cls}]` : ''}${record.reason ? `: ${record.reason}` : ''}`,
        {
          workflowId: record.workflowId,
          runId: record.runId,
          ...(cls ? { failureClass: cls } : {}),
        },
      );
  }
  if (trial.opened) openedBreaker(s);
  st.stats.recent = [...st.stats.recent, record].slice(-KEEP_RECENT);
  st.current = undefined;
  finishAttempt(s);
}

/**
 * The host whose outage caused the failure being handled, if any: its host is marked unreachable
 * (a report came through before the host's workflow said it is back), or it came back lately and
 * the component was not seen healthy since, and failed first soon after (the sweeps fired at once).
 */
function outageCause(s: Step): string | undefined {
  const { st, sup } = s;
  if (st.unreachableHost !== undefined) return st.unreachableHost;
  const back = st.hostReturned;
  if (back && (st.firstFailedAt ?? s.now) <= back.at + Math.max(HOST_RETURN_WINDOW_MS, 3 * sup.interval)) return back.host;
  return undefined;
}

/** A recovery that could not act because its host went away: its breaker slot (and trial) and its restart backoff step go back. */
function giveSlotBack(s: Step, record: RecoveryRecord): void {
  const { st } = s;
  const startedMs = Date.parse(record.startedAt);
  const at = st.breaker.recoveries.lastIndexOf(startedMs);
  const breaker = { ...st.breaker, recoveries: at < 0 ? st.breaker.recoveries : st.breaker.recoveries.filter((_, n) => n !== at) };
  if (breaker.trialAt === startedMs) delete breaker.trialAt;
  st.breaker = breaker;
  st.consecutiveRecoveries = Math.max(0, st.consecutiveRecoveries - 1);
  s.log('info', 'recovery failed while its host was away: its breaker slot is given back', { workflowId: record.workflowId, host: st.unreachableHost });
}

/** Every way out of an attempt: the permit goes back, then an unused reservation, then a busy run is waited out. */
function finishAttempt(s: Step): void {
  if (s.pass.permit) {
    // How the recovery ended feeds the adaptive window (none ran: no news).
    const ran = s.pass.started === true ? s.st.stats.recent.at(-1) : undefined;
    return s.await('releasing', { kind: 'release-permit', component: s.m.id, ...(ran ? { ok: ran.outcome === 'recovered' } : {}) });
  }
  permitReleased(s);
}

function permitReleased(s: Step): void {
  const { st } = s;
  const pass = s.pass;
  pass.permit = false;
  if (pass.oneTrial && pass.started === false && st.breaker.reservedAt !== undefined) st.breaker = releaseReservation(st.breaker);
  if (pass.rethrow) return s.emit({ kind: 'throw' });
  if (pass.busy) return waitOut(s, pass.busy);
  endPass(s);
}

/** An intent failed (its retries spent): what was taken is given back, then the workflow fails with it. */
function failed(s: Step): void {
  const pass = s.pass;
  // A reset's check is a courtesy: the sweep goes on probing, so its failure does not end the supervisor.
  if (pass.stage === 'reset-check') {
    s.log('warn', 'the check after a breaker reset failed; the next sweep checks again');
    return endPass(s);
  }
  pass.rethrow = true;
  // The permit is held only from 'permit-granted' until 'permit-released'; the reservation from reserve until the attempt ends.
  // A permit asked for with the run lookup is held (or queued) before anything is reserved.
  if (pass.started === undefined && !pass.permit) return s.emit({ kind: 'throw' });
  finishAttempt(s);
}

/**
 * Waits until `first`, a recovery run this supervisor did not start, ends, and takes its result
 * as the news: healthy as of its end if it recovered, else unhealthy and counted afresh. Nothing
 * goes to the breaker or the statistics, and no alert: the run reports for itself.
 */
function waitOut(s: Step, first: RecoveryRunSeen): void {
  const { m, st } = s;
  const workflowId = recoveryWorkflowId(m.id);
  s.emit({ kind: 'stop-watch' });
  st.health = 'recovering';
  st.held = `recovery ${workflowId} (not started by this supervisor) holds the component: waiting it out`;
  s.log('info', 'waiting out a recovery run', { workflowId, runId: first.runId });
  m.pass = { stage: 'waiting-out', run: first };
  waitingOutStep(s, first);
}

function waitingOut(s: Step, seen: RecoveryRunSeen | undefined): void {
  if (!seen) return waitedOut(s, s.pass.run!);
  s.pass.run = seen;
  waitingOutStep(s, seen);
}

function waitingOutStep(s: Step, run: RecoveryRunSeen): void {
  s.st.waitedOutRunId = run.runId;
  if (run.running) return s.await('waiting-out', { kind: 'find-recovery-run', workflowId: recoveryWorkflowId(s.m.id), waitMs: RUN_WAIT_MS });
  waitedOut(s, run);
}

function waitedOut(s: Step, run: RecoveryRunSeen): void {
  const { m, st } = s;
  const endedMs = run.endedAt ? Date.parse(run.endedAt) : s.now;
  // Reports probed before the run ended say nothing about the component now.
  st.lastReportAt = Math.max(st.lastReportAt ?? 0, endedMs);
  st.consecutiveFailures = 0;
  if (run.outcome === 'recovered') {
    st.healthySince = undefined;
    markHealthy(s, endedMs);
    // The run started a new process: watch that one.
    m.watchUnavailable = false;
  } else {
    st.health = 'unhealthy';
    st.held = `recovery ${recoveryWorkflowId(m.id)} (not started by this supervisor) ended ${run.outcome ?? 'without a result'}${run.reason ? `: ${run.reason}` : ''}`;
  }
  endPass(s);
}
