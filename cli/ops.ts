/**
 * The one way every `mend` command reaches mend: through the HTTP API when MEND_URL is set
 * (MEND_TOKEN as the bearer token), else straight to Temporal with MendClient. Both ways give the
 * commands the same answers and the same errors, so a command prints the same lines and exits
 * with the same code either way; only who is recorded differs (the token's name, or user@cli).
 */
import type { RunDescription, StartedRun } from '../client';
import type { RunList } from '../client/runs';
import type { HealthScheduleInfo } from '../client/schedules';
import type { BacklogStatus, SpoolCounts } from '../core/backlog';
import type { BreakerResetResult, DrillResult, FleetStats, HostDrainResult, ReconcileResult, RunListQuery } from '../core/api';
import type { ApprovalStatus, RecoveryResult, RunProgress } from '../core/run';
import type { RunOptions, Strategy } from '../core/schemas';
import type { Settings } from '../core/settings';
import type { HostStatus } from '../core/host-status';
import type { CheckResult } from '../core/supervision';
import { ApiClient } from './api-client';
import type { ComponentRow } from './component-row';
import { ApiOps } from './ops-api';
import { TemporalOps } from './ops-temporal';

export interface StartRecoveriesRequest {
  strategy: Strategy;
  /** Component ids, one run each, in this order (none for a runbook acting on a host or on no target). */
  components: string[];
  /** The host of a runbook with `targets: host`. */
  host?: string;
  reason?: string;
  dryRun?: boolean;
  options?: RunOptions;
}

export interface StartSagaRequest {
  name: string;
  requestId: string;
  reason?: string;
  dryRun?: boolean;
}

/** `mend components`: a row per component, and a note when part of it could not be read. */
export interface ComponentTable {
  rows: ComponentRow[];
  note?: string;
}

/** A spool's replay status and, when its folder can be read where mend answers from, what is on it now. */
export interface SpoolReport {
  status: BacklogStatus;
  onDisk?: SpoolCounts;
}

/** `mend schedules`: the health-check schedules, after a reconcile when one was asked for. */
export interface ScheduleTable {
  reconciled?: ReconcileResult;
  schedules: HealthScheduleInfo[];
}

export type BacklogAction = 'resume' | 'force';

export type CheckAnswer = Omit<CheckResult, 'reported'> & { reported?: boolean };

export interface MendOps {
  /**
   * Starts one recovery per component, or the one run of a host or untargeted runbook; `onStarted`
   * hears of each as it starts (so a later refusal leaves the earlier ones known), by its component,
   * host, or (no target) the runbook's name.
   */
  startRecoveries(req: StartRecoveriesRequest, onStarted: (target: string, run: StartedRun) => void): Promise<void>;
  startSaga(req: StartSagaRequest): Promise<StartedRun>;
  describe(workflowId: string): Promise<RunDescription>;
  /** Waits for the run to end and returns its result. */
  result(workflowId: string, runId?: string): Promise<RecoveryResult>;
  progress(workflowId: string, runId?: string): Promise<RunProgress>;
  /** The running escalation rung under `workflowId` that waits for an approval, if any. */
  waitingRung(workflowId: string): Promise<string | undefined>;
  control(workflowId: string, action: 'pause' | 'resume' | 'cancel', reason?: string): Promise<void>;
  /** `by` names who decides; through the API the token's name is recorded instead, so giving one there is bad usage. */
  approve(workflowId: string, decision: { approve: boolean; reason?: string; by?: string }): Promise<ApprovalStatus & { workflowId: string }>;
  listRuns(filter: RunListQuery): Promise<RunList>;
  components(): Promise<ComponentTable>;
  check(component: string): Promise<CheckAnswer>;
  /** The config's hosts with their agents (`mend hosts`). */
  hosts(): Promise<HostStatus[]>;
  /** What the supervisors recorded, per component and fleet-wide (`mend stats`). */
  stats(): Promise<FleetStats>;
  schedules(opts: { reconcile: boolean }): Promise<ScheduleTable>;
  /** Every configured spool's replay (no name), or one's; bad usage when the config has no spools or not this one. */
  backlogStatus(name?: string): Promise<SpoolReport[]>;
  /** Starts the replay of every configured spool (no name) or one, or hands a running one the current config. */
  backlogStart(name: string | undefined, onStarted: (spool: string, run: StartedRun) => void): Promise<void>;
  backlogPause(name: string, req: { minutes: number; reason?: string }): Promise<BacklogStatus>;
  backlogControl(name: string, action: BacklogAction): Promise<BacklogStatus>;
  backlogResetFailed(name: string): Promise<{ moved: number; status: BacklogStatus }>;
  /** Starts a configured drill now (`mend/drill/<name>/<run>`). */
  startDrill(name: string): Promise<StartedRun>;
  /** Waits for the drill run to end and returns its result. */
  drillResult(run: StartedRun): Promise<DrillResult>;
  /** Holds (drain) or lets go on (undrain) the automatic recoveries of a host's components. */
  drainHost(host: string, action: 'drain' | 'undrain', reason?: string): Promise<HostDrainResult>;
  /** Closes the component's circuit breaker by hand, saying why; its supervisor checks it at once. */
  resetBreaker(component: string, reason: string): Promise<BreakerResetResult>;
  close(): Promise<void>;
}

/** The ops for these settings: over the API when MEND_URL is set, else over Temporal with the config file given. */
export function opsFor(settings: Settings, configFile: string = settings.MEND_CONFIG): MendOps {
  const api = ApiClient.fromSettings(settings);
  return api ? new ApiOps(api) : new TemporalOps(settings, configFile);
}

/** Runs `fn` with the ops of these settings and closes them after. */
export async function withOps<T>(settings: Settings, configFile: string | undefined, fn: (ops: MendOps) => Promise<T>): Promise<T> {
  const ops = opsFor(settings, configFile);
  try {
    return await fn(ops);
  } finally {
    await ops.close();
  }
}
