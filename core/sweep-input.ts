/**
 * What a health schedule's firing carries (the `healthSweep` input), in its two shapes, and the
 * input of the workflow holding a schedule's specs. Pure types and helpers: workflow code imports this.
 *
 * Since the `sweep-input-by-revision` patch a firing carries the schedule's revision, not its specs:
 * at 5,000 components the specs were 165–400 KiB a firing, stored by the server in every sweep's
 * start and activity events (about 5.6 MB/s at 1-s checks), and the sweeps fell behind. The specs
 * are the input of one long-lived `healthSpecs` workflow per schedule and revision, which the
 * sweep's activity (on the host's agent) reads once per revision and caches.
 */
import { hostOf } from './hosts';
import type { SupervisorSpec } from './supervision';

/** A firing of a schedule reconciled since the patch: the revision, and what the workflow needs without the specs. */
export interface SweepByRevision {
  group: string;
  /** The schedule (its specs are held by `healthSpecsWorkflowId(scheduleId)`). */
  scheduleId: string;
  /** The host whose components it sweeps. */
  host: string;
  /** The schedule's spec hash; the holder's input carries the same. */
  revision: string;
  /** How many components it sweeps (for the activity's summary). */
  components: number;
  /** The slowest probe timeout of those components: it bounds the sweep activity. */
  probeTimeoutMs: number;
  /**
   * Set when the schedule's lease (`supervision.checkLease`) is longer than its interval: the firing
   * probes every `intervalMs` for `leaseMs` in one activity (`probeLoop`) instead of once.
   */
  leaseMs?: number;
  /** The schedule's check interval (with `leaseMs`). */
  intervalMs?: number;
  specs?: undefined;
}

/** A firing of a schedule reconciled before the patch: the specs themselves (still accepted). */
export interface SweepWithSpecs {
  group: string;
  specs: SupervisorSpec[];
  /** The schedule's spec hash: a new revision makes every component report once again. */
  revision?: string;
}

export type HealthSweepInput = SweepByRevision | SweepWithSpecs;

/** The input of `mend/health-specs/...`: one schedule's specs at one revision. */
export interface HealthSpecsInput {
  scheduleId: string;
  revision: string;
  specs: SupervisorSpec[];
}

/** Which hosts and components a schedule's firing sweeps, from its action's input and memo, in either shape. */
export function sweptBy(input: unknown, memo: Record<string, unknown> | undefined): { hosts: string[]; components: string[] } {
  const i = (input ?? {}) as { host?: unknown; specs?: Array<{ component: { id: string; host?: string } }> };
  const specs = i.specs;
  if (Array.isArray(specs)) return { hosts: [...new Set(specs.map((s) => hostOf(s.component)))], components: specs.map((s) => s.component.id) };
  const components = Array.isArray(memo?.mendComponents) ? (memo.mendComponents as string[]) : [];
  return { hosts: typeof i.host === 'string' ? [i.host] : [], components };
}
