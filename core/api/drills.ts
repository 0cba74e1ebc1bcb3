/** /v1/drills: start a configured drill now, and read a drill run's result. */
import { z } from 'zod';
import { SagaIdSchema } from '../schemas';

export const DrillParamsSchema = z.object({ name: SagaIdSchema }).strict();
/** A drill run: `mend/drill/<name>/<run>`, `run` being the random suffix the start gave it. */
export const DrillRunParamsSchema = z
  .object({ name: SagaIdSchema, run: z.string().regex(/^[0-9a-f]{8}$/, { message: 'expected the 8 hex digits of a drill run' }) })
  .strict();

export const DrillResultSchema = z
  .object({
    drill: z.string(),
    component: z.string(),
    /** recovered: broken and healthy again in time; failed: not healthy within the timeout; skipped: not healthy before. */
    outcome: z.enum(['recovered', 'failed', 'skipped']),
    fault: z.string(),
    /** When the fault was injected and when the component answered healthy again. */
    injectedAt: z.string().optional(),
    recoveredAt: z.string().optional(),
    /** Time to recovery: from the fault to the first healthy answer after it. */
    mttrMs: z.number().optional(),
    detail: z.string(),
  })
  .meta({ id: 'DrillResult' });
/** A drill run's result (the drill workflow's return value). */
export type DrillResult = z.output<typeof DrillResultSchema>;

export const StartedDrillSchema = z
  .object({ workflowId: z.string(), runId: z.string(), url: z.string(), run: z.string() })
  .describe('started as mend/drill/<name>/<run>');

export const DrillRunSchema = z
  .object({ workflowId: z.string(), status: z.string(), result: DrillResultSchema.optional() })
  .describe('the drill run: its Temporal status and, once it has completed, its result');
