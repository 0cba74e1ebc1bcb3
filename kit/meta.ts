/** What a runbook declares about itself; plain data, read by the CLI (`mend runbooks`) and the worker. */

import type { RunbookTargets } from '../core/runbooks';

export type { RunbookTargets };

export interface RunbookMeta {
  /** Its strategy name: what policies, `mend run`, the API and escalation chains call it. For a custom runbook, its file name. */
  name: string;
  /** One line saying what it does and when to use it. */
  description: string;
  targets: RunbookTargets;
}

/** The built-in strategies as runbooks (what `mend runbooks` lists beside the custom ones). */
export const BUILTIN_RUNBOOKS: ReadonlyArray<RunbookMeta & { source: string }> = [
  { name: 'immediate', description: 'stop, clean (per policy), start, validate: one attempt', targets: 'components', source: 'workflows/immediate.ts' },
  {
    name: 'progressive',
    description: 'restart and validate, retrying with exponential backoff and jitter up to policy.maxRetries attempts',
    targets: 'components',
    source: 'workflows/progressive.ts',
  },
  {
    name: 'dependency-aware',
    description: 'restart the component and its dependents in dependency order, level by level',
    targets: 'components',
    source: 'workflows/dependency-aware.ts',
  },
  {
    name: 'state-recovery',
    description: 'restore the newest checkpoint that verifies (or a named one): stop, move state aside, clean, restore, start, validate',
    targets: 'components',
    source: 'workflows/state-recovery.ts',
  },
  {
    name: 'emergency-reset',
    description: 'after an approval: stop the component and its relatives, move their state aside, start them fresh in order',
    targets: 'components',
    source: 'workflows/emergency-reset.ts',
  },
];

/** A built-in's description (one place for the kit-defined built-ins and the listing). */
export function builtinDescription(name: string): string {
  return BUILTIN_RUNBOOKS.find((r) => r.name === name)?.description ?? '';
}
