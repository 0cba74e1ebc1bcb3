/** Hosts and their agents (`GET /v1/hosts`, `mend hosts`). */
import { z } from 'zod';
import { HostIdSchema } from '../schemas';

export const HostIdParamsSchema = z.object({ id: HostIdSchema }).strict();

const HostAgentSchema = z.object({
  /** The worker identity Temporal records on every activity it runs. */
  identity: z.string(),
  role: z.enum(['agent', 'worker']).optional(),
  host: z.string().optional(),
  machine: z.string().optional(),
  pid: z.number().optional(),
  version: z.string().optional(),
  startedAt: z.string().optional(),
  /** When Temporal last heard a poll from it. */
  lastSeen: z.string().optional(),
  up: z.boolean(),
});

export const HostViewSchema = z
  .object({
    id: z.string(),
    description: z.string().optional(),
    labels: z.record(z.string(), z.string()),
    /** The default host, served by the central worker itself. */
    default: z.boolean(),
    /** The task queue its agent polls. */
    taskQueue: z.string(),
    agent: z.enum(['up', 'down']),
    lastSeen: z.string().optional(),
    version: z.string().optional(),
    /** Components the config puts on it. */
    components: z.number(),
    agents: z.array(HostAgentSchema),
  })
  .meta({ id: 'Host' })
  .describe("a host and its agent, from Temporal's pollers on its queue");

export const HostListSchema = z.object({ hosts: z.array(HostViewSchema) }).describe('the hosts of the config (and the default host)');

/** drain: why (shown in each supervisor's `held`). undrain: nothing. */
export const HostDrainBodySchema = z.object({ reason: z.string().min(1).max(500).optional() }).strict();

export const HostDrainResponseSchema = z
  .object({
    host: z.string(),
    action: z.enum(['drain', 'undrain']),
    by: z.string(),
    /** Supervised components whose supervisor was drained (drain), or whose drain was lifted and nothing else holds (undrain). */
    components: z.array(z.string()),
    /** undrain: components left paused by an operator's own `mend pause` (a drain of theirs, if any, is lifted). */
    skipped: z.array(z.string()).optional(),
  })
  .describe("a host's automatic recoveries held (drain) or let go on (undrain)");
export type HostDrainResult = z.infer<typeof HostDrainResponseSchema>;
