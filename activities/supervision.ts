/**
 * Activities of detection and supervision: the scheduled sweep (probe a group, report to
 * supervisors), fast confirmation probes, the pid watch of process components, the fleet-wide
 * count of running recoveries, and alerts. Each is safe to run twice (see each comment).
 */
import { Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { fleetLimiterWorkflowId, healthScheduleId, healthSpecsWorkflowId, recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';

const HEALTH_PREFIX = healthScheduleId('');
import type { ProbeResult } from '../core/failure';
import { acquireSignal, fleetStateQuery, releaseSignal, reportSignal } from '../core/messages';
import type { Component } from '../core/schemas';
import type { PermitRequest, ProbeReport, SupervisorSpec } from '../core/supervision';
import type { RecoveryRunSeen, WatchOutcome, WatchRestartAuth } from '../core/supervisor-machine';
import { adoptUnrecorded, exitStatus, exitText, isAlive, processAdapter, readPidFile } from '../domain/adapters/process';
import { createLimiter } from '../domain/limit';
import { probeOverlapping } from '../domain/probes/overlapping';
import { postWebhook, type NotifyEvent, type WebhookResult } from '../domain/notify/webhook';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import {
  dependencyCameBack,
  IN_PASS_REPEAT_MS,
  reportDue,
  sentReport,
  UNHEALTHY_REPEAT_MS,
  type ReportDue,
  type SentReport,
  type Verdict,
} from '../core/sweep-reports';
import { createSweepSpecsReader, type SweepSpecsReader } from './sweep-specs';

export interface SweepInput {
  group: string;
  /** The specs to probe (a firing of a schedule reconciled before `sweep-input-by-revision`); otherwise read by `scheduleId` and `revision`. */
  specs?: SupervisorSpec[];
  /** The schedule whose specs (at `revision`) to probe, read from its holder once per revision. */
  scheduleId?: string;
  /** Task queue the supervisors run on. */
  taskQueue: string;
  /** The schedule's revision: after a config change every component reports once (a retired supervisor comes back if re-added). */
  revision?: string;
}

export interface SweepResult {
  probed: number;
  unhealthy: string[];
  /** Components whose supervisor was sent a report. */
  reported: string[];
  /** Hosts of the sweep whose agent picked nothing up: skipped (and reported to their host's workflow). */
  unreachable?: string[];
}

export interface ProbeLoopInput {
  group: string;
  /** The schedule whose specs (at `revision`) to probe, and whose state (paused, revision) ends the loop. */
  scheduleId: string;
  taskQueue: string;
  revision: string;
  intervalMs: number;
  /** When the lease ends (ISO): the firing's start plus the lease, the same for a retry. */
  until: string;
}

/** Why a probe loop ended: its lease ran out, its schedule was paused, deleted or changed, or its worker stopped. */
export type ProbeLoopEnd = 'lease' | 'paused' | 'deleted' | 'revision' | 'shutdown';

export interface ProbeLoopResult extends SweepResult {
  /** Sweeps run in the lease. */
  sweeps: number;
  /** Of those, how many took longer than the interval (the next one then starts late, never two at once). */
  late: number;
  /** The longest sweep (ms). */
  longestMs: number;
  ended: ProbeLoopEnd;
}

export interface ConfirmInput {
  component: Component;
  probes: number;
  intervalMs: number;
}

export interface ConfirmResult {
  /** True as soon as one confirmation probe was healthy (the first failure was a blip). */
  healthy: boolean;
  probes: number;
  failures: number;
  last: ProbeResult;
  /** When the last probe answered (or timed out). */
  lastAt: string;
}

export interface DependenciesInput {
  dependencies: Component[];
}

export interface DependenciesResult {
  /** The dependencies not ready, each with why: a recovery of it runs, or its probe fails. */
  waitingFor: Array<{ id: string; reason: string }>;
}

export interface WatchInput {
  component: Component;
  /** Return (not exited) after this long, so the supervisor can renew the watch and its history stays short. */
  maxMs: number;
  pollMs: number;
  /** Set by a supervisor that authorizes the watch to restart the process in place on its exit (activities/watch-restart.ts). */
  restart?: WatchRestartAuth;
}

export interface RecoveryRunInput {
  /** `mend/recover/<component>`. */
  workflowId: string;
  /** While the run is going, wait up to this long for it to end (0: look once). */
  waitMs: number;
  /** Spacing of the looks while waiting. */
  pollMs?: number;
}

export interface RecoveryRunResult {
  /** The latest run under that id, if there is one. */
  run?: RecoveryRunSeen;
}

/** One component's probes in a sweep: the last result, when it was known, and how many probes failed. */
interface Probed {
  spec: SupervisorSpec;
  result: ProbeResult;
  checkedAt: string;
  failures: number;
}

/** How the watch ended, with why (`reason`) typed: the supervisor never reads `detail` to decide. `at`: when it was seen (ISO). */
export type WatchResult = WatchOutcome;

/**
 * Components probed at once by one worker, over all its sweeps. Without a cap, 5,000 components
 * fired 5,000 probes in the same instant and, on a busy 2-core machine, thousands timed out
 * (false failures, each one confirmation activity more). With it, a sweep of all-hung components
 * takes (count / cap) × probe timeout.
 */
export const SWEEP_PROBE_CONCURRENCY = 256;
/** Supervisor reports (signal-with-start) one worker sends at once, over all its sweeps. */
export const SWEEP_REPORT_CONCURRENCY = 64;

/**
 * `shutdown`, when aborted (the worker is stopping), ends pid watches at once (as "still alive"), so
 * a stopping worker is not held for its grace time; the supervisor renews the watch on another worker.
 */
/** The pid watches of a worker armed to restart one component in place (activities/index.ts counts them). */
export interface ArmedWatches {
  watches: number;
  pidFile: string;
  /**
   * Set while one of them restarts the process in place (its answer will tell the supervisor), and
   * `holding` once the restart is done and the answer held through its host's burst
   * (activities/watch-restart.ts); `endHold` sends the answer at once.
   */
  restarting?: { holding: boolean; endHold(): void };
}

export function createSupervisionActivities(
  probe: (component: Component) => Promise<ProbeResult>,
  shutdown?: AbortSignal,
  /** `repeatMs`, `inPassRepeatMs`: how often an unchanged failure is re-sent (core/sweep-reports.ts); `now`: the clock (tests). */
  limits: { probes?: number; reports?: number; repeatMs?: number; inPassRepeatMs?: number; now?: () => number } = {},
  sweepSpecs: SweepSpecsReader = createSweepSpecsReader(),
  /** The memo of the supervisors its sweeps start (ActivityDeps.defaultHostEmbedded). */
  supervisorMemo?: Record<string, unknown>,
  /** Components a pid watch of this worker restarted in place, healthy (component → when): their supervisors hear it from the watch. */
  restartedInPlace: Map<string, number> = new Map(),
  /** Components with a pid watch of this worker armed to restart in place (component → the watches running, its pid file here). */
  armedToRestart: Map<string, ArmedWatches> = new Map(),
) {
  /** What this worker last told each supervisor: what is sent again, and when, is core/sweep-reports.ts's call. */
  const lastSent = new Map<string, SentReport>();
  /**
   * Already known to a supervisor without a report: its pid watch (on this worker) saw the process
   * exit (component → when), after this worker last probed it healthy (key → when).
   */
  const exitSeen = new Map<string, number>();
  const healthySeen = new Map<string, number>();
  const repeatMs = limits.repeatMs ?? UNHEALTHY_REPEAT_MS;
  const inPassRepeatMs = limits.inPassRepeatMs ?? IN_PASS_REPEAT_MS;
  const clock = limits.now ?? Date.now;
  const probeSlot = createLimiter(limits.probes ?? SWEEP_PROBE_CONCURRENCY);
  const reportSlot = createLimiter(limits.reports ?? SWEEP_REPORT_CONCURRENCY);
  const scheduleWatch = createScheduleWatch();

  /**
   * A spec's JSON (what a verdict compares to tell a changed spec), once per spec object: a probe
   * loop sweeps the same cached specs every interval, and stringifying 500 of them a second was
   * CPU the agent spent for nothing.
   */
  const specTexts = new WeakMap<SupervisorSpec, string>();
  const specText = (spec: SupervisorSpec) => {
    let text = specTexts.get(spec);
    if (text === undefined) specTexts.set(spec, (text = JSON.stringify(spec)));
    return text;
  };

  const safeProbe = (component: Component) =>
    probe(component).catch((err: Error): ProbeResult => ({ healthy: false, failureClass: 'unknown', detail: `probe error: ${err.message}`, latencyMs: 0 }));

  /**
   * A failure of a process whose pid watch on this worker is armed to restart it in place, and whose
   * recorded process is gone, or which that watch is restarting now (a new process not answering
   * yet): the watch sees the exit within its poll (100 ms) and restarts it, and its answer tells the
   * supervisor. A report now would have the supervisor confirm and cancel the watch to recover by its
   * own longer path (a race the sweep won a few times in a mass outage, and often once restarts no
   * longer queued behind the worker's forks). A live process (a hang, an error answer) is reported as
   * ever: the watch does not act on it. A restart done whose answer the watch holds (its host's
   * burst goes on) is reported too, and the watch answers at once.
   */
  const watchWillRestart = async (id: string, verdict: Verdict) => {
    const armed = armedToRestart.get(id);
    if (verdict.healthy || !armed || armed.watches === 0) return false;
    if (armed.restarting?.holding) armed.restarting.endHold();
    else if (armed.restarting) return true;
    const record = await readPidFile(armed.pidFile);
    return record !== undefined && !isAlive(record);
  };

  /** The verdict changed, but its supervisor may know already (then `knownWithout` says as of when). */
  const alreadyKnown = (prev: SentReport, verdict: Verdict, key: string, id: string) =>
    prev.spec === verdict.spec &&
    prev.revision === verdict.revision &&
    prev.healthy !== verdict.healthy &&
    (verdict.healthy || (exitSeen.get(id) ?? 0) > (healthySeen.get(key) ?? Number.POSITIVE_INFINITY));

  /**
   * As of when (ms) its supervisor knows the new verdict without a report, or undefined (send it):
   * down: its pid watch saw the process exit since it was last probed healthy here; up: its pid watch
   * restarted it in place, healthy, since (the watch's answer tells it), or the recovery run it
   * started (its child, which it awaits) closed recovered after the failure last sent.
   */
  async function knownWithout(client: Client, prev: SentReport, verdict: Verdict, id: string): Promise<number | undefined> {
    if (!verdict.healthy) return exitSeen.get(id);
    const restarted = restartedInPlace.get(id);
    if (restarted !== undefined && restarted > prev.checkedAt) return restarted;
    const handle = client.workflow.getHandle(recoveryWorkflowId(id));
    const run = await handle.describe().catch(() => undefined);
    const closedAt = run?.closeTime?.getTime();
    if (!run || run.status.name !== 'COMPLETED' || closedAt === undefined || closedAt <= prev.checkedAt) return undefined;
    if (run.parentExecution?.workflowId !== supervisorWorkflowId(id)) return undefined;
    const result = (await handle.result().catch(() => undefined)) as { outcome?: string } | undefined;
    return result?.outcome === 'recovered' ? closedAt : undefined;
  }

  /**
   * One sweep of `specs`: probe them all (at most the worker's probe cap at once), and signal the
   * supervisors core/sweep-reports.ts says need a report. A component without dependencies is
   * reported as soon as its own probes are done, not after the sweep's slowest; one with
   * dependencies after them all (whether a dependency came back is read from this sweep's view).
   * `beat`: called as probes and reports complete (the activity's heartbeat).
   */
  async function sweepOnce(
    client: Client,
    { group, specs, taskQueue, revision }: { group: string; specs: SupervisorSpec[]; taskQueue: string; revision: string },
    beat: () => void,
  ): Promise<SweepResult> {
    const keyOf = (id: string) => `${taskQueue}\u0000${id}`;
    // As known before this sweep sends anything: a dependency's return is read from it.
    const before = new Map(specs.map((spec) => [spec.component.id, lastSent.get(keyOf(spec.component.id))]));
    const healthyNow = new Map<string, boolean>();
    const known = (id: string) => ({ prev: before.has(id) ? before.get(id) : lastSent.get(keyOf(id)), healthyNow: healthyNow.get(id) });
    // Who is queued for or holds a fleet permit, asked of the limiter at most once a sweep (only if a repeat may be spared).
    let queued: Promise<Set<string> | undefined> | undefined;
    const permits = () => (queued ??= permitHolders(client, taskQueue));
    const reported: string[] = [];

    const reportIfDue = async ({ spec, result, checkedAt, failures }: Probed, now: number): Promise<void> => {
      const id = spec.component.id;
      const key = keyOf(id);
      const verdict: Verdict = {
        healthy: result.healthy,
        failureClass: result.failureClass,
        spec: specText(spec),
        revision,
        intervalMs: spec.component.supervision.interval,
      };
      const prev = before.get(id);
      const dependencyBack =
        !result.healthy &&
        dependencyCameBack(
          (spec.dependencies ?? []).map((d) => d.id),
          known,
          now,
          repeatMs,
        );
      const due = reportDue(prev, verdict, now, { repeatMs, inPassRepeatMs, dependencyBack });
      const knownAt =
        due === true && prev && alreadyKnown(prev, verdict, key, id)
          ? await reportSlot(() => knownWithout(client, prev, verdict, id))
          : due === true && (await watchWillRestart(id, verdict))
            ? now
            : undefined;
      if (result.healthy) healthySeen.set(key, now);
      if (knownAt !== undefined) {
        // Its supervisor knows (from its pid watch, or from the run it started): remembered as told.
        lastSent.set(key, sentReport(prev, verdict, now, knownAt));
        return;
      }
      if (due === false) return;
      if (due !== true && !(await reportSlot(() => neededAgain(client, spec, due, permits)))) return;
      const report: ProbeReport = {
        healthy: result.healthy,
        failureClass: result.failureClass,
        detail: result.detail,
        checkedAt,
        source: 'sweep',
        spec,
        ...(failures > 1 ? { failures } : {}),
      };
      await reportSlot(() =>
        client.workflow.signalWithStart(WORKFLOW_TYPES.supervisor, {
          workflowId: supervisorWorkflowId(id),
          taskQueue,
          args: [{ spec }],
          ...(supervisorMemo ? { memo: supervisorMemo } : {}),
          signal: reportSignal,
          signalArgs: [report],
          staticSummary: `supervise ${id} (health group ${group})`,
        }),
      );
      lastSent.set(key, sentReport(prev, verdict, now, Date.parse(checkedAt)));
      reported.push(id);
      beat();
    };

    // Reports under way while the other probes run; their first error is the sweep's, once all are done.
    const early: Promise<void>[] = [];
    let earlyError: { err: unknown } | undefined;
    const later: Probed[] = [];
    const results = await Promise.all(
      specs.map((spec) =>
        probeSlot(async (): Promise<Probed> => {
          const { result, failures } = await probeOverlapping(spec.component, safeProbe);
          // When the verdict was known: a timeout is evidence as of its end, not of its start (the
          // supervisor looks again at evidence it thinks stale, which cost a hang a second timeout).
          const probed = { spec, result, checkedAt: new Date().toISOString(), failures };
          healthyNow.set(spec.component.id, result.healthy);
          if ((spec.dependencies ?? []).length > 0) later.push(probed);
          else early.push(reportIfDue(probed, clock()).catch((err: unknown) => void (earlyError ??= { err })));
          return probed;
        }),
      ),
    );
    beat();
    const now = clock();
    await Promise.all([...early, ...later.map((probed) => reportIfDue(probed, now))]);
    if (earlyError) throw earlyError.err;
    const unhealthy = results.filter((r) => !r.result.healthy).map((r) => r.spec.component.id);
    // Every sweep while a component is down: debug (its supervisor logs what it does about it).
    if (unhealthy.length > 0) log.debug('sweep found unhealthy components', { group, unhealthy });
    return { probed: results.length, unhealthy, reported };
  }

  return {
    /**
     * Probes a group's components (given, or its schedule's specs at the firing's revision) concurrently and signals-with-start the supervisor of each one that
     * changed, was not reported lately, or whose failure it needs again (core/sweep-reports.ts). Safe twice: probes and
     * the run lookups change nothing, and a supervisor drops a report that is not newer than the last one it handled.
     */
    async sweepHealth({ group, specs: given, scheduleId, taskQueue, revision = '' }: SweepInput): Promise<SweepResult> {
      const ctx = Context.current();
      const client = ctx.client;
      const specs = given ?? (scheduleId === undefined ? [] : (await sweepSpecs(client, scheduleId, revision)).specs);
      return sweepOnce(client, { group, specs, taskQueue, revision }, heartbeats(ctx));
    },

    /**
     * A health schedule's firing with a lease (`supervision.checkLease`): sweeps its specs every
     * `intervalMs` until `until` (the firing's start plus the lease; a retry after a lost agent resumes
     * the same lease), heartbeating as probes and reports complete, so an agent that dies mid-lease is
     * noticed within the heartbeat timeout and the retry (on the host's queue) finds it gone.
     * Every SCHEDULE_LOOK_MS it looks at its schedule (createScheduleWatch): paused (by an operator,
     * or for its host's outage), deleted, or at a new revision (a reconcile), it ends at once; the
     * next firing of a changed schedule carries the new revision. Also ends when the worker stops. Safe twice, as
     * `sweepHealth`: each sweep probes and reports what is due, nothing else.
     */
    async probeLoop({ group, scheduleId, taskQueue, revision, intervalMs, until }: ProbeLoopInput): Promise<ProbeLoopResult> {
      const ctx = Context.current();
      const client = ctx.client;
      const ends = Date.parse(until);
      let sweeps = 0;
      // The sweeps so far: in its pending activity's heartbeat details (`temporal workflow describe`).
      const beat = heartbeats(ctx, () => ({ sweeps }));
      let specs = (await sweepSpecs(client, scheduleId, revision)).specs;
      const reported = new Set<string>();
      let probed = 0;
      let unhealthy: string[] = [];
      let late = 0;
      let longestMs = 0;
      const done = (ended: ProbeLoopEnd): ProbeLoopResult => ({ sweeps, probed, unhealthy, reported: [...reported], late, longestMs, ended });
      let lookedAt = Date.now();
      for (;;) {
        const tick = Date.now();
        const swept = await sweepOnce(client, { group, specs, taskQueue, revision }, beat);
        sweeps += 1;
        probed += swept.probed;
        unhealthy = swept.unhealthy;
        for (const id of swept.reported) reported.add(id);
        const tookMs = Date.now() - tick;
        longestMs = Math.max(longestMs, tookMs);
        if (tookMs > intervalMs) late += 1;
        beat();
        if (shutdown?.aborted) return done('shutdown');
        if (Date.now() - lookedAt >= SCHEDULE_LOOK_MS) {
          lookedAt = Date.now();
          const stop = await scheduleWatch(client, scheduleId, revision);
          if (stop) return done(stop);
        }
        // The next sweep one interval after this one began (never two at once, never a burst to catch up).
        const next = Math.max(Date.now(), tick + intervalMs);
        if (next >= ends) return done('lease');
        await ctx.sleep(next - Date.now());
        // The specs are cached per revision: the same array, unless the holder was replaced meanwhile.
        specs = (await sweepSpecs(client, scheduleId, revision)).specs;
      }
    },

    /** Read-only: probes up to `probes` times, `intervalMs` apart, stopping at the first healthy answer. */
    async confirmFailure({ component, probes, intervalMs }: ConfirmInput): Promise<ConfirmResult> {
      const ctx = Context.current();
      let failures = 0;
      let last: ProbeResult = { healthy: false, detail: 'not probed', latencyMs: 0 };
      let lastAt = new Date().toISOString();
      for (let i = 0; i < probes; i++) {
        if (i > 0) await ctx.sleep(intervalMs);
        last = await probe(component);
        lastAt = new Date().toISOString();
        ctx.heartbeat({ probe: i + 1 });
        if (last.healthy) return { healthy: true, probes: i + 1, failures, last, lastAt };
        failures += 1;
      }
      return { healthy: false, probes, failures, last, lastAt };
    },

    /**
     * Read-only (a describe and a probe per dependency), so safe twice: which of a component's
     * dependencies are not ready for it to be restarted, because a recovery of it (`mend/recover/<id>`)
     * is running or because its probe fails.
     */
    async dependenciesNotReady({ dependencies }: DependenciesInput): Promise<DependenciesResult> {
      const client = Context.current().client;
      const found = await Promise.all(
        dependencies.map(async (dep): Promise<{ id: string; reason: string } | undefined> => {
          const run = await client.workflow
            .getHandle(recoveryWorkflowId(dep.id))
            .describe()
            .catch((err: unknown) => {
              if (err instanceof WorkflowNotFoundError) return undefined;
              throw err;
            });
          if (run?.status.name === 'RUNNING') return { id: dep.id, reason: `recovery ${recoveryWorkflowId(dep.id)} running` };
          const health = await safeProbe(dep);
          return health.healthy ? undefined : { id: dep.id, reason: `${health.failureClass ?? 'unhealthy'}: ${health.detail}` };
        }),
      );
      return { waitingFor: found.filter((f): f is { id: string; reason: string } => f !== undefined) };
    },

    /**
     * Read-only (but for adopting a process its pid file lost, see below): watches the process the pid file names when the watch starts, every `pollMs` (a
     * zombie counts as exited), and returns when it is gone, or after `maxMs`. The process is watched,
     * not the file: a stop that removes the file (or a restart that replaces it) before the next look
     * is an exit too, and is reported, so the supervisor always learns of it (and can tell a recovery
     * run's stop from a crash). Cancelled with the supervisor's watch scope.
     */
    async watchProcess({ component, maxMs, pollMs }: WatchInput): Promise<WatchResult> {
      const ctx = Context.current();
      const adapter = processAdapter(component);
      const started = Date.now();
      // No pid file but a live process carrying it in its environment: a start cut off (its worker
      // died) between the spawn and the write. It is the component's process: adopted and watched.
      const watched = adapter.pidFile ? ((await readPidFile(adapter.pidFile)) ?? (await adoptUnrecorded(adapter))) : undefined;
      if (!watched) return { exited: true, reason: 'pid-file-missing', detail: 'no process recorded (pid file missing)', at: new Date().toISOString() };
      for (;;) {
        if (!isAlive(watched)) {
          // Its exit code or signal, when this worker started it (only a parent learns them).
          const exit = adapter.pidFile ? await exitStatus(adapter.pidFile, watched.pid) : undefined;
          // Its supervisor hears of it from this answer: the sweep on this worker need not tell it again.
          exitSeen.set(component.id, clock());
          return { exited: true, reason: 'exited', detail: `pid ${watched.pid} exited: ${exitText(exit)}`, at: new Date().toISOString() };
        }
        if (Date.now() - started >= maxMs || shutdown?.aborted) return { exited: false, detail: `pid ${watched.pid} alive`, at: new Date().toISOString() };
        ctx.heartbeat();
        await ctx.sleep(pollMs);
      }
    },

    /**
     * Read-only (describes and reads results), so safe twice: the latest run under a recovery id,
     * whether it still goes, and how it ended; while it goes, looks again every `pollMs` for up to
     * `waitMs`. A supervisor waits out a recovery it did not start with it.
     */
    async recoveryRun({ workflowId, waitMs, pollMs = 200 }: RecoveryRunInput): Promise<RecoveryRunResult> {
      const ctx = Context.current();
      const client = ctx.client;
      const deadline = Date.now() + waitMs;
      for (;;) {
        const described = await client.workflow
          .getHandle(workflowId)
          .describe()
          .catch((err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return undefined;
            throw err;
          });
        if (!described) return {};
        const running = described.status.name === 'RUNNING';
        if (running && Date.now() < deadline) {
          ctx.heartbeat();
          await ctx.sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
          continue;
        }
        const run: NonNullable<RecoveryRunResult['run']> = { runId: described.runId, startedAt: described.startTime.toISOString(), running };
        if (running) return { run };
        run.closedAt = (described.closeTime ?? new Date()).toISOString();
        run.endedAt = run.closedAt;
        if (described.status.name === 'COMPLETED') {
          const result = (await client.workflow.getHandle(workflowId, described.runId).result()) as { outcome?: string; reason?: string; endedAt?: string };
          run.outcome = result.outcome ?? 'failed';
          run.reason = result.reason;
          run.endedAt = result.endedAt ?? run.closedAt;
        } else {
          run.outcome = described.status.name === 'CANCELLED' ? 'cancelled' : 'failed';
          run.reason = `run ${described.status.name.toLowerCase()}`;
        }
        return { run };
      }
    },

    /** Asks the fleet limiter for a recovery permit (starting it if needed). Safe twice: the limiter queues a component once. */
    async requestFleetPermit(req: PermitRequest & { taskQueue: string }): Promise<void> {
      const { taskQueue, ...request } = req;
      await Context.current().client.workflow.signalWithStart(WORKFLOW_TYPES.fleetLimiter, {
        workflowId: fleetLimiterWorkflowId(taskQueue),
        taskQueue,
        args: [{}],
        signal: acquireSignal,
        signalArgs: [request],
        staticSummary: `fleet-wide cap on recoveries started by supervisors (queue ${taskQueue})`,
      });
    },

    /** Gives a permit back. Safe twice: releasing what is not held changes nothing. */
    async releaseFleetPermit(req: { taskQueue: string; component: string; ok?: boolean }): Promise<void> {
      await Context.current()
        .client.workflow.getHandle(fleetLimiterWorkflowId(req.taskQueue))
        .signal(releaseSignal, { component: req.component, ok: req.ok })
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
    },

    /** An alert may arrive twice (a retry after a lost answer); it never throws, so it never holds a recovery up. */
    async notifyWebhook({ url, timeoutMs, event }: { url: string; timeoutMs: number; event: NotifyEvent }): Promise<WebhookResult> {
      const result = await postWebhook(url, event, timeoutMs);
      if (!result.delivered) log.warn('webhook not delivered', { url, kind: event.kind, component: event.component, detail: result.detail });
      return result;
    },
  };
}

/** How often a probe loop looks at its schedule (paused, deleted, a new revision): a pause stops the checks within about this long. */
export const SCHEDULE_LOOK_MS = 2_000;

/** An activity heartbeat (with `details()`) at most once a second, however often it is called (per probe in a sweep). */
function heartbeats(ctx: Context, details: () => unknown = () => undefined): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last < 1_000) return;
    last = now;
    ctx.heartbeat(details());
  };
}

/**
 * Why a probe loop must end now, or undefined (go on), as a worker's loops ask it every
 * SCHEDULE_LOOK_MS. Read-only and cheap for the server: a schedule's `describe` is a query its
 * scheduler workflow answers (at 20 loops every 2 s they queued for tens of seconds behind the
 * schedules' own ticks), so instead:
 *  - paused: one list of the schedules (visibility) per worker and SCHEDULE_LOOK_MS, shared by its loops;
 *  - a new revision, or deleted: the schedule's specs holder (`mend/health-specs/...`, a workflow
 *    describe): reconcile replaces it for a new revision and terminates it with its schedule.
 * A look that fails or is slow says "go on" (the next look, or the lease's end, stops it).
 */
function createScheduleWatch() {
  let listed: { at: number; paused: Promise<Map<string, boolean>> } | undefined;

  async function listPaused(client: Client): Promise<Map<string, boolean>> {
    const paused = new Map<string, boolean>();
    await client.connection
      .withDeadline(Date.now() + SCHEDULE_LOOK_MS, async () => {
        for await (const schedule of client.schedule.list())
          if (schedule.scheduleId.startsWith(HEALTH_PREFIX)) paused.set(schedule.scheduleId, schedule.state.paused);
      })
      .catch(() => undefined);
    return paused;
  }

  return async function scheduleStops(client: Client, scheduleId: string, revision: string): Promise<ProbeLoopEnd | undefined> {
    if (!listed || Date.now() - listed.at >= SCHEDULE_LOOK_MS) listed = { at: Date.now(), paused: listPaused(client) };
    const [paused, holder] = await Promise.all([
      listed.paused,
      client.connection
        .withDeadline(Date.now() + SCHEDULE_LOOK_MS, () => client.workflow.getHandle(healthSpecsWorkflowId(scheduleId)).describe())
        .catch((err: unknown) => (err instanceof WorkflowNotFoundError ? ('gone' as const) : undefined)),
    ]);
    if (paused.get(scheduleId) === true) return 'paused';
    if (holder === 'gone') return 'deleted';
    if (holder === undefined) return undefined;
    if (holder.memo?.mendSpecHash !== revision) return 'revision';
    // Its holder ended, not replaced: the schedule was deleted.
    return holder.status.name === 'RUNNING' ? undefined : 'deleted';
  };
}

/** How long a sweep waits for the fleet limiter's answer before it re-sends as if it had none. */
const LIMITER_QUERY_MS = 2_000;

/**
 * Whether an unchanged failure is needed again (`due` from core/sweep-reports.ts): its recovery run
 * (`mend/recover/<id>`) closed after the failure last sent; or the repeat time is up and the
 * supervisor is not known to be acting on it (its own run going, or queued for or holding a fleet
 * permit). Read-only (a describe, and the limiter's state once a sweep). A lookup that fails says
 * "needed" (a report too many costs less than one missed).
 */
async function neededAgain(
  client: Client,
  spec: SupervisorSpec,
  due: Exclude<ReportDue, boolean>,
  permits: () => Promise<Set<string> | undefined>,
): Promise<boolean> {
  const id = spec.component.id;
  const described = await client.workflow
    .getHandle(recoveryWorkflowId(id))
    .describe()
    .catch((err: unknown) => (err instanceof WorkflowNotFoundError ? undefined : ('unknown' as const)));
  if (described === 'unknown') return true;
  const running = described?.status.name === 'RUNNING';
  if (described && !running && (described.closeTime?.getTime() ?? Number.POSITIVE_INFINITY) > due.runClosedSince) return true;
  if (!due.repeat) return false;
  // Its own run (a child of its supervisor): every report probed before the run ends is dropped.
  if (running) return described.parentExecution?.workflowId !== supervisorWorkflowId(id);
  if (!(spec.maxConcurrentRecoveries! > 0)) return true;
  return (await permits())?.has(id) !== true;
}

/** The components queued for or holding a permit of the task queue's fleet limiter; undefined when it does not answer in time. */
async function permitHolders(client: Client, taskQueue: string): Promise<Set<string> | undefined> {
  // The connection's deadline ends the call itself (as client/query-gate.ts does), not just the wait for it.
  const state = await client.connection
    .withDeadline(Date.now() + LIMITER_QUERY_MS, () => client.workflow.getHandle(fleetLimiterWorkflowId(taskQueue)).query(fleetStateQuery))
    .catch(() => undefined);
  return state && new Set([...state.holders.map((h) => h.component), ...state.waiting.map((w) => w.component)]);
}
