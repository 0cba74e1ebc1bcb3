/**
 * A pid watch armed to restart in place that its supervisor cancelled (to re-arm it with a new
 * authorization, to disarm it for a pause or a pass) is not retried when its agent dies: the server
 * ends it with a timeout, and a restart it had begun or done would go unrecorded (issue 16's chaos
 * soak). Its supervisor then asks the host what the watch did (activities/watch-restart.ts
 * findLostWatchRestart): a process started since the watch was armed is its restart.
 */
import { CancellationScope, CancelledFailure, TimeoutFailure, isCancellation, patched } from '@temporalio/workflow';
import type { RecordedWatchOutcome, WatchRestartAuth } from '../../core/supervisor-machine';
import type { Component } from '../../core/schemas';
import { hostActivities } from './hosts';
import { isPickupTimeout } from './unreachable';

/** Patch: a cancelled armed watch that ended without an answer has its restart looked up on its host. */
export const LOST_WATCH_PATCH = 'supervisor-looks-up-lost-watch-restart';
/**
 * Patch: so has one the server cancelled between two attempts (the first timed out, the next not
 * started yet): the first may have restarted the process before its agent died.
 */
export const LOST_BETWEEN_ATTEMPTS_PATCH = 'supervisor-looks-up-watch-restart-between-attempts';

/** What the server puts in the details of an activity it cancelled itself, no attempt running. */
const NOT_STARTED = 'ACTIVITY_ID_NOT_STARTED';

/**
 * Whether a watch armed to restart ended without telling what it did: cancelled by its supervisor,
 * then failed (not picked up is not that), or cancelled by the server with no attempt running to
 * answer. A watch that answered its cancellation itself restarted nothing (it would have finished
 * the restart and reported it).
 */
export function answerLost(scope: CancellationScope, err: unknown): boolean {
  if (!scope.consideredCancelled || isPickupTimeout(err)) return false;
  if (!isCancellation(err)) return patched(LOST_WATCH_PATCH);
  return cancelledUnstarted(err) && patched(LOST_BETWEEN_ATTEMPTS_PATCH);
}

function cancelledUnstarted(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (e instanceof CancelledFailure) return e.details[0] === NOT_STARTED;
  return false;
}

const finder = (component: Component, auth: WatchRestartAuth) =>
  hostActivities(component.host, {
    // Its agent may be restarting (that is how the answer was lost): seconds, longer than a dead host's pickup timeout.
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: (auth.validate?.timeoutMs ?? 0) + 60_000,
    heartbeatTimeout: '10s',
    retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 5 },
  });

/**
 * The restart a lost watch did, if any (undefined: none found, or the look failed). Not cancellable:
 * the supervisor waits for it before deciding anything else about the component.
 */
export async function lostRestart(component: Component, auth: WatchRestartAuth, since: number, err: unknown): Promise<RecordedWatchOutcome | undefined> {
  let lastBeat: unknown;
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (e instanceof TimeoutFailure) lastBeat = e.lastHeartbeatDetails;
  return await CancellationScope.nonCancellable(() =>
    finder(component, auth).findLostWatchRestart({ component, restart: auth, since, ...(lastBeat !== undefined ? { lastBeat } : {}) }),
  ).then(
    (seen) => (seen.exited && seen.restart ? seen : undefined),
    () => undefined,
  );
}
