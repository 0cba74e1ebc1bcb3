/** /v1/sagas: the configured sagas and starting one. */
import { z } from 'zod';
import { SagaIdSchema } from '../schemas';

export const SagaNameParamsSchema = z.object({ name: SagaIdSchema }).strict();

/** What the API shows of a configured saga: its steps' kinds and components, never their commands. */
export const SagaViewSchema = z.object({
  name: z.string(),
  description: z.string().optional(),
  components: z.array(z.string()),
  steps: z.array(
    z.object({
      name: z.string(),
      action: z.enum(['command', 'component']),
      component: z.string().optional(),
      op: z.string().optional(),
      compensated: z.boolean(),
    }),
  ),
});
export const SagaListSchema = z.object({ sagas: z.array(SagaViewSchema) }).describe('the configured sagas');

/** POST /v1/sagas/:name/runs: the request id makes a retried request run the saga once. */
export const StartSagaBodySchema = z
  .object({
    requestId: z
      .string()
      .regex(/^[\w.-]{1,100}$/, { message: 'expected letters, digits, ".", "_" or "-" (max 100)' })
      .optional(),
    dryRun: z.boolean().default(false),
    reason: z.string().max(500).optional(),
  })
  .strict();
export const StartedSagaSchema = z
  .object({ workflowId: z.string(), runId: z.string(), url: z.string(), requestId: z.string() })
  .describe('started as mend/saga/<name>/<requestId>');
