/** A drill run's input and result; shared by the drill workflow, its activities, the client and the CLI. */
import type { Component, Drill } from './schemas';

export interface DrillInput {
  drill: Drill;
  component: Component;
  requestedBy: string;
  trigger: 'manual' | 'schedule';
}

export interface DrillResult {
  drill: string;
  component: string;
  /** recovered: broken and healthy again in time; failed: not healthy within the timeout; skipped: not healthy before. */
  outcome: 'recovered' | 'failed' | 'skipped';
  fault: string;
  /** When the fault was injected and when the component answered healthy again. */
  injectedAt?: string;
  recoveredAt?: string;
  /** Time to recovery: from the fault to the first healthy answer after it. */
  mttrMs?: number;
  detail: string;
}
