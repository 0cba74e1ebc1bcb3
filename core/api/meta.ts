/** /healthz and /readyz. */
import { z } from 'zod';

export const HealthResponseSchema = z.object({ status: z.literal('ok') }).describe('the API process is up');
export const ReadyResponseSchema = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    temporal: z.object({ reachable: z.boolean(), detail: z.string() }),
  })
  .describe('whether Temporal answers');
