/** Plain types of a run's input, progress and result, shared by workflows, client, API and CLI. */
import type { z } from 'zod';
import type { ApprovalStatusSchema, PhaseRecordSchema, RecoveryResultSchema, RunProgressSchema, RungSchema, StepRecordSchema } from './api/runs';
import type { FailureClass, ProbeResult } from './failure';
import type { Component, RunOptions, Saga, Strategy, Trigger } from './schemas';

export const PHASES = ['detection', 'analysis', 'preparation', 'execution', 'validation', 'completion', 'failure'] as const;
export type Phase = (typeof PHASES)[number];

/** `planned` is the outcome of a dry run: nothing was done. */
export const OUTCOMES = ['recovered', 'failed', 'cancelled', 'needs-attention', 'planned'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What a run executes: a component strategy, or a configured saga. */
export type RunbookKind = Strategy | 'saga';

// A run's progress and result are API shapes: inferred from their schemas in core/api/runs.ts, as
// types only (workflows import this module; zod stays out of their bundle).
export type ApprovalStatus = z.output<typeof ApprovalStatusSchema>;
export type ApprovalState = ApprovalStatus['state'];
export type StepRecord = z.output<typeof StepRecordSchema>;
export type StepStatus = StepRecord['status'];
export type RunProgress = z.output<typeof RunProgressSchema>;
export type PhaseRecord = z.output<typeof PhaseRecordSchema>;
/** One rung of an escalation ladder. */
export type Rung = z.output<typeof RungSchema>;
export type RecoveryResult = z.output<typeof RecoveryResultSchema>;

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
  /** A restart its pid watch already did in place (authorized by the supervisor): the run records it instead of acting. */
  adopted?: WatchRestart;
}

/** One sub-step of a restart a pid watch did in place, with its own times (a StepRecord's fields). */
export interface RestartStepDone {
  name: 'stop' | 'cleanup' | 'start' | 'validate';
  status: 'ok' | 'failed';
  startedAt: string;
  endedAt: string;
  durationMs: number;
  detail: string;
}

/**
 * A restart a pid watch did on seeing its process exit, as its supervisor authorized it to (see
 * activities/watch-restart.ts): stop-if-alive, clean, start, wait until healthy. Its supervisor
 * then records it as a recovery run (`immediate` with `adopted`), step by step.
 */
export interface WatchRestart {
  /** When the exit was seen (ISO), and what was seen. */
  exitAt: string;
  exitDetail: string;
  steps: RestartStepDone[];
  /** Healthy at the end (validated, or started when validation is off). */
  healthy: boolean;
  failureClass?: FailureClass;
  /** Why it is not healthy. */
  reason?: string;
  /** Waited for the restart backoff, then for the host's adaptive window (ms). */
  backoffMs: number;
  waitedMs: number;
  endedAt: string;
}

/** What a runbook that does not act on components is started for: a host (`targets: 'host'`), or nothing (`targets: 'none'`). */
export type RunTarget = { kind: 'host'; host: string } | { kind: 'none' };

/** The input of a `targets: 'host'` or `targets: 'none'` runbook's run. */
export interface TargetedRunInput {
  target: RunTarget;
  /** Every host the config knows (its `hosts:` and the default host), for runbooks that go round them. */
  hosts: string[];
  trigger: Trigger;
  requestedBy: string;
  reason?: string;
  dryRun?: boolean;
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
