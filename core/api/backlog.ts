/** /v1/backlog: the spools' replay entities, their status and controls. */
import { z } from 'zod';
import { FAILURE_CLASSES } from '../failure';
import { ComponentIdSchema } from '../schemas';

export const SpoolParamsSchema = z.object({ spool: ComponentIdSchema }).strict();

const BacklogTotalsSchema = z.object({ delivered: z.number(), already: z.number(), failedAttempts: z.number(), deadLettered: z.number() });

export const BacklogStatusSchema = z
  .object({
    spool: z.string(),
    state: z.enum(['running', 'paused']),
    pausedUntil: z.string().optional(),
    pausedBy: z.string().optional(),
    pauseReason: z.string().optional(),
    /** What the entity is doing now. */
    activity: z.enum(['idle', 'checking-sink', 'replaying', 'backing-off']),
    /** null: not checked yet. */
    sink: z.object({ healthy: z.boolean().nullable(), checkedAt: z.string().optional(), detail: z.string(), failureClass: z.enum(FAILURE_CLASSES).optional() }),
    /** As of `countedAt` (the last cycle or reset); items spooled since then are not in it yet. */
    counts: z.object({ pending: z.number(), failed: z.number(), processing: z.number(), countedAt: z.string().optional() }),
    lastHour: z.object({ delivered: z.number(), failed: z.number(), successRate: z.number().nullable() }),
    totals: BacklogTotalsSchema,
    intervalMs: z.number(),
    nextCycleAt: z.string().optional(),
    backoffUntil: z.string().optional(),
    cycles: z.number(),
    lastError: z.string().optional(),
  })
  .meta({ id: 'BacklogStatus' });
/** The replay entity's `status` query answer. */
export type BacklogStatus = z.output<typeof BacklogStatusSchema>;

/** The spool folder's counts now, when the API's machine can read it (items spooled since the last cycle). */
const OnDiskSchema = z.object({ pending: z.number(), failed: z.number() });

/**
 * Set, instead of a status, when the spool's replay entity did not answer its status query within
 * the read's wait (a busy worker): the answer is partial, and says so. Try again shortly.
 */
const UnansweredSchema = z.string();

/** GET /v1/backlog/:spool: the status, and the spool folder's counts now when the API's machine can read it. */
export const BacklogSpoolAnsweredSchema = BacklogStatusSchema.extend({ onDisk: OnDiskSchema.optional() });

/** GET /v1/backlog/:spool when the replay entity did not answer in time: a partial answer (the spool, why no status, the folder's counts). */
export const BacklogSpoolUnansweredSchema = z.object({ spool: z.string(), unanswered: UnansweredSchema, onDisk: OnDiskSchema.optional() });

export const BacklogSpoolStatusSchema = z.union([BacklogSpoolAnsweredSchema, BacklogSpoolUnansweredSchema]);
export type BacklogSpoolStatus = z.output<typeof BacklogSpoolStatusSchema>;

/**
 * A spool in GET /v1/backlog and on the fleet page: `status` when its replay entity answered,
 * `unanswered` when it runs but did not answer in time (a partial answer), neither when it is not running.
 */
export const SpoolEntrySchema = z.object({
  spool: z.string(),
  running: z.boolean(),
  status: BacklogStatusSchema.optional(),
  unanswered: UnansweredSchema.optional(),
});

export type SpoolEntry = z.output<typeof SpoolEntrySchema>;

export const BacklogListSchema = z.object({ spools: z.array(SpoolEntrySchema) });

/** pause: for how many minutes (default 15, at most 7 days) and why. */
export const BacklogPauseBodySchema = z
  .object({
    minutes: z
      .number()
      .positive()
      .max(7 * 24 * 60)
      .default(15),
    reason: z.string().max(500).optional(),
  })
  .strict();

export const BacklogResetResponseSchema = z.object({ moved: z.number(), status: BacklogStatusSchema });

/** POST /v1/backlog/:spool/start: the replay entity, started or handed the current config. */
export const BacklogStartResponseSchema = z.object({ workflowId: z.string(), runId: z.string(), url: z.string() });
