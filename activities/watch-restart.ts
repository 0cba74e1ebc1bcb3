/**
 * A pid watch that restarts in place (issue 16): when its supervisor armed it with a
 * WatchRestartAuth (an exit now would be recovered at once, with nothing else to decide), the watch
 * does the restart itself on seeing the exit (stop-if-alive, clean, start, wait until healthy: the
 * same sub-steps as the one-activity restart of activities/restart.ts), admitted by its host's
 * adaptive window (domain/adaptive-window.ts) instead of a round trip to the fleet limiter. Its
 * result lists the sub-steps with their times; the supervisor records them as a recovery run.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { recoveryWorkflowId, runKey } from '../core/constants';
import { FAILURE_CLASSES } from '../core/failure';
import { hostStatusSignal, pauseSupervisionSignal } from '../core/messages';
import type { RestartStepDone, WatchRestart } from '../core/run';
import type { Component } from '../core/schemas';
import type { WatchRestartAuth } from '../core/supervisor-machine';
import { isAlive, runningProcess, processAdapter } from '../domain/adapters/process';
import type { AdaptiveWindow } from '../domain/adaptive-window';
import { restartProcess, startedByEarlierAttempt, validationNote, type RestartParts, type RestartResult, type SubStep } from './restart';
import type { ArmedWatches, WatchInput, WatchResult } from './supervision';

/** What the watch heartbeats once it saw the exit: a retry resumes the restart instead of watching the new process. */
interface ExitSeen {
  at: string;
  detail: string;
}

export interface WatchRestartDeps {
  parts: RestartParts;
  /** The plain watch (activities/supervision.ts watchProcess). */
  watch: (input: WatchInput) => Promise<WatchResult>;
  window: AdaptiveWindow;
  /** Aborted when the worker begins to stop: a held answer goes at once. */
  shutdown?: AbortSignal;
  /** The component's watches on this worker: told while this one restarts and holds (see ArmedWatches). */
  armed?: ArmedWatches;
}

const plainSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Idempotent, so safe to retry: watching is read-only; once the exit is seen it is heartbeated, and
 * the restart is activities/restart.ts's (every sub-step idempotent, a retry resumes after a
 * recorded start, and a start whose heartbeat was lost is found by its pid file). A retry whose
 * heartbeat lost the exit too finds a live process started after this watch was first scheduled:
 * that is the earlier attempt's restart, validated, not started again. Once the restart has begun
 * it is finished even when the watch is cancelled (its supervisor waits for the outcome): a restart
 * is never left half done, nor done and not reported.
 */
export async function watchAndRestart(deps: WatchRestartDeps, input: WatchInput & { restart: WatchRestartAuth }): Promise<WatchResult> {
  const ctx = Context.current();
  const { component, restart: auth } = input;
  const prior = ctx.info.heartbeatDetails as { exit?: ExitSeen } | undefined;
  let exit = prior?.exit;
  let fresh = false;
  if (!exit && ctx.info.attempt > 1) {
    // Also when that attempt's worker died between its spawn and the pid file write: the process
    // is found by its environment (and adopted), else the watch would find no pid file and give up.
    const now = await startedByEarlierAttempt(component, ctx.info.scheduledTimestampMs);
    if (now)
      exit = { at: new Date(ctx.info.scheduledTimestampMs).toISOString(), detail: `exited (restarted as pid ${now.pid} by an earlier attempt of this watch)` };
  }
  if (!exit) {
    const seen = await deps.watch(input);
    if (!seen.exited || seen.reason !== 'exited') return seen;
    // Disarmed meanwhile (a pause, a drain, a pass of its supervisor: the cancellation reaches an
    // activity only with a heartbeat's answer, seconds later), or a recovery run holds the component
    // (its own stop is this exit): not the watch's to restart. Its supervisor learns of the exit.
    if (await disarmedOrHeld(component.id)) return seen;
    exit = { at: seen.at, detail: seen.detail };
    fresh = true;
  }
  const seenExit = exit;
  // Until the restart begins (the backoff, a turn in the host's window) the watch beats with the exit;
  // from then on the restart's own heartbeats carry the exit with its progress.
  const waiting = () => ctx.heartbeat({ exit: seenExit, steps: [] });
  waiting();
  const beating = setInterval(waiting, 1_000);
  const exitMs = Date.parse(seenExit.at);
  const backoffMs = auth.backoffUntil !== undefined && exitMs >= auth.backoffUntil ? 0 : auth.backoffMs;
  // Seen by this attempt and started again meanwhile (by hand, or a run, during the backoff): nothing
  // left to restart. (A retry leaves a process started since to the restart, which tells an earlier
  // attempt's start from none.)
  const since = await plainSleep(exitMs + backoffMs - Date.now()).then(() => (fresh ? runningProcess(processAdapter(component)) : undefined));
  if (since && Date.parse(since.startedAt) >= exitMs) {
    clearInterval(beating);
    return { exited: true, reason: 'exited', detail: seenExit.detail, at: seenExit.at };
  }
  // From here on the restart is finished whatever happens to the watch (no cancellable sleep in it).
  const parts: RestartParts = { ...deps.parts, waitHealthy: (i, beat) => deps.parts.waitHealthy(i, beat, plainSleep) };
  const key = runKey(recoveryWorkflowId(component.id), `watch${exitMs.toString(36)}`);
  const restartInput = { component, cleanup: auth.cleanup, runKey: key, validate: auth.validate };
  let restarted: RestartResult | undefined;
  const restarting = { holding: false, ended: false, endHold: () => void (restarting.ended = true) };
  if (deps.armed) deps.armed.restarting = restarting;
  try {
    const { value, waitedMs } = await deps.window
      .run(
        auth.window,
        () => {
          clearInterval(beating);
          return restartProcess(parts, restartInput, { exit: seenExit })
            .then((r) => (restarted = r))
            .then(done, failedRestart);
        },
        (r) => r.healthy,
      )
      .finally(() => clearInterval(beating));
    const endedAt = Date.now();
    // Its heartbeats go on with the restart's progress, so a retry of this attempt only validates it.
    if (value.healthy && restarted) {
      restarting.holding = true;
      await holdThroughBurst(deps, component, restarting, () => ctx.heartbeat({ exit: seenExit, ...progressOf(restarted!) }));
    }
    const restart: WatchRestart = { exitAt: seenExit.at, exitDetail: seenExit.detail, backoffMs, waitedMs, endedAt: new Date(endedAt).toISOString(), ...value };
    return { exited: true, reason: 'exited', detail: seenExit.detail, at: seenExit.at, restart };
  } finally {
    if (deps.armed?.restarting === restarting) deps.armed.restarting = undefined;
  }
}

/**
 * The longest a watch holds its answer after a restart while others on its host go on (see
 * holdThroughBurst), and how often it looks whether they have ended.
 */
const [HOLD_MAX_MS, HOLD_POLL_MS] = [10_000, 100];

/**
 * A restart done while its host's window still has restarts running or waiting (a mass outage) is
 * reported once they are all done (or after HOLD_MAX_MS), not at once. A report wakes its supervisor,
 * which records a recovery run: some five workflow tasks, about 0.1 s of worker and server CPU per
 * restart, measured; a burst of 50 spent that CPU while the other 49 processes were starting up. The
 * restart is done already and its times are recorded as they were; only the record comes later.
 * It is reported at once when its process exits meanwhile (the supervisor must see that exit), when
 * a sweep finds it failing (`hold.ended`: the sweep reports that as ever), when the supervisor
 * cancels the watch (a pass waits for the outcome), or when the worker stops.
 */
async function holdThroughBurst(deps: WatchRestartDeps, component: Component, hold: { ended: boolean }, beat: () => void): Promise<void> {
  const ctx = Context.current();
  // The process it restarted, read once: only /proc is looked at while it holds.
  const restarted = await runningProcess(processAdapter(component));
  if (!restarted) return;
  const until = Date.now() + HOLD_MAX_MS;
  const burstGoesOn = () => {
    const { running, waiting } = deps.window.state();
    return running + waiting > 0;
  };
  while (burstGoesOn() && Date.now() < until && !hold.ended && !ctx.cancellationSignal.aborted && !deps.shutdown?.aborted) {
    if (!isAlive(restarted)) return;
    beat();
    await plainSleep(HOLD_POLL_MS);
  }
}

/** What a restart's heartbeats carry (activities/restart.ts): a retry with them resumes after the start. */
function progressOf(r: RestartResult): object {
  return { steps: r.steps, before: r.before, started: r.started };
}

type Done = Pick<WatchRestart, 'steps' | 'healthy' | 'failureClass' | 'reason'>;

function done(r: RestartResult): Done {
  const steps = r.steps as RestartStepDone[];
  if (r.started.died) return { steps, healthy: false, failureClass: 'crash', reason: `${r.started.detail}, which ${r.started.died.detail}` };
  if (!r.validated) return { steps, healthy: true };
  if (r.validated.healthy) return { steps, healthy: true };
  return { steps, healthy: false, failureClass: r.validated.last.failureClass, reason: validationNote(r.validated) };
}

/** A sub-step that threw: the restart failed there (reported, not retried by the watch: its supervisor's breaker counts it). */
function failedRestart(err: unknown): Done {
  const details = (err as { details?: unknown[] }).details?.[0] as { steps?: SubStep[] } | undefined;
  const type = (err as { type?: string }).type;
  const failureClass = FAILURE_CLASSES.find((c) => c === type) ?? 'unknown';
  return { steps: (details?.steps ?? []) as RestartStepDone[], healthy: false, failureClass, reason: err instanceof Error ? err.message : String(err) };
}

/**
 * Whether the watch's supervisor run has ended, asked to cancel it (its pending activity says so at once, while the
 * cancellation reaches the activity only with a heartbeat's answer), moved on to a newer attempt of it, or has a recovery run going, or
 * a recovery run of the component goes (a manual one). A supervisor with a workflow task pending
 * may be about to disarm it (a pause or drain accepted, not yet handled): unless that task carries
 * no such thing (mayDisarm), looked at again once it is done, within SETTLE_MS (else: held). Read-only: describes. A lookup that fails says
 * yes (held): the supervisor then decides, as it would without the authorization.
 */
async function disarmedOrHeld(id: string): Promise<boolean> {
  const { client, info } = Context.current();
  const from = info.workflowExecution;
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const [supervisor, run] = await Promise.all([
      // Scheduled by no workflow (an activity run on its own, as in tests): nobody to disarm it.
      from
        ? client.workflow
            .getHandle(from.workflowId, from.runId)
            .describe()
            .catch(() => 'unknown' as const)
        : undefined,
      client.workflow
        .getHandle(recoveryWorkflowId(id))
        .describe()
        .catch((err: unknown) => (err instanceof WorkflowNotFoundError ? undefined : ('unknown' as const))),
    ]);
    if (supervisor === 'unknown' || run === 'unknown' || run?.status.name === 'RUNNING') return true;
    // Its supervisor run has ended (terminated: the component is no longer watched, e.g. removed
    // from the config and stopped; continued as new: the new run arms its own watch): no one would
    // record a restart, and an operator's stop must not be undone.
    if (supervisor && supervisor.status.name !== 'RUNNING') return true;
    const mine = supervisor?.raw.pendingActivities?.find((a) => a.activityId === info.activityId);
    if (mine?.state === CANCEL_REQUESTED || (supervisor?.raw.pendingChildren ?? []).length > 0) return true;
    // Superseded: the server timed this attempt out (a late heartbeat on a loaded box) and a newer one
    // runs or is due; this one still runs here, and must not restart what that one also sees exit.
    if ((mine?.attempt ?? 0) > info.attempt) return true;
    const task = supervisor?.raw.pendingWorkflowTask;
    if (!task) return false;
    // A task waiting for a worker (common in a mass outage, where tasks wait seconds) for a timer or
    // a report only: nothing in it disarms the watch. (One a worker has started may have signals
    // buffered that its history does not show yet: waited for, as any.)
    if (from && task.state === TASK_SCHEDULED && !(await mayDisarm(client, from))) return false;
    if (Date.now() >= deadline) return true;
    Context.current().heartbeat();
    await plainSleep(SETTLE_POLL_MS);
  }
}

/** Signals whose handling disarms a watch armed to restart (a pause or a drain; a host's news). */
const DISARMING_SIGNALS: readonly string[] = [pauseSupervisionSignal.name, hostStatusSignal.name];

/**
 * Whether what the supervisor's pending workflow task (scheduled, not started: its history holds all
 * it will handle) may disarm the watch: a pause, a drain or a host's news signalled, or an update,
 * since its last task completed (its newest events, read newest first). Unsure (more events than
 * one page, an error): yes. Read-only.
 */
async function mayDisarm(client: Client, execution: { workflowId: string; runId: string }): Promise<boolean> {
  const page = await client.workflowService
    .getWorkflowExecutionHistoryReverse({ namespace: client.options.namespace, execution, maximumPageSize: 50 })
    .catch(() => undefined);
  const events = page?.history?.events ?? [];
  // Started since it was described: signals may be buffered out of sight.
  if (events[0]?.workflowTaskStartedEventAttributes) return true;
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) return false;
    const signal = e.workflowExecutionSignaledEventAttributes?.signalName;
    if ((signal && DISARMING_SIGNALS.includes(signal)) || e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateAdmittedEventAttributes)
      return true;
  }
  return true;
}

/** How long a watch waits for its supervisor's pending workflow task before it leaves the exit to the supervisor; how often it looks. */
const [SETTLE_MS, SETTLE_POLL_MS] = [5_000, 50];

const CANCEL_REQUESTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED;
const TASK_SCHEDULED = temporal.api.enums.v1.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED;

/** What the workflow knows of a watch armed to restart whose answer never came (its agent died after the cancellation). */
export interface LostWatchInput {
  component: Component;
  restart: WatchRestartAuth;
  /** When the watch was armed (ms, the supervisor's clock): a process started since is its restart. */
  since: number;
  /** The watch's last heartbeat that reached the server (its exit and the sub-steps done), if any. */
  lastBeat?: unknown;
}

/**
 * A watch armed to restart that its supervisor cancelled (to re-arm it, or for a pass) is not
 * retried when its agent dies: the server ends it with a timeout, and a restart it had done would go
 * unrecorded. This looks for that restart on the host: a live process of the component started
 * since the watch was armed (by its pid file, or by its environment when the start was cut off
 * before the write), waited for until healthy as the watch would have. Found: the restart as the
 * watch would have reported it (the sub-steps its last heartbeat carried, then the start). Not found:
 * nothing was restarted. Read-only (it only looks, adopts an unrecorded process into its pid file,
 * and probes), so safe to retry; it never starts anything.
 */
export async function findLostWatchRestart(deps: Pick<WatchRestartDeps, 'parts'>, input: LostWatchInput): Promise<WatchResult> {
  const { component, restart: auth, since } = input;
  const beat = input.lastBeat as { exit?: ExitSeen; steps?: RestartStepDone[] } | undefined;
  const at = new Date().toISOString();
  const found = await startedByEarlierAttempt(component, since);
  if (!found) return { exited: false, detail: 'no process started since the watch was armed: it restarted nothing', at };
  // When the exit came is known only from a heartbeat; else its latest possible time, the restart's start (not the arming, which may be long before).
  const exit = beat?.exit ?? { at: found.startedAt, detail: `exited (restarted as pid ${found.pid} by a pid watch whose answer was lost)` };
  const startDetail = `started pid ${found.pid} (by a pid watch whose answer was lost, at ${found.startedAt})`;
  const steps: RestartStepDone[] = [
    ...(beat?.steps ?? []).filter((s) => s.status === 'ok' && s.name !== 'start' && s.name !== 'validate'),
    { name: 'start', status: 'ok', startedAt: found.startedAt, endedAt: found.startedAt, durationMs: 0, detail: startDetail },
  ];
  const ctx = Context.current();
  const validated = auth.validate ? await deps.parts.waitHealthy({ component, ...auth.validate }, () => ctx.heartbeat(), plainSleep) : undefined;
  const endedAt = new Date().toISOString();
  if (validated) {
    const v = validated;
    steps.push({
      name: 'validate',
      status: v.healthy ? 'ok' : 'failed',
      startedAt: at,
      endedAt,
      durationMs: Date.parse(endedAt) - Date.parse(at),
      detail: validationNote(v),
    });
  }
  const healthy = validated?.healthy ?? true;
  const restart: WatchRestart = {
    exitAt: exit.at,
    exitDetail: exit.detail,
    steps,
    healthy,
    ...(healthy ? {} : { failureClass: validated!.last.failureClass ?? 'unknown', reason: validationNote(validated!) }),
    backoffMs: 0,
    waitedMs: 0,
    endedAt,
  };
  return { exited: true, reason: 'exited', detail: exit.detail, at: exit.at, restart };
}
