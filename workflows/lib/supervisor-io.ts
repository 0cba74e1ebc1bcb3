/**
 * The supervisor's I/O: carries out the intents of core/supervisor-machine.ts (activities, the pid
 * watch, the recovery child, the fleet permit) and turns what came of each into the machine's next
 * event. Workflow code: it runs in the sandbox, and every command the supervisor issues is issued here,
 * in the order the machine's intents name them (replayed histories depend on that order).
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ActivityCancellationType,
  CancellationScope,
  ParentClosePolicy,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  sleep,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
  type Workflow,
} from '@temporalio/workflow';
import type { DependenciesResult, MendActivities } from '../../activities';
import { DEFAULT_HOST, fleetLimiterWorkflowId } from '../../core/constants';
import type { RecoveryResult } from '../../core/run';
import type { Component } from '../../core/schemas';
import {
  RUN_WAIT_MS,
  failureMoot,
  restartedReport,
  type RecordedWatchOutcome,
  type WatchRestartAuth,
  type AskPermit,
  type Intent,
  type MachineEvent,
  type SupervisorInput,
  type SupervisorMachine,
  type WaitIntent,
} from '../../core/supervisor-machine';
import { releaseSignal } from '../fleet-limiter';
import { byHost, carriedOn, HOST_QUEUES_PATCH, hostActivities } from './hosts';
import { adapterBudget } from './restart';
import { answerLost, lostRestart } from './lost-watch';
import { causeMessage } from './runbook';
import { DEPENDENCY_HOST_PATCH, HOLD_UNREACHABLE_PATCH, isPickupTimeout } from './unreachable';

/** Patch: the fleet permit goes back by a signal from the workflow instead of an activity. */
const RELEASE_BY_SIGNAL = 'supervisor-releases-permit-by-signal';
/** A watch renews after WATCH_MAX_MS; an exit is seen within WATCH_POLL_MS (a pid-file read and a /proc stat read per poll). */
const [WATCH_MAX_MS, WATCH_POLL_MS] = [5 * 60_000, 100];

// Every activity the supervisor calls, by group; their call sites are all in `act` and `io` below.
// Confirmation probes and the pid watch run on the component's (or the dependency's) host: see workflows/lib/hosts.ts.
const probes = ({ host }: { host?: string }) =>
  hostActivities(host, {
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '30s',
    retry: { initialInterval: '200ms', maximumInterval: '5s', maximumAttempts: 3 },
  });
const watcher = ({ host }: { host?: string }) =>
  hostActivities(
    host,
    {
      startToCloseTimeout: WATCH_MAX_MS + 60_000,
      heartbeatTimeout: '5s',
      retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 5 },
    },
    { lasting: true },
  );
/**
 * A watch armed to restart in place: as the watch, plus the restart's own time (its backoff, a turn in
 * the host's window, stop + start + validation); a cancellation waits for its outcome, since a restart
 * it began is finished and must be recorded (see activities/watch-restart.ts).
 */
const restartingWatcher = (component: Component, auth: WatchRestartAuth) =>
  hostActivities(
    component.host,
    {
      startToCloseTimeout:
        WATCH_MAX_MS +
        60_000 +
        auth.backoffMs +
        adapterBudget(component, 'stop') +
        adapterBudget(component, 'start') +
        (auth.validate?.timeoutMs ?? 0) +
        WINDOW_WAIT_MS,
      heartbeatTimeout: '5s',
      retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 5 },
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    },
    { lasting: true },
  );
/** Room for a restart's turn in its host's adaptive window in a mass outage. */
const WINDOW_WAIT_MS = 10 * 60_000;
const runs = proxyActivities<MendActivities>({
  startToCloseTimeout: RUN_WAIT_MS + 60_000,
  heartbeatTimeout: '10s',
  retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 5 },
});
const fleet = proxyActivities<MendActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 3 } });
const alerts = proxyActivities<MendActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 } });

/** The supervisor's intent executors; see `supervisorIo`. */
export interface SupervisorIo {
  /** Carries out an intent at once (the one to wait on is left to `io`). */
  act(i: Intent): void;
  /** Carries out the intent the machine waits on; what came of it is the next event. */
  io(i: WaitIntent): Promise<MachineEvent>;
  /** The first event of a run: the loop top. */
  start(): MachineEvent;
  /** The fleet limiter granted a permit to `component` (by `permitSignal`). */
  granted(component: string): void;
}

/**
 * The I/O of one supervisor run. `machine` reads the current machine (its inbox and watch flag wake a
 * wait); `feed` hands it an event that arrives outside the loop (a pid watch's end).
 */
export function supervisorIo(input: SupervisorInput, machine: () => SupervisorMachine, feed: (ev: MachineEvent) => unknown): SupervisorIo {
  let [permitted, watch] = [false, undefined as CancellationScope | undefined];
  /** What the armed watch may do (WatchRestartAuth as JSON), if armed to restart in place. */
  let armedAs: string | undefined;
  /** Outcomes of watches armed to restart in place, until they end (cancelled or not: a restart begun comes back). */
  const restarting = new Map<CancellationScope, Promise<RecordedWatchOutcome | undefined>>();
  /** Those whose outcome a disarm (or continue-as-new) takes: not fed as a watch-ended. */
  const claimed = new Set<CancellationScope>();
  let child: ChildWorkflowHandle<Workflow> | undefined, failure: unknown;

  function act(i: Intent): void {
    if (i.kind === 'log') log[i.level](i.message, i.fields);
    // Not awaited: an alert never holds up detection or a recovery.
    else if (i.kind === 'notify') void alerts.notifyWebhook({ url: i.url, timeoutMs: i.timeoutMs, event: i.event }).catch(() => undefined);
    // Not awaited either: the host's workflow notifies once per outage, however many supervisors report it.
    else if (i.kind === 'host-down')
      void alerts
        .reportHostOutage({
          taskQueue: workflowInfo().taskQueue,
          report: { host: i.host, by: `supervisor ${i.component}`, seenAt: new Date(Date.now()).toISOString(), components: [i.component], notify: i.notify },
        })
        .catch((err: unknown) => log.warn('host outage not reported', { host: i.host, error: causeMessage(err) }));
    else if (i.kind === 'stop-watch') {
      watch?.cancel();
      [watch, armedAs] = [undefined, undefined];
    } else if (i.kind === 'watch') {
      // Armed already as asked: kept. Armed otherwise (only ever on the watchRestarts branch): replaced.
      const as = i.restart && JSON.stringify(i.restart);
      if (watch && as === armedAs) return;
      watch?.cancel();
      const scope = (watch = new CancellationScope());
      armedAs = as;
      const ended = (ev?: MachineEvent) => {
        if (watch === scope) [watch, armedAs] = [undefined, undefined];
        if (ev && !claimed.has(scope)) feed(ev);
      };
      const input = { component: i.component, maxMs: WATCH_MAX_MS, pollMs: WATCH_POLL_MS };
      const [auth, armedAt] = [i.restart, Date.now()];
      const watched = scope.run(() =>
        auth ? restartingWatcher(i.component, auth).watchProcess({ ...input, restart: auth }) : watcher(i.component).watchProcess(input),
      );
      // Cancelled, then ended without an answer (its agent died): what it restarted is looked up on its host (workflows/lib/lost-watch.ts).
      let lost: Promise<RecordedWatchOutcome | undefined> | undefined;
      const lookUp = (err: unknown) => (lost ??= lostRestart(i.component, auth!, armedAt, err));
      // Not on a host known unreachable: nobody there would answer (what it did there is its own outage's).
      const lostThere = (err: unknown) => machine().state.unreachableHost === undefined && answerLost(scope, err);
      if (auth) {
        const outcome = watched.then(
          (seen): RecordedWatchOutcome | undefined => seen,
          (err: unknown) => (lostThere(err) ? lookUp(err) : undefined),
        );
        restarting.set(scope, outcome);
        void outcome.then(() => restarting.delete(scope));
      }
      const failed = (err: unknown): MachineEvent | undefined =>
        isCancellation(err)
          ? undefined
          : // Not picked up on its host: the machine decides (behind its hostOutage patch) whether that holds for the host.
            { kind: 'watch-ended', error: causeMessage(err), ...(isPickupTimeout(err) ? { unreachable: i.component.host ?? DEFAULT_HOST } : {}) };
      void watched.then(
        (seen) => ended({ kind: 'watch-ended', seen }),
        (err: unknown) =>
          auth && lostThere(err) ? void lookUp(err).then((seen) => ended(seen ? { kind: 'watch-ended', seen } : failed(err))) : ended(failed(err)),
      );
    }
  }

  /** Queues this supervisor at the fleet limiter; the permit comes by `permitSignal` (see `granted`). */
  async function askPermit(i: AskPermit): Promise<void> {
    permitted = false;
    const { taskQueue, workflowId: supervisorId } = workflowInfo();
    await fleet.requestFleetPermit({
      taskQueue,
      supervisorId,
      component: i.component,
      max: i.max,
      destructive: i.destructive,
      maxDestructivePerMinute: i.maxDestructivePerMinute,
      adaptive: i.adaptive,
      host: i.host,
    });
  }

  /** The permit, or (`wake`) the failure made moot by a newer healthy report first: the machine decides which it is. */
  async function permit(wake: boolean): Promise<MachineEvent> {
    await condition(() => permitted || (wake && failureMoot(machine())));
    return event(permitted ? 'permit-granted' : 'permit-moot');
  }

  /** Waits for the watches armed to restart in place that have not ended, and takes their outcomes (not fed as watch-ended). */
  async function takeRestarting(): Promise<Array<RecordedWatchOutcome | undefined>> {
    const pending = [...restarting.entries()];
    for (const [scope] of pending) claimed.add(scope);
    return await Promise.all(pending.map(([, outcome]) => outcome));
  }

  /** What came of an intent, as of now. */
  const event = (kind: MachineEvent['kind'], rest: object = {}) => ({ kind, now: Date.now(), ...rest }) as MachineEvent;
  const historyFull = ({ continueAsNewSuggested, historyLength } = workflowInfo()) => continueAsNewSuggested || historyLength > (input.historyLimit ?? 10_000);

  async function io(i: WaitIntent): Promise<MachineEvent> {
    switch (i.kind) {
      case 'loop':
        return event('loop', { historyFull: historyFull() });
      case 'continue':
        return event('continue');
      case 'wait':
        await condition(
          () => machine().inbox.length > 0 || machine().renewWatch || machine().checkDue === true,
          i.until === undefined ? undefined : Math.max(1, i.until - Date.now()),
        );
        return event('woke');
      case 'continue-as-new': {
        // A watch armed to restart in place (cancelled by now) may be restarting: what it did goes along, for the next run to record.
        const restarts = (await takeRestarting()).flatMap((seen) => (seen?.restart ? [restartedReport(seen.restart)] : []));
        return await makeContinueAsNewFunc<(input: SupervisorInput) => Promise<void>>(carriedOn())({
          spec: i.spec,
          state: i.state,
          pending: [...i.pending, ...restarts],
          historyLimit: input.historyLimit,
        });
      }
      case 'disarm-watch': {
        if (armedAs !== undefined) {
          watch?.cancel();
          [watch, armedAs] = [undefined, undefined];
        }
        if (!i.wait) return event('watch-disarmed');
        const seen = (await takeRestarting()).find((o) => o?.restart) ?? undefined;
        return event('watch-disarmed', seen ? { seen } : {});
      }
      case 'throw':
        throw failure;
      case 'await-recovery':
        return event(
          'recovery-ended',
          await child!.result().then(
            (result: RecoveryResult) => ({ result }),
            (err: unknown) => ({ error: causeMessage(err) }),
          ),
        );
      case 'release-permit': {
        const { taskQueue } = workflowInfo();
        // A signal hands the permit on without an activity's round trip through a task queue that a mass outage fills.
        const released = patched(RELEASE_BY_SIGNAL)
          ? getExternalWorkflowHandle(fleetLimiterWorkflowId(taskQueue)).signal(releaseSignal, { component: i.component, ok: i.ok })
          : fleet.releaseFleetPermit({ taskQueue, component: i.component, ok: i.ok });
        await released.catch((err: unknown) => log.warn('fleet permit not released', { component: machine().id, error: causeMessage(err) }));
        return event('permit-released');
      }
    }
    try {
      switch (i.kind) {
        case 'confirm':
          return event('confirmed', {
            result: await probes(i.component).confirmFailure({ component: i.component, probes: i.probes, intervalMs: i.intervalMs }),
          });
        case 'find-recovery-run':
          return event('recovery-run', await runs.recoveryRun({ workflowId: i.workflowId, waitMs: i.waitMs }));
        case 'check-dependencies':
          return event('dependencies', { waitingFor: await dependenciesNotReady(i.dependencies) });
        case 'sleep':
          await sleep(i.ms);
          return event('slept');
        case 'ask-permit':
          await askPermit(i);
          return await permit(i.wakeOnHealthy === true);
        case 'find-run-ask-permit': {
          // Both at once, in one workflow task: the lookup's answer and the queue position both come a round trip sooner.
          const [seen] = await Promise.all([runs.recoveryRun({ workflowId: i.workflowId, waitMs: i.waitMs }), askPermit(i.permit)]);
          return event('recovery-run', seen);
        }
        case 'await-permit':
          return await permit(i.wakeOnHealthy === true);
        case 'start-recovery': {
          const options = {
            workflowId: i.workflowId,
            args: [i.input],
            parentClosePolicy: ParentClosePolicy.ABANDON,
            staticSummary: i.summary,
            staticDetails: i.details,
            ...carriedOn(),
          };
          child = await startChild(i.workflowType, options).catch((err: unknown) =>
            err instanceof WorkflowExecutionAlreadyStartedError ? undefined : Promise.reject(err),
          );
          return child ? event('recovery-started', { runId: child.firstExecutionRunId }) : event('recovery-already-running');
        }
      }
    } catch (err) {
      // A confirmation probe no agent picked up: the host is unreachable, not the component failed.
      if (i.kind === 'confirm' && isPickupTimeout(err) && patched(HOLD_UNREACHABLE_PATCH))
        return event('host-unreachable', { host: i.component.host ?? DEFAULT_HOST });
      // Its retries are spent: what the pass holds is given back, then the supervisor fails with it (as it always did).
      failure = err;
      return event('failed');
    }
  }

  return {
    act,
    io,
    start: () => event('loop', { historyFull: historyFull() }),
    granted: (component) => void (permitted ||= component === machine().id),
  };
}

/**
 * Which dependencies are not ready, each probed from its own host (one activity per host, at once).
 * A host whose agent picked nothing up is one entry, `host <id>` (unreachable): the dependent holds
 * for it as for any down dependency, instead of failing (behind DEPENDENCY_HOST_PATCH).
 */
async function dependenciesNotReady(dependencies: Component[]): Promise<DependenciesResult['waitingFor']> {
  if (!patched(HOST_QUEUES_PATCH)) return (await probes({}).dependenciesNotReady({ dependencies })).waitingFor;
  const groups = byHost(dependencies, (dep) => dep);
  const check = ({ host, items }: { host: string; items: Component[] }) => probes({ host }).dependenciesNotReady({ dependencies: items });
  if (!patched(DEPENDENCY_HOST_PATCH)) return (await Promise.all(groups.map(check))).flatMap((f) => f.waitingFor);
  const found = await Promise.allSettled(groups.map(check));
  const failed = found.find((f): f is PromiseRejectedResult => f.status === 'rejected' && !isPickupTimeout(f.reason));
  if (failed) throw failed.reason;
  return found.flatMap((f, n) => (f.status === 'fulfilled' ? f.value.waitingFor : [{ id: `host ${groups[n]!.host}`, reason: 'unreachable' }]));
}
