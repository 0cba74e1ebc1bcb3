/** /v1/stats and /v1/schedules: supervision statistics and the health schedules. */
import { z } from 'zod';
import { BREAKER_STATES } from '../breaker';
import { FAILURE_CLASSES } from '../failure';
import { GroupNameSchema, HostIdSchema } from '../schemas';
import { HEALTH_STATES } from '../supervision';

/** A supervisor's statistics as `mend stats` and the API report them. */
export const ComponentStatsSchema = z.object({
  component: z.string(),
  health: z.enum(HEALTH_STATES),
  breaker: z.enum(BREAKER_STATES),
  attempted: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  /** Recovered, then failed again within the component's `relapseWindow`: not a success. */
  relapsed: z.number(),
  /** Recovered, then its host went away within the relapse window: settled, but neither a success nor a relapse. */
  interrupted: z.number(),
  /** succeeded / (succeeded + failed + relapsed). */
  successRate: z.number().optional(),
  mttrP50Ms: z.number().optional(),
  mttrP95Ms: z.number().optional(),
  lastMttrMs: z.number().optional(),
  meanMttrMs: z.number().optional(),
  lastFailureClass: z.enum(FAILURE_CLASSES).optional(),
  /** Outages seen, by the failure class of their first failed check. */
  failuresByClass: z.partialRecord(z.enum(FAILURE_CLASSES), z.number()).optional(),
  /** Workflow id of the recovery running now. */
  current: z.string().optional(),
  /** Why the last failure started no recovery (breaker open, paused, auth, grace ...). */
  held: z.string().optional(),
  /** The component's policy strategy (filled in from the config when known). */
  strategy: z.string().optional(),
  /** MTTRs of the kept recent recoveries as cumulative counts per upper bound (seconds), for a Prometheus histogram. */
  mttrHistogram: z.object({ buckets: z.array(z.object({ le: z.number(), count: z.number() })), count: z.number(), sumSeconds: z.number() }).optional(),
});
export type ComponentStats = z.output<typeof ComponentStatsSchema>;

export const FleetStatsSchema = z
  .object({
    components: z.array(ComponentStatsSchema),
    fleet: ComponentStatsSchema.pick({
      attempted: true,
      succeeded: true,
      failed: true,
      relapsed: true,
      interrupted: true,
      successRate: true,
      mttrP50Ms: true,
      mttrP95Ms: true,
    }).extend({
      supervised: z.number(),
      breakersOpen: z.number(),
    }),
    /** Components in the config without a supervisor yet. */
    unsupervised: z.array(z.string()),
    /**
     * Present only in a partial answer: supervised components whose supervisor did not answer
     * within the read's wait (a busy worker). They are left out of `components` and `fleet`; try again shortly.
     */
    unanswered: z.array(z.string()).optional(),
  })
  .meta({ id: 'FleetStats' });
export type FleetStats = z.output<typeof FleetStatsSchema>;

export const HealthScheduleSchema = z.object({
  scheduleId: z.string(),
  group: z.string(),
  /** The host whose components it sweeps (its agent runs the sweep's probes). */
  host: z.string(),
  intervalMs: z.number().optional(),
  paused: z.boolean(),
  /** While paused: the note given with the pause (who and why, or mend's own while a host is away). */
  pauseNote: z.string().optional(),
  components: z.array(z.string()),
  nextRunAt: z.string().optional(),
  lastRunAt: z.string().optional(),
  /** The task queue its sweeps run on, and the stack that made it (its task queue). */
  taskQueue: z.string().optional(),
  owner: z.string().optional(),
});
/** A health schedule as the API shows it. */
export type HealthSchedule = z.output<typeof HealthScheduleSchema>;
export const ScheduleListSchema = z.object({ schedules: z.array(HealthScheduleSchema) });
/** What `mend schedules --reconcile` (POST /v1/schedules/reconcile) changed to make the schedules match the config. */
export const ReconcileResultSchema = z.object({
  created: z.array(z.string()),
  updated: z.array(z.string()),
  deleted: z.array(z.string()),
  unchanged: z.array(z.string()),
  /** Supervisors (on this task queue) of components the config no longer watches, terminated. */
  retired: z.array(z.string()),
  /** The drill schedules (`mend/drill/<name>`), reconciled the same way. */
  drills: z.object({ created: z.array(z.string()), updated: z.array(z.string()), deleted: z.array(z.string()), unchanged: z.array(z.string()) }).optional(),
  /** Health schedules left paused by a host's outage workflow that no longer runs (ended by hand), resumed. */
  resumed: z.array(z.string()).optional(),
});
export type ReconcileResult = z.output<typeof ReconcileResultSchema>;
export const ScheduleParamsSchema = z.object({ group: GroupNameSchema }).strict();
/** `?host=<id>`: act on that host's schedules of the group only (without it: every host's). */
export const ScheduleActionQuerySchema = z.object({ host: HostIdSchema.optional() }).strict();
export const ScheduleActionResponseSchema = z.object({
  scheduleId: z.string(),
  /** Every schedule acted on, when the group is split into parts (the first is `scheduleId`). */
  scheduleIds: z.array(z.string()).optional(),
  action: z.enum(['pause', 'resume', 'trigger']),
  by: z.string(),
});
