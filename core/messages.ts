/**
 * Every signal, query and update a mend workflow answers, defined once. Workflows register their
 * handlers with these definitions; the client, the activities and other workflows send with them,
 * so a renamed handler or a changed argument fails to compile instead of failing at run time.
 *
 * Only the define* functions come from @temporalio/workflow: they build plain `{ type, name }`
 * objects and need no workflow context, so this module loads in Node (client, activities, API) as
 * well as in the workflow sandbox. Payload types come in as types only: nothing here pulls in zod,
 * Node builtins or workflow code. test/contracts.test.ts checks that no other file names a handler
 * with a string literal.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BreakerResetResult } from './api/components';
import type { BacklogStatus, PauseRequest } from './backlog';
import type { BreakerResetRequest } from './breaker';
import type { HostOutageReport, HostStatusUpdate, HostWatchState } from './host-outage';
import type { ApprovalRequest, ApprovalStatus, RunProgress } from './run';
import type { Spool } from './schemas';
import type { PermitQueue, PermitRequest, ProbeReport, SupervisorState } from './supervision';

// ---------------------------------------------------------------- runbooks (every strategy and the saga)

/** A run's phase, current step, attempt, approval and step log. */
export const progressQuery = defineQuery<RunProgress>('progress');
/** Holds the run before its next side effect. */
export const pauseSignal = defineSignal<[{ by?: string; reason?: string }?]>('pause');
export const resumeSignal = defineSignal<[{ by?: string }?]>('resume');
/** The approval gate of destructive runbooks: who decides, and why. */
export const approveUpdate = defineUpdate<ApprovalStatus, [ApprovalRequest]>('approve');

// ---------------------------------------------------------------- supervisors (mend/supervisor/<component>)

/** One health observation (a sweep's, the pid watch's, or a check's). */
export const reportSignal = defineSignal<[ProbeReport]>('report');
export const supervisorStateQuery = defineQuery<SupervisorState>('state');
/**
 * Same names as a run's pause/resume, so `mend pause mend/supervisor/api` works; `forMs` pauses for a while.
 * `host`: the pause drains that host (`mend hosts drain`), kept apart from a pause by hand; a resume
 * naming the host (`mend hosts undrain`) lifts that drain only, a resume without one lifts both.
 */
export const pauseSupervisionSignal = defineSignal<[{ by?: string; reason?: string; forMs?: number; host?: string }?]>('pause');
export const resumeSupervisionSignal = defineSignal<[{ by?: string; host?: string }?]>('resume');
/**
 * Closes the breaker by hand (who and why land in the supervisor's history with the update) and
 * has the supervisor check the component right away. An update, so the caller learns the state it was in.
 */
export const breakerResetUpdate = defineUpdate<BreakerResetResult, [BreakerResetRequest]>('resetBreaker');
/** From the host's workflow: the component's host is unreachable (hold, stop the pid watch) or back (watch again). */
export const hostStatusSignal = defineSignal<[HostStatusUpdate]>('hostStatus');

// ---------------------------------------------------------------- hosts (mend/host/<id>: one outage, one event)

/** A pickup timeout seen on the host's queue (signal-with-start from a central activity). */
export const hostOutageSignal = defineSignal<[HostOutageReport]>('hostOutage');
export const hostWatchStateQuery = defineQuery<HostWatchState>('state');

// ---------------------------------------------------------------- fleet limiter (mend/fleet/<task queue>)

export interface FleetLimiterState extends PermitQueue {
  /** Permits granted since the limiter first started. */
  granted: number;
}

/** A supervisor asks for a recovery permit. */
export const acquireSignal = defineSignal<[PermitRequest]>('acquire');
/**
 * A supervisor gives its permit back; `ok` says whether the recovery it held it for recovered
 * (absent when none ran): the adaptive window of cheap recoveries grows or shrinks by it.
 */
export const releaseSignal = defineSignal<[{ component: string; ok?: boolean }]>('release');
/** The limiter grants a permit (sent to the asking supervisor). */
export const permitSignal = defineSignal<[{ component: string }]>('permit');
export const fleetStateQuery = defineQuery<FleetLimiterState>('state');

// ---------------------------------------------------------------- backlog replay (mend/backlog/<spool>)

/** Who asks (recorded in the log). */
export interface Requester {
  by?: string;
}

export const backlogStatusQuery = defineQuery<BacklogStatus>('status');
export const backlogPauseUpdate = defineUpdate<BacklogStatus, [PauseRequest]>('pause');
export const backlogResumeUpdate = defineUpdate<BacklogStatus, [Requester]>('resume');
/** Runs a cycle now (cuts a sink backoff short); refused while paused. */
export const backlogForceUpdate = defineUpdate<BacklogStatus, [Requester]>('force');
/** Moves every dead letter back to pending, then runs a cycle. */
export const backlogResetFailedUpdate = defineUpdate<{ moved: number; status: BacklogStatus }, [Requester]>('resetFailed');
/** The spool's current config (sent with every start: signal-with-start). */
export const backlogReconfigureSignal = defineSignal<[Spool]>('reconfigure');
