/** Plain types of a run's input, progress and result, shared by workflows, client, API and CLI. */
import type { ProbeResult } from './failure';
import type { Component, RunOptions, Saga, Strategy, Trigger } from './schemas';
import type { FailureClass } from './failure';

export const PHASES = ['detection', 'analysis', 'preparation', 'execution', 'validation', 'completion', 'failure'] as const;
export type Phase = (typeof PHASES)[number];

/** `planned` is the outcome of a dry run: nothing was done. */
export const OUTCOMES = ['recovered', 'failed', 'cancelled', 'needs-attention', 'planned'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What a run executes: a component strategy, or a configured saga. */
export type RunbookKind = Strategy | 'saga';

export { STRATEGY_WORKFLOW } from './workflow-types';

export interface RecoveryInput {
  /** The component as configured when the run was requested (paths already absolute). */
  component: Component;
  trigger: Trigger;
  /** Who asked: a user, a token name, `schedule`, ... */
  requestedBy: string;
  reason?: string;
  /** Return the ordered plan without acting. */
  dryRun?: boolean;
  /** dependency-aware, emergency-reset: the component's dependencies and dependents (transitively), as configured. */
  related?: Component[];
  options?: RunOptions;
  /** Set on a run started by escalation: the rungs that failed before it, oldest first. */
  escalatedFrom?: Rung[];
  /** A failure the caller has just confirmed (a supervisor): the run does not probe again before acting. */
  observed?: ProbeResult;
}

/** One rung of an escalation ladder. */
export interface Rung {
  strategy: RunbookKind;
  workflowId: string;
  /** Set since rungs link their runs; older ladders name the workflow only. */
  runId?: string;
  /** This rung's own outcome (the last rung's is the ladder's). */
  outcome: Outcome;
  reason?: string;
}

export interface SagaInput {
  saga: Saga;
  /** The components the saga's steps name, as configured. */
  components: Component[];
  requestId: string;
  trigger: Trigger;
  requestedBy: string;
  reason?: string;
  dryRun?: boolean;
}

/** The `approve` update's argument: who decides, and why. */
export interface ApprovalRequest {
  approve: boolean;
  by: string;
  reason?: string;
}

export type ApprovalState = 'not-needed' | 'pre-approved' | 'waiting' | 'approved' | 'rejected' | 'timed-out';

export interface ApprovalStatus {
  state: ApprovalState;
  by?: string;
  reason?: string;
  /** While waiting: when the wait gives up. */
  deadline?: string;
}

export type StepStatus = 'running' | 'ok' | 'failed' | 'skipped' | 'planned';

export interface StepRecord {
  name: string;
  summary: string;
  component?: string;
  status: StepStatus;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  detail?: string;
}

export interface RunProgress {
  phase: Phase;
  step?: string;
  attempt: number;
  paused: boolean;
  nextAttemptAt?: string;
  approval?: ApprovalStatus;
  steps: StepRecord[];
}

export interface RecoveryResult {
  outcome: Outcome;
  strategy: RunbookKind;
  components: string[];
  dryRun: boolean;
  reason?: string;
  failureClass?: FailureClass;
  attempts: number;
  steps: StepRecord[];
  startedAt: string;
  endedAt: string;
  durationMs: number;
  approval?: ApprovalStatus;
  /** When this run failed and escalated: every rung from this run to the last, with its outcome. */
  ladder?: Rung[];
}
