/**
 * The workflow type of every workflow mend starts, by what it does. The names are the exports of
 * workflows/index.ts (the worker registers each export under its name); test/contracts.test.ts
 * checks that every name here is one of them, so a renamed workflow fails a test, not a start.
 * Plain strings: the client, activities and other workflows import this without workflow code.
 */
import type { BuiltinStrategy, Strategy } from './schemas';

export const WORKFLOW_TYPES = {
  saga: 'saga',
  backlog: 'backlogReplay',
  supervisor: 'supervisor',
  healthSweep: 'healthSweep',
  healthSpecs: 'healthSpecs',
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
} as const satisfies Record<BuiltinStrategy, string>;

export type WorkflowType = (typeof WORKFLOW_TYPES)[keyof typeof WORKFLOW_TYPES] | (typeof STRATEGY_WORKFLOW)[BuiltinStrategy];

/** True for the built-in strategies (the keys of STRATEGY_WORKFLOW). */
export function isBuiltinStrategy(strategy: Strategy): strategy is BuiltinStrategy {
  return Object.hasOwn(STRATEGY_WORKFLOW, strategy);
}

/**
 * The workflow type of a custom runbook: `runbook_` and its name with "-" as "_" (names have no
 * "_", so two names never share a type). The worker's generated bundle entry exports each custom
 * runbook under this name (workers/runbooks.ts).
 */
export function runbookWorkflowType(name: string): string {
  return `runbook_${name.replaceAll('-', '_')}`;
}

/** The workflow type that runs `strategy`, built-in or custom. */
export function strategyWorkflowType(strategy: Strategy): string {
  return isBuiltinStrategy(strategy) ? STRATEGY_WORKFLOW[strategy] : runbookWorkflowType(strategy);
}
