/**
 * The workflow type of every workflow mend starts, by what it does. The names are the exports of
 * workflows/index.ts (the worker registers each export under its name); test/contracts.test.ts
 * checks that every name here is one of them, so a renamed workflow fails a test, not a start.
 * Plain strings: the client, activities and other workflows import this without workflow code.
 */
import type { Strategy } from './schemas';

export const WORKFLOW_TYPES = {
  saga: 'saga',
  backlog: 'backlogReplay',
  supervisor: 'supervisor',
  healthSweep: 'healthSweep',
  fleetLimiter: 'fleetLimiter',
  drill: 'drill',
  check: 'checkComponent',
  hostWatch: 'hostWatch',
} as const;

/** Workflow type that runs each strategy. */
export const STRATEGY_WORKFLOW = {
  immediate: 'immediateRestart',
  progressive: 'progressiveRestart',
  'dependency-aware': 'dependencyAwareRestart',
  'state-recovery': 'stateRecovery',
  'emergency-reset': 'emergencyReset',
} as const satisfies Record<Strategy, string>;

export type WorkflowType = (typeof WORKFLOW_TYPES)[keyof typeof WORKFLOW_TYPES] | (typeof STRATEGY_WORKFLOW)[Strategy];
