/** Plain types of a run's input, progress and result, shared by workflows, client, API and CLI. */
import type { Component, Strategy, Trigger } from './schemas';
import type { FailureClass } from './failure';

export const PHASES = ['detection', 'analysis', 'preparation', 'execution', 'validation', 'completion', 'failure'] as const;
export type Phase = (typeof PHASES)[number];

/** `planned` is the outcome of a dry run: nothing was done. */
export const OUTCOMES = ['recovered', 'failed', 'cancelled', 'needs-attention', 'planned'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Workflow type that runs each strategy. */
export const STRATEGY_WORKFLOW: Record<Strategy, string> = {
  immediate: 'immediateRestart',
  progressive: 'progressiveRestart',
  'dependency-aware': 'dependencyAwareRestart',
  'state-recovery': 'stateRecovery',
  'emergency-reset': 'emergencyReset',
};

export interface RecoveryInput {
  /** The component as configured when the run was requested (paths already absolute). */
  component: Component;
  trigger: Trigger;
  /** Who asked: a user, a token name, `schedule`, ... */
  requestedBy: string;
  reason?: string;
  /** Return the ordered plan without acting. */
  dryRun?: boolean;
  /** dependency-aware: the component's dependencies and dependents (transitively), as configured. */
  related?: Component[];
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
  steps: StepRecord[];
}

export interface RecoveryResult {
  outcome: Outcome;
  strategy: Strategy;
  components: string[];
  dryRun: boolean;
  reason?: string;
  failureClass?: FailureClass;
  attempts: number;
  steps: StepRecord[];
  startedAt: string;
  endedAt: string;
  durationMs: number;
}
