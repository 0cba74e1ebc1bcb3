/**
 * GET /v1/fleet (everything the fleet page shows, in one answer) and GET /v1/whoami (who a token is,
 * so the page shows only the actions its role may take).
 */
import { z } from 'zod';
import { BREAKER_STATES } from '../breaker';
import { FAILURE_CLASSES } from '../failure';
import { HEALTH_STATES } from '../supervision';
import { SpoolEntrySchema } from './backlog';
import { RoleSchema } from './common';
import { ComponentViewSchema } from './components';
import { HostViewSchema } from './hosts';

export const WhoAmISchema = z
  .object({
    name: z.string(),
    role: RoleSchema,
    /** Components the token may act on; absent: all. */
    components: z.array(z.string()).optional(),
  })
  .meta({ id: 'WhoAmI', description: "the token's name (recorded as requestedBy), role and scope" });
export type WhoAmI = z.output<typeof WhoAmISchema>;

/** A run as the page links it: its id, and its page in the Temporal Web UI. */
const RunLinkSchema = z.object({ workflowId: z.string(), runId: z.string().optional(), url: z.string() });

export const FleetComponentSchema = ComponentViewSchema.extend({
  group: z.string(),
  /** `unknown` also when the component has no supervisor (yet). */
  health: z.enum(HEALTH_STATES),
  /** Since when it is in that health (healthy: since it became healthy; unhealthy or recovering: since the outage began). */
  since: z.string().optional(),
  breaker: z.object({ state: z.enum(BREAKER_STATES), reason: z.string().optional(), halfOpenAt: z.string().optional() }).optional(),
  /** The supervisor, linked; absent when it has none. */
  supervisor: RunLinkSchema.extend({ paused: z.boolean(), pausedBy: z.string().optional(), held: z.string().optional() }).optional(),
  lastFailureClass: z.enum(FAILURE_CLASSES).optional(),
  lastDetail: z.string().optional(),
  /** The recovery running now, and its phase. */
  current: RunLinkSchema.extend({ strategy: z.string().optional(), phase: z.string().optional(), startedAt: z.string() }).optional(),
  /** The last finished recovery: the supervisor's (with its time to recover), or a later one started by hand (no MTTR). */
  last: RunLinkSchema.extend({
    outcome: z.string().optional(),
    startedAt: z.string(),
    endedAt: z.string().optional(),
    mttrMs: z.number().optional(),
  }).optional(),
  mttrP50Ms: z.number().optional(),
  mttrP95Ms: z.number().optional(),
  /** Recoveries started in each of the last 24 hours, oldest first: every recovery run, by a supervisor or by hand. */
  recoveries24h: z.array(z.number()),
});
export type FleetComponent = z.output<typeof FleetComponentSchema>;

export const FleetSpoolSchema = SpoolEntrySchema;

/** A run waiting for an admin's approval (an emergency reset). */
const ApprovalWaitSchema = RunLinkSchema.extend({ components: z.array(z.string()), strategy: z.string().optional(), deadline: z.string().optional() });

export const FleetSchema = z
  .object({
    generatedAt: z.string(),
    /** The Temporal Web UI every run link points into. */
    temporalUi: z.string(),
    components: z.array(FleetComponentSchema),
    hosts: z.array(HostViewSchema),
    spools: z.array(FleetSpoolSchema),
    /** What needs a human now. */
    attention: z.object({
      approvals: z.array(ApprovalWaitSchema),
      /** Runs of the last 24 hours that ended needing attention (sagas whose compensation failed, ...). */
      needsAttention: z.array(RunLinkSchema.extend({ components: z.array(z.string()), strategy: z.string().optional(), closeTime: z.string().optional() })),
      openBreakers: z.array(
        z.object({ component: z.string(), state: z.enum(BREAKER_STATES), reason: z.string().optional(), halfOpenAt: z.string().optional() }),
      ),
    }),
  })
  .meta({ id: 'Fleet', description: 'the fleet at a glance: components, hosts, spools and what needs a human' });
export type Fleet = z.output<typeof FleetSchema>;

/**
 * Recoveries started in each of the 24 hours before `now`, oldest first: bucket 23 holds the last
 * hour. Starts outside the window (or unparsable) are left out.
 */
export function hourlyCounts(startedAt: readonly string[], now: number): number[] {
  const buckets = new Array<number>(24).fill(0);
  for (const at of startedAt) {
    const ago = now - Date.parse(at);
    if (!(ago >= 0 && ago < 24 * 3_600_000)) continue;
    buckets[23 - Math.floor(ago / 3_600_000)]! += 1;
  }
  return buckets;
}
