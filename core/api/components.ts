/** /v1/components: what the API shows of a component, its supervisor and its latest recovery; a check now. */
import { z } from 'zod';
import { BREAKER_STATES } from '../breaker';
import { FAILURE_CLASSES } from '../failure';
import { hostOf } from '../hosts';
import { ComponentIdSchema, type Component, StrategySchema } from '../schemas';
import { HEALTH_STATES } from '../supervision';
import { ComponentStatsSchema } from './supervision';

export const ComponentIdParamsSchema = z.object({ id: ComponentIdSchema }).strict();

export const RecoverySummarySchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  status: z.string(),
  startTime: z.string(),
  closeTime: z.string().optional(),
  phase: z.string().optional(),
  outcome: z.string().optional(),
  url: z.string(),
});

/** What the API shows of a configured component: no commands, env, headers or paths. */
export const ComponentViewSchema = z
  .object({
    id: z.string(),
    description: z.string().optional(),
    /** The host it runs on (`local`, the default host, unless the config names hosts). */
    host: z.string(),
    adapter: z.enum(['process', 'command', 'http']),
    probe: z.enum(['http', 'tcp', 'command', 'process']),
    dependsOn: z.array(z.string()),
    critical: z.boolean(),
    /** Watched by a health schedule and a supervisor (`supervision.enabled`). */
    supervised: z.boolean(),
    policy: z.object({
      strategy: StrategySchema,
      escalation: z.array(StrategySchema),
      timeoutMs: z.number(),
      maxRetries: z.number(),
      preApproved: z.boolean(),
    }),
  })
  .meta({ id: 'Component' });

export type ComponentView = z.output<typeof ComponentViewSchema>;

/** What the API and CLI show of a component: no commands, env, headers, URLs or paths. */
export function componentView(c: Component): ComponentView {
  return {
    id: c.id,
    description: c.description,
    host: hostOf(c),
    adapter: c.adapter.type,
    probe: c.probe.type,
    dependsOn: c.dependsOn,
    critical: c.critical,
    supervised: c.supervision.enabled,
    policy: {
      strategy: c.policy.strategy,
      escalation: c.policy.escalation,
      timeoutMs: c.policy.timeout,
      maxRetries: c.policy.maxRetries,
      preApproved: c.policy.preApproved,
    },
  };
}

export const ComponentListSchema = z.object({ components: z.array(ComponentViewSchema) }).describe('the configured components');

/** What the component's supervisor holds now; its statistics as `GET /v1/stats` reports them. */
export const SupervisorViewSchema = z.object({
  workflowId: z.string(),
  health: z.enum(HEALTH_STATES),
  consecutiveFailures: z.number(),
  /** Failed checks that start a recovery. */
  threshold: z.number(),
  breaker: z.object({
    state: z.enum(BREAKER_STATES),
    reason: z.string().optional(),
    halfOpenAt: z.string().optional(),
    /** The last reset by hand (`mend breaker reset`). */
    lastReset: z.object({ at: z.string(), by: z.string(), reason: z.string(), from: z.enum(BREAKER_STATES) }).optional(),
  }),
  /** The recovery it runs now, if any. */
  current: z.object({ workflowId: z.string(), strategy: z.string(), startedAt: z.string() }).optional(),
  /** Auto-recovery held (`mend pause mend/supervisor/<component>`); until `pausedUntil`, or until resumed when absent. */
  paused: z.boolean(),
  pausedUntil: z.string().optional(),
  pausedBy: z.string().optional(),
  /** The pause is a drain of this host (`mend hosts drain`). */
  drainedHost: z.string().optional(),
  /** Why the last failure started no recovery. */
  held: z.string().optional(),
  lastFailureClass: z.enum(FAILURE_CLASSES).optional(),
  lastDetail: z.string().optional(),
  stats: ComponentStatsSchema,
});
export type SupervisorView = z.output<typeof SupervisorViewSchema>;

export const ComponentDetailSchema = ComponentViewSchema.extend({
  /** The latest `mend/recover/<id>` run, if any. */
  recovery: RecoverySummarySchema.nullable(),
  /** `mend/supervisor/<id>`'s state; null when the component has no supervisor (yet). */
  supervisor: SupervisorViewSchema.nullable(),
}).describe('the component, its supervisor and its latest recovery run');

/** POST /v1/components/:id/check: one probe now, on a worker; the supervisor gets it as a report. */
export const CheckResultSchema = z
  .object({
    component: z.string(),
    healthy: z.boolean(),
    failureClass: z.enum(FAILURE_CLASSES).optional(),
    detail: z.string(),
    latencyMs: z.number(),
    /** When the probe ran (ISO). */
    checkedAt: z.string(),
    /** Whether the component's supervisor got the result (false: it has none). */
    reported: z.boolean(),
  })
  .meta({ id: 'CheckResult', description: 'the probe result' });
export type CheckResult = z.output<typeof CheckResultSchema>;

/** POST /v1/components/:id/breaker/reset: why (required; recorded in the supervisor's history with who). */
export const BreakerResetBodySchema = z.object({ reason: z.string().trim().min(1, 'required: say why the breaker is reset').max(500) }).strict();

export const BreakerResetResultSchema = z
  .object({
    component: z.string(),
    /** The supervisor that recorded the reset. */
    workflowId: z.string(),
    /** The breaker's state before the reset. */
    previous: z.enum(BREAKER_STATES),
    state: z.enum(BREAKER_STATES),
    by: z.string(),
    reason: z.string(),
    /** When the supervisor took the reset (ISO). */
    at: z.string(),
    /** The supervisor checks the component right away (after a recovery it runs now, if one does). */
    checking: z.boolean(),
  })
  .meta({ id: 'BreakerResetResult', description: "the breaker closed by hand, as the component's supervisor recorded it" });
export type BreakerResetResult = z.output<typeof BreakerResetResultSchema>;
