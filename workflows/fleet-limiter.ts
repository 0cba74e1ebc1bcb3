/**
 * The fleet-wide cap on recoveries started by supervisors (`mend/fleet/<task queue>`): a durable
 * counting semaphore. A supervisor asks with `acquire`, gets a `permit` signal back when one is
 * free (oldest request first), and gives it back with `release` once its recovery has ended.
 * A permit whose supervisor is gone, or held past its lease, is taken back.
 * Cheap recoveries (restarts of process components) are admitted per host by an adaptive window
 * (core/aimd.ts) that grows while they end quickly and well and halves when one is slow or fails;
 * the rest keep the strict cap and the destructive per-minute ration.
 */
import { condition, continueAsNew, getExternalWorkflowHandle, log, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { acquireSignal, fleetStateQuery, permitSignal, releaseSignal, type FleetLimiterState } from '../core/messages';
import { hostKey, pickGrants, releasedWindow, windowFor, type PermitRequest } from '../core/supervision';

export type { FleetLimiterState, PermitRequest };
// The supervisor imports these from here.
export { permitSignal, releaseSignal };

/** Patch: the permits of one pass are signalled concurrently. */
const PARALLEL_GRANTS = 'fleet-limiter-parallel-grants';
/** Patch: cheap recoveries are admitted by their host's adaptive window (before it, every request counted against `max`). */
export const ADAPTIVE_PATCH = 'fleet-limiter-adaptive-windows';
/**
 * Patch: a permit is recorded before its signal is sent, not after. A supervisor can get the
 * permit and give it back (its recovery was moot, or quick) before the signal's completion comes
 * back; recorded afterwards, that release found no holder and the permit stayed held until its lease.
 */
export const RECORD_BEFORE_SIGNAL_PATCH = 'fleet-limiter-record-before-signal';
/** Patch: a host's new adaptive window starts at half its ceiling, not at the strict cap (core/aimd.ts slowStartWindow). */
export const SLOW_START_PATCH = 'fleet-limiter-slow-start';
/**
 * Patch: the limiter does not wait for its permit signals to complete before its next pass. It
 * waited a server round trip and a workflow task per pass, and releases that came meanwhile were
 * granted on only after it: in a mass outage the permits freed at that pace. A permit is recorded
 * before its signal (RECORD_BEFORE_SIGNAL_PATCH), so the next pass counts it; a signal that fails
 * frees its permit and wakes a pass. Continue-as-new waits for the signals still in flight.
 */
export const GRANTS_IN_FLIGHT_PATCH = 'fleet-limiter-grants-in-flight';
/** Patch: a host's adaptive window is never halved below the strict cap (core/aimd.ts AimdSettings.floor); before it, down to 1. */
export const WINDOW_FLOOR_PATCH = 'fleet-limiter-window-floor';

export interface FleetLimiterInput {
  state?: FleetLimiterState;
  /** A permit held longer than this is taken back (its supervisor died holding it). Default 2h. */
  leaseMs?: number;
}

export async function fleetLimiter(input: FleetLimiterInput = {}): Promise<void> {
  const state: FleetLimiterState = input.state ?? { max: 1, holders: [], waiting: [], destructiveGrants: [], granted: 0 };
  const leaseMs = input.leaseMs ?? 2 * 3_600_000;
  let changed = false;
  /** Permit signals not yet completed (GRANTS_IN_FLIGHT_PATCH). */
  const inFlight = new Set<Promise<unknown>>();
  // Asked once per run, before any signal is handled: the windows this run creates start at half their ceiling.
  const slowStart = patched(SLOW_START_PATCH);
  // Likewise: the windows this run keeps have the strict cap as their floor.
  const floored = patched(WINDOW_FLOOR_PATCH);

  setHandler(fleetStateQuery, () => state);
  setHandler(acquireSignal, (req) => {
    state.max = req.max;
    state.maxDestructivePerMinute = req.maxDestructivePerMinute;
    // The host's window takes the newest ceiling and threshold (state only: pickGrants reads it once patched).
    if (req.adaptive) {
      const host = hostKey(req);
      state.windows = { ...state.windows, [host]: windowFor(state.windows?.[host], req.adaptive, req.max, slowStart, floored) };
    }
    // A repeated request (a retried activity) neither queues twice nor takes a second permit.
    if (!state.holders.some((h) => h.component === req.component) && !state.waiting.some((w) => w.component === req.component)) {
      state.waiting.push({ ...req, at: Date.now() });
    } else if (state.holders.some((h) => h.component === req.component)) {
      // Already held: say so again, in case the first permit signal was lost with a supervisor run.
      void getExternalWorkflowHandle(req.supervisorId)
        .signal(permitSignal, { component: req.component })
        .catch(() => undefined);
    }
    changed = true;
  });
  setHandler(releaseSignal, ({ component, ok }) => {
    const holder = state.holders.find((h) => h.component === component);
    const window = holder?.cheap ? state.windows?.[hostKey(holder)] : undefined;
    if (holder && window) state.windows = { ...state.windows, [hostKey(holder)]: releasedWindow(window, { ok, durationMs: Date.now() - holder.since }) };
    state.holders = state.holders.filter((h) => h.component !== component);
    state.waiting = state.waiting.filter((w) => w.component !== component);
    changed = true;
  });

  for (;;) {
    // Cleared before the work, so a signal that lands while permits are being signalled is not missed.
    changed = false;
    const now = Date.now();
    const expired = state.holders.filter((h) => now - h.since >= leaseMs);
    if (expired.length > 0) {
      log.warn('permits taken back after their lease', { components: expired.map((h) => h.component) });
      state.holders = state.holders.filter((h) => now - h.since < leaseMs);
    }
    state.destructiveGrants = state.destructiveGrants.filter((t) => now - t < 60_000);
    const adaptive = patched(ADAPTIVE_PATCH);
    const { grant, wakeAt } = pickGrants(state, now, adaptive, slowStart);
    const grantOne = async (next: PermitRequest): Promise<boolean> => {
      state.waiting = state.waiting.filter((w) => w.component !== next.component);
      const cheap = adaptive && next.adaptive !== undefined ? { cheap: true, host: hostKey(next) } : {};
      const holder = { component: next.component, supervisorId: next.supervisorId, since: Date.now(), ...cheap };
      const recordFirst = patched(RECORD_BEFORE_SIGNAL_PATCH);
      if (recordFirst) state.holders.push(holder);
      try {
        await getExternalWorkflowHandle(next.supervisorId).signal(permitSignal, { component: next.component });
        if (!recordFirst) state.holders.push({ ...holder, since: Date.now() });
        if (next.destructive) state.destructiveGrants.push(now);
        state.granted += 1;
        return true;
      } catch {
        if (recordFirst) state.holders = state.holders.filter((h) => h !== holder);
        log.warn('supervisor gone before its permit', { component: next.component });
        return false;
      }
    };
    if (grant.length > 0 && patched(GRANTS_IN_FLIGHT_PATCH)) {
      // Signalled in the background: the next signal (a release) is granted on in the task it arrives in.
      const sent = Promise.all(
        grant.map((next) =>
          grantOne(next).then((ok) => {
            // A permit its supervisor never got is free again: another pass hands it on.
            if (!ok) changed = true;
          }),
        ),
      );
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
    }
    // Permits freed together are signalled together: one after the other, each waits a workflow
    // task round trip, which a mass outage makes long.
    else if (patched(PARALLEL_GRANTS)) await Promise.all(grant.map(grantOne));
    else for (const next of grant) await grantOne(next);
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 10_000) {
      // The permit signals still in flight first: a new run would not see how they ended.
      await Promise.all(inFlight);
      await continueAsNew<typeof fleetLimiter>({ state, leaseMs: input.leaseMs });
    }
    const wakes = [...state.holders.map((h) => h.since + leaseMs), ...(wakeAt === undefined ? [] : [wakeAt])];
    await condition(() => changed, wakes.length === 0 ? undefined : Math.max(1, Math.min(...wakes) - Date.now()));
  }
}
