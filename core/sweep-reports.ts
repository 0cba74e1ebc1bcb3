/**
 * Which of a sweep's verdicts its supervisor needs (pure; the sweep activity keeps the memory).
 * Every report wakes the supervisor workflow (a workflow task), and during a mass outage the box
 * that runs the recoveries also runs those tasks: an unchanged failure is not sent every sweep.
 *
 * What a supervisor does with a repeated failure (core/supervisor-machine.ts):
 * - idle and healthy: the first failure starts a pass. It is a change: sent at once (unless its
 *   pid watch on the same worker saw the process exit: the supervisor has that report already;
 *   likewise a return its own recovery run reported, see activities/supervision.ts).
 * - confirming, looking for a run, checking dependencies, backing off, queued for a permit: the
 *   reports wait in its inbox. Only a healthy one matters (`failureMoot`); a failure there only keeps
 *   the evidence fresh, and stale evidence costs one confirmation probe (`permitted`'s last look).
 * - a recovery run going (its own, or one it waits out): reports probed before the run ended are
 *   dropped when it ends. None is needed until the run is over.
 * - the run is over (failed, or recovered and the component failed again before a sweep saw it
 *   healthy): the next failure starts a new pass, or settles a relapse within the relapse window.
 *   Needed as soon as the run closed: `runClosedSince` asks the sweep to look the run up.
 * - held (startup grace, detection backoff, breaker, pause, another's run, a host away): the next
 *   failure after the hold looks again. Bounded: a failure is repeated at least every
 *   UNHEALTHY_REPEAT_MS, which also bounds how long a supervisor that missed one (new, restarted,
 *   or its last look came out healthy) takes to learn of a failure that persists.
 * - held for its dependencies: the next failure after they are back. The sweep knows when a
 *   dependency it probes comes back, and repeats the dependent's failure for a while after.
 */

/** What a sweep last sent a component's supervisor. */
export interface SentReport {
  healthy: boolean;
  failureClass?: string;
  /** When it was sent (ms). */
  at: number;
  /** Its probe's time (ms): a supervisor drops a report probed before a recovery run ended. */
  checkedAt: number;
  /** When the verdict last changed (ms): a dependency's return prompts its dependents' repeats. */
  changedAt: number;
  spec: string;
  revision: string;
}

/** This sweep's verdict on a component. */
export interface Verdict {
  healthy: boolean;
  failureClass?: string;
  spec: string;
  revision: string;
  /** The component's check interval (ms). */
  intervalMs: number;
}

/** Healthy components are re-reported at least this often (so a new supervisor appears, config changes arrive). */
export const REFRESH_MS = 10 * 60_000;
/** An unchanged failure is re-sent at least this often (or every sweep, when its interval is longer). */
export const UNHEALTHY_REPEAT_MS = 5_000;
/**
 * ... and at least this often while its supervisor is known to be acting on it (queued for a fleet
 * permit or holding one, or its own recovery run going): it needs nothing until then, but a
 * supervisor gone meanwhile (a stale permit holder) still hears of the failure within this long.
 */
export const IN_PASS_REPEAT_MS = 30_000;

/**
 * Send now (`true`), not (`false`), or it depends (the sweep looks the component's recovery run up):
 * - `runClosedSince`: the run closed after it, the probe of the last failure sent, so the supervisor
 *   needs the failure again, as of a probe after the run's end (it drops those probed before): send.
 * - otherwise, `repeat`: the repeat time is up: send, unless the supervisor is known to be acting
 *   on the failure (its own run goes, or it is queued for or holds a fleet permit).
 */
export type ReportDue = boolean | { runClosedSince: number; repeat: boolean };

export function reportDue(
  prev: SentReport | undefined,
  now: Verdict,
  at: number,
  opts: { repeatMs?: number; inPassRepeatMs?: number; dependencyBack?: boolean } = {},
): ReportDue {
  if (!prev || prev.spec !== now.spec || prev.revision !== now.revision || prev.healthy !== now.healthy) return true;
  if (now.healthy) return at - prev.at >= REFRESH_MS;
  if (prev.failureClass !== now.failureClass) return true;
  // Half an interval of slack: a sweep that fires a moment early still repeats on time.
  const since = at - prev.at + now.intervalMs / 2;
  if (since >= (opts.inPassRepeatMs ?? IN_PASS_REPEAT_MS)) return true;
  if (opts.dependencyBack) return true;
  return { runClosedSince: prev.checkedAt, repeat: since >= (opts.repeatMs ?? UNHEALTHY_REPEAT_MS) };
}

/** What is remembered once a verdict was sent. */
export function sentReport(prev: SentReport | undefined, now: Verdict, at: number, checkedAt: number): SentReport {
  const changed = !prev || prev.healthy !== now.healthy;
  return {
    healthy: now.healthy,
    ...(now.failureClass !== undefined ? { failureClass: now.failureClass } : {}),
    at,
    checkedAt,
    changedAt: changed ? at : prev.changedAt,
    spec: now.spec,
    revision: now.revision,
  };
}

/**
 * Whether one of `dependencies` came back lately, as this sweeper knows them: healthy in this sweep
 * after a failure sent before, or its return sent within `repeatMs`. Its dependent, held for it,
 * looks again at the next failure: that is repeated every sweep for a while, not after the repeat time.
 */
export function dependencyCameBack(
  dependencies: readonly string[],
  known: (id: string) => { prev?: SentReport; healthyNow?: boolean },
  at: number,
  repeatMs = UNHEALTHY_REPEAT_MS,
): boolean {
  return dependencies.some((id) => {
    const { prev, healthyNow } = known(id);
    if (!prev) return false;
    if (healthyNow === true && !prev.healthy) return true;
    return prev.healthy && healthyNow !== false && at - prev.changedAt < repeatMs;
  });
}
