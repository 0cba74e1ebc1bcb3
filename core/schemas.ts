/**
 * The one contract for mend's inputs: the config file, API bodies and CLI arguments are parsed
 * with these schemas; workflows receive the inferred (already validated) types, never zod itself.
 */
import { z } from 'zod';
import { DURATION_RE, parseDuration } from './duration';

/** "500ms" | "30s" | "5m" in the file, milliseconds once parsed. */
export const DurationSchema = z
  .string()
  .regex(DURATION_RE, { message: 'expected a duration such as "500ms", "30s" or "5m"' })
  .transform(parseDuration);

export const ComponentIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
    message: 'expected a component id: lowercase letters, digits, "-" or "_", starting with a letter or digit (max 63)',
  });

const ArgvSchema = z.array(z.string().min(1)).min(1, { message: 'expected a non-empty argv list, e.g. ["node", "server.js"]' });

/** mend starts, stops and restarts a local process it supervises, with pid and log files. */
export const ProcessAdapterSchema = z
  .object({
    type: z.literal('process'),
    command: ArgvSchema,
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).default({}),
    pidFile: z.string().optional(),
    logFile: z.string().optional(),
    stopSignal: z.enum(['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP']).default('SIGTERM'),
    stopTimeout: DurationSchema.prefault('5s'),
  })
  .strict();

export const AdapterSchema = z.discriminatedUnion('type', [ProcessAdapterSchema]);

export const HttpProbeSchema = z
  .object({
    type: z.literal('http'),
    url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }),
    method: z.enum(['GET', 'HEAD']).default('GET'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    bodyIncludes: z.string().optional(),
    timeout: DurationSchema.prefault('1s'),
  })
  .strict();

export const TcpProbeSchema = z
  .object({
    type: z.literal('tcp'),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65_535),
    timeout: DurationSchema.prefault('1s'),
  })
  .strict();

/** Healthy while the supervised process is alive (process adapter only). */
export const ProcessProbeSchema = z.object({ type: z.literal('process') }).strict();

export const ProbeSchema = z.discriminatedUnion('type', [HttpProbeSchema, TcpProbeSchema, ProcessProbeSchema]);

/** Strategies this build of mend can run; `mend run` and the API accept only these. */
export const STRATEGIES = ['immediate', 'progressive', 'dependency-aware'] as const;
export const StrategySchema = z.enum(STRATEGIES, {
  error: (issue) => `unknown strategy ${JSON.stringify(issue.input)} (available: ${STRATEGIES.join(', ')})`,
});

export const PolicySchema = z
  .object({
    strategy: StrategySchema.default('immediate'),
    /** How long validation probes for a healthy answer after a start. */
    timeout: DurationSchema.prefault('30s'),
    /** Spacing of validation probes. */
    validateInterval: DurationSchema.prefault('250ms'),
    /** progressive: how many restart attempts in all before the run fails. */
    maxRetries: z.number().int().min(1).max(100).default(5),
    /** progressive: wait after the first failed attempt, growing by exponentialBase up to maxDelay. */
    initialDelay: DurationSchema.prefault('1s'),
    maxDelay: DurationSchema.prefault('5m'),
    exponentialBase: z.number().min(1).max(10).default(2),
    /** Fraction of each wait added or removed at random (0.2 = ±20 %), so a fleet does not retry in lockstep. */
    jitter: z.number().min(0).max(1).default(0.2),
  })
  .strict();

export const StateSchema = z
  .object({
    paths: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const ComponentSchema = z
  .object({
    id: ComponentIdSchema,
    description: z.string().optional(),
    adapter: AdapterSchema,
    probe: ProbeSchema,
    dependsOn: z.array(ComponentIdSchema).default([]),
    state: StateSchema.prefault({}),
    policy: PolicySchema.prefault({}),
    critical: z.boolean().default(false),
  })
  .strict();

export const ConfigSchema = z
  .object({
    version: z.literal(1).default(1),
    components: z.array(ComponentSchema).default([]),
  })
  .strict();

export const TriggerSchema = z.enum(['manual', 'api', 'schedule', 'alert', 'escalation', 'drill']);

/** What a caller (CLI, API) asks for when starting a run. */
export const RunRequestSchema = z
  .object({
    strategy: StrategySchema,
    components: z.array(ComponentIdSchema).min(1, { message: 'name at least one component' }),
    dryRun: z.boolean().default(false),
    reason: z.string().max(500).optional(),
    trigger: TriggerSchema.default('manual'),
  })
  .strict();

export type Duration = z.output<typeof DurationSchema>;
export type ProcessAdapter = z.output<typeof ProcessAdapterSchema>;
export type Adapter = z.output<typeof AdapterSchema>;
export type HttpProbe = z.output<typeof HttpProbeSchema>;
export type TcpProbe = z.output<typeof TcpProbeSchema>;
export type Probe = z.output<typeof ProbeSchema>;
export type Strategy = z.output<typeof StrategySchema>;
export type Policy = z.output<typeof PolicySchema>;
export type Component = z.output<typeof ComponentSchema>;
export type Config = z.output<typeof ConfigSchema>;
export type Trigger = z.output<typeof TriggerSchema>;
export type RunRequest = z.output<typeof RunRequestSchema>;
export type RunRequestInput = z.input<typeof RunRequestSchema>;
