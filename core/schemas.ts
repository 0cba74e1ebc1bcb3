/**
 * The one contract for mend's inputs: the config file, API bodies and CLI arguments are parsed
 * with these schemas; workflows receive the inferred (already validated) types, never zod itself.
 */
import { z } from 'zod';
import { DURATION_RE, parseDuration } from './duration';

/** "500ms" | "30s" | "5m" in the file, milliseconds once parsed. */
export const DurationSchema = z.string().regex(DURATION_RE, { message: 'expected a duration such as "500ms", "30s" or "5m"' }).transform(parseDuration);

export const ComponentIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
  message: 'expected a component id: lowercase letters, digits, "-" or "_", starting with a letter or digit (max 63)',
});

/** A host id: which machine a component, spool, saga command or drill is on (its agent polls `mend/host/<id>`). */
export const HostIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { message: 'expected a host id: lowercase letters, digits, "-" or "_", starting with a letter or digit (max 63)' });

/** A machine with components on it; its agent (`mend agent --host <id>`) runs their host-bound activities. */
export const HostSchema = z
  .object({
    id: HostIdSchema,
    description: z.string().optional(),
    /** Free-form labels (e.g. `{ zone: eu-1 }`), shown by `mend hosts`. */
    labels: z.record(z.string(), z.string()).default({}),
    /** Its CPU cores, for the ceiling of its adaptive recoveries; unset: those of the machine reading the config. */
    cores: z.number().int().min(1).max(100_000).optional(),
  })
  .strict();

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

/**
 * Operator-given argv lists, run without a shell: how `systemctl`, `docker` or `kubectl` are driven.
 * `status` exits 0 while the component runs; with it, start and stop skip what is already done.
 */
export const CommandAdapterSchema = z
  .object({
    type: z.literal('command'),
    start: ArgvSchema,
    stop: ArgvSchema,
    restart: ArgvSchema.optional(),
    status: ArgvSchema.optional(),
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).default({}),
    /** Each command must exit within this. */
    timeout: DurationSchema.prefault('30s'),
    stopTimeout: DurationSchema.prefault('30s'),
  })
  .strict();

export const HttpCallSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }),
    method: z.enum(['POST', 'PUT', 'GET', 'DELETE']).default('POST'),
    /** Any 2xx is success unless this names one status. */
    expectStatus: z.number().int().min(100).max(599).optional(),
  })
  .strict();

/** Calls a component's own admin endpoints. Without `start`, starting calls `restart`; without `stop`, stopping does nothing. */
export const HttpAdapterSchema = z
  .object({
    type: z.literal('http'),
    restart: HttpCallSchema,
    start: HttpCallSchema.optional(),
    stop: HttpCallSchema.optional(),
    headers: z.record(z.string(), z.string()).default({}),
    timeout: DurationSchema.prefault('10s'),
    stopTimeout: DurationSchema.prefault('10s'),
  })
  .strict();

export const AdapterSchema = z.discriminatedUnion('type', [ProcessAdapterSchema, CommandAdapterSchema, HttpAdapterSchema]);

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

/** Healthy when the argv (no shell) exits 0 within the timeout. */
export const CommandProbeSchema = z
  .object({
    type: z.literal('command'),
    command: ArgvSchema,
    cwd: z.string().optional(),
    timeout: DurationSchema.prefault('5s'),
  })
  .strict();

/** Healthy while the supervised process is alive (process adapter only). */
export const ProcessProbeSchema = z.object({ type: z.literal('process') }).strict();

export const ProbeSchema = z.discriminatedUnion('type', [HttpProbeSchema, TcpProbeSchema, CommandProbeSchema, ProcessProbeSchema]);

/** The built-in strategies; `mend run` and the API accept these, a custom runbook's name (and `saga` by name). */
export const STRATEGIES = ['immediate', 'progressive', 'dependency-aware', 'state-recovery', 'emergency-reset'] as const;
export type BuiltinStrategy = (typeof STRATEGIES)[number];

/**
 * A custom runbook's name: its file name in the runbooks folder (`runbooks/drain-restart.ts`).
 * Lowercase words joined by "-", so it maps one-to-one to a workflow type (core/workflow-types.ts).
 */
export const RUNBOOK_NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * A built-in strategy, or the name of a custom runbook. The shape is checked here; whether a custom
 * runbook of that name exists is checked where the runbooks folder is known (core/runbooks.ts).
 */
const unknownStrategy = (issue: { input?: unknown }) =>
  `unknown strategy ${JSON.stringify(issue.input)} (available: ${STRATEGIES.join(', ')}, or a custom runbook's name)`;
// The message on the name's own checks too: zod reports the branch of the union whose type matched.
export const StrategySchema = z.union(
  [z.enum(STRATEGIES), z.string().max(63, { error: unknownStrategy }).regex(RUNBOOK_NAME_PATTERN, { error: unknownStrategy })],
  {
    error: unknownStrategy,
  },
);

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
    /** Strategies to try in order; when one ends `failed`, the next starts (escalation). */
    escalation: z
      .array(StrategySchema)
      .refine((chain) => new Set(chain).size === chain.length, { message: 'each strategy may appear once in an escalation chain' })
      .default([]),
    /** Probe until healthy after a start; when false the run ends after starting. */
    validateAfterRecovery: z.boolean().default(true),
    /** immediate/progressive: clean temp files, stale locks and corrupt markers before starting an unhealthy component. */
    cleanupOnFailure: z.boolean().default(false),
    /** emergency-reset: run without waiting for an approval. */
    preApproved: z.boolean().default(false),
    /** emergency-reset: how long to wait for an approval before giving up (nothing is done). */
    approvalTimeout: DurationSchema.prefault('15m'),
  })
  .strict();

export const CleanupSchema = z
  .object({
    /** Folders to clean; by default the folders holding the state paths. */
    dirs: z.array(z.string().min(1)).optional(),
    /** Temporary files, moved aside whatever their age. */
    temp: z.array(z.string().min(1)).default(['*.tmp']),
    /** Lock files, moved aside once older than staleAfter. */
    locks: z.array(z.string().min(1)).default(['*.lock']),
    staleAfter: DurationSchema.prefault('1h'),
    /** Files whose presence marks the state corrupt (e.g. "CORRUPT"), moved aside. */
    corruptMarkers: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const StateSchema = z
  .object({
    /** Files and folders that make up the component's state: checkpointed, moved aside, restored. */
    paths: z.array(z.string().min(1)).default([]),
    /** Where checkpoints live; default `<MEND_HOME>/checkpoints/<component>`. */
    checkpointDir: z.string().optional(),
    /** Where state moved aside goes; default `<MEND_HOME>/aside/<component>`. */
    asideDir: z.string().optional(),
    cleanup: CleanupSchema.prefault({}),
    /** Pruning keeps at most `keep` checkpoints, none older than `maxAge`. */
    keep: z.number().int().min(1).max(10_000).default(10),
    maxAge: DurationSchema.prefault('7d'),
  })
  .strict();

/** A name for a health-check group: one schedule (`mend/health/<group>`) sweeps its components. */
export const GroupNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { message: 'expected a group name: lowercase letters, digits, "-" or "_" (max 63)' });

/** Circuit breaker against restart storms: more than `maxRecoveries` within `window` opens it. */
export const BreakerSchema = z
  .object({
    /** Recoveries allowed within `window`; one more opens the breaker (no auto-recovery, an alert). */
    maxRecoveries: z.number().int().min(1).max(1_000).default(3),
    window: DurationSchema.prefault('10m'),
    /** Open this long, then half-open: one trial recovery is allowed. */
    coolDown: DurationSchema.prefault('5m'),
    /** Half-open closes after the component stays healthy this long. */
    healthyToClose: DurationSchema.prefault('1m'),
  })
  .strict();

/** How a component is watched and when its supervisor starts a recovery. */
export const SupervisionSchema = z
  .object({
    /** Watch this component (health schedule + supervisor); false: recover only on request. */
    enabled: z.boolean().default(true),
    /** Health-check group: one schedule per group, firing at the smallest interval of its components. */
    group: GroupNameSchema.default('default'),
    /** Spacing of scheduled health checks (at least 1s: a Temporal schedule's resolution). */
    interval: DurationSchema.prefault('5s').refine((ms) => ms >= 1_000, { message: 'expected at least 1s (schedules fire at most once a second)' }),
    /** Failed probes in a row (the first plus fast confirmations) before a recovery starts. */
    failuresBeforeRecovery: z.number().int().min(1).max(20).default(3),
    /** Spacing of the confirmation probes after a failed check. */
    confirmInterval: DurationSchema.prefault('100ms'),
    /** After the supervisor starts, failures are noted but start no recovery for this long. */
    startupGrace: DurationSchema.prefault('10s'),
    /** Wait before a recovery that follows another without a healthy period: initial, doubling up to max. */
    restartBackoff: z
      .object({ initial: DurationSchema.prefault('1s'), max: DurationSchema.prefault('1m') })
      .strict()
      .prefault({}),
    /** Healthy this long resets the restart backoff. */
    backoffResetAfter: DurationSchema.prefault('10m'),
    /** A recovery counts as succeeded once the component stays healthy this long after it; failing sooner is a relapse. */
    relapseWindow: DurationSchema.prefault('5s'),
    /** Detection backoff while down and no recovery is possible: from `min`, doubling up to `max`. */
    cadence: z
      .object({ min: DurationSchema.prefault('1s'), max: DurationSchema.prefault('5m') })
      .strict()
      .prefault({}),
    breaker: BreakerSchema.prefault({}),
    /**
     * A crash that would be recovered at once with nothing else to decide is restarted by the pid
     * watch itself, on the component's host (see the README's "Restart in place"); false: every
     * recovery goes the supervisor's own way (run lookup, fleet permit, recovery run).
     */
    restartInPlace: z.boolean().default(true),
  })
  .strict();

export const ComponentSchema = z
  .object({
    id: ComponentIdSchema,
    description: z.string().optional(),
    /** The host it runs on (one of `hosts:`); without it, the default host the central worker serves. */
    host: HostIdSchema.optional(),
    adapter: AdapterSchema,
    probe: ProbeSchema,
    dependsOn: z.array(ComponentIdSchema).default([]),
    state: StateSchema.prefault({}),
    policy: PolicySchema.prefault({}),
    critical: z.boolean().default(false),
    supervision: SupervisionSchema.prefault({}),
  })
  .strict();

export const SagaIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { message: 'expected a name: lowercase letters, digits, "-" or "_" (max 63)' });

/** What a saga step does: an operator command (argv, no shell), or an operation on a configured component. */
export const SagaActionSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('command'),
      command: ArgvSchema,
      /** The host the command runs on; without it, the default host. */
      host: HostIdSchema.optional(),
      cwd: z.string().optional(),
      env: z.record(z.string(), z.string()).default({}),
      timeout: DurationSchema.prefault('1m'),
    })
    .strict(),
  z
    .object({
      type: z.literal('component'),
      component: ComponentIdSchema,
      op: z.enum(['start', 'stop', 'restart', 'checkpoint', 'validate']),
    })
    .strict(),
]);

export const SagaStepSchema = z
  .object({
    name: SagaIdSchema,
    action: SagaActionSchema,
    /** Undoes the action; run in reverse order when a later step fails. */
    compensate: SagaActionSchema.optional(),
  })
  .strict();

export const SagaSchema = z
  .object({
    name: SagaIdSchema,
    description: z.string().optional(),
    steps: z.array(SagaStepSchema).min(1, { message: 'a saga needs at least one step' }),
    /** Attempts for each compensation before it is recorded as failed (the run then ends needs-attention). */
    compensationAttempts: z.number().int().min(1).max(20).default(3),
  })
  .strict();

/** Base URL joined with a path, whether or not the base ends in "/". */
const joinUrl = (base: string, rel: string) => `${base.replace(/\/+$/, '')}/${rel}`;

/**
 * A backlog spool: items written to `<dir>/pending/` while a sink was down, replayed to the sink
 * in order with idempotent delivery; items that keep failing go to `<dir>/failed/`.
 */
export const SpoolSchema = z
  .object({
    name: ComponentIdSchema,
    /** The host whose disk holds the spool folder (its agent delivers); without it, the default host. */
    host: HostIdSchema.optional(),
    /** Folder holding pending/, failed/ and attempts/ (relative to the config file). */
    dir: z.string().min(1),
    sink: z
      .object({
        /** Base URL: items are POSTed to `<url>/items` and looked up at `<url>/items/<id>`. */
        url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }),
        /** Default `<url>/healthz`. */
        healthUrl: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional(),
        timeout: DurationSchema.prefault('5s'),
        headers: z.record(z.string(), z.string()).default({}),
      })
      .strict()
      .transform((sink) => ({ ...sink, healthUrl: sink.healthUrl ?? joinUrl(sink.url, 'healthz') })),
    /** Items delivered per replay batch (one batch at a time reaches the sink). */
    batchSize: z.number().int().min(1).max(100).default(10),
    /** Batches one cycle delivers back to back before waiting its interval again. */
    maxBatchesPerCycle: z.number().int().min(1).max(10_000).default(20),
    /** Retryable delivery failures of one item before it is dead-lettered. */
    maxAttempts: z.number().int().min(1).max(20).default(3),
    /** Larger pending files are reported bad (and dead-lettered), never read into memory whole. */
    maxItemBytes: z
      .number()
      .int()
      .min(1)
      .default(1024 * 1024),
    /** Replay spacing: `busy` while at least `busyAt` items wait, `some` while any wait, `idle` when none. */
    intervals: z
      .object({
        busy: DurationSchema.prefault('10s'),
        some: DurationSchema.prefault('30s'),
        idle: DurationSchema.prefault('60s'),
        busyAt: z.number().int().min(1).default(50),
      })
      .strict()
      .prefault({}),
    /** Upper bound of the wait after failed replays while the sink stays down. */
    maxBackoff: DurationSchema.prefault('5m'),
  })
  .strict();

/** Fleet-wide limits and alerting of the supervisors. */
export const FleetSupervisionSchema = z
  .object({
    /**
     * Recoveries the supervisors may run at once across the fleet; a further one waits. Unset: at
     * most DEFAULT_MAX_CONCURRENT_RECOVERIES of those that are not cheap, and cheap ones (restarts of
     * process components) as `adaptiveRecoveries` admits them. Set: a cap on every recovery.
     */
    maxConcurrentRecoveries: z.number().int().min(1).max(10_000).optional(),
    /**
     * Cheap recoveries (immediate or progressive restarts of `process` components), per host: as many
     * at once as an AIMD window admits, which grows by one per recovery that ends well within
     * `slowAfter` and halves on one that is slow or fails, between 1 and its ceiling.
     */
    adaptiveRecoveries: z
      .object({
        enabled: z.boolean().default(true),
        /** Most at once per host; unset: `perCore` × the host's cores. */
        ceiling: z.number().int().min(1).max(10_000).optional(),
        perCore: z.number().int().min(1).max(1_000).default(8),
        slowAfter: DurationSchema.prefault('10s'),
      })
      .strict()
      .prefault({}),
    /**
     * How long one firing of a health schedule keeps probing (its lease): the firing's activity, on
     * the host's agent, probes every interval until the lease ends, instead of one workflow start
     * per check (at 5,000 components over 10 hosts and 1-s checks that was 10 starts a second, and
     * the box fell behind). Unset (the default), or not longer than a group's interval: one probe
     * per firing. Opt-in: measured on one 2-core box with 5,000 components over 10 simulated hosts,
     * the loops took the server from 65% to 25% of a core but, never skipping a sweep, the agents'
     * probing from 99% to 139%, and detection got worse there (README "The lease").
     */
    checkLease: DurationSchema.optional(),
    /** Destructive recoveries (emergency-reset, state-recovery) supervisors may start per minute; a further one waits. */
    maxDestructivePerMinute: z.number().int().min(1).max(10_000).default(2),
    notify: z
      .object({
        /** POSTed a JSON body with a Slack-compatible `text` on breaker changes, auth failures and failed recoveries. */
        webhook: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional(),
        timeout: DurationSchema.prefault('5s'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/**
 * A drill rehearses a component's recovery: on a schedule (or `mend drill <name>`) it breaks the
 * component on purpose, waits for mend to recover it, and records the time to recovery.
 */
export const DrillSchema = z
  .object({
    name: SagaIdSchema,
    component: ComponentIdSchema,
    /** Where the fault is injected and recovery watched from; by default its component's host. */
    host: HostIdSchema.optional(),
    /** crash: SIGKILL its process; hang: SIGSTOP it; or an operator command (argv, no shell) that breaks it. */
    fault: z
      .union([z.enum(['crash', 'hang']), z.object({ command: ArgvSchema, cwd: z.string().optional(), timeout: DurationSchema.prefault('30s') }).strict()])
      .default('crash'),
    /** How often the drill's schedule fires; without it the drill runs only on request. */
    every: DurationSchema.refine((ms) => ms >= 60_000, { message: 'expected at least 1m between drills' }).optional(),
    /** The component must be healthy again within this, or the drill fails. */
    timeout: DurationSchema.prefault('2m'),
  })
  .strict();

export const ConfigSchema = z
  .object({
    version: z.literal(1).default(1),
    /** Folder of custom runbooks (one `<name>.ts` each), relative to the config file; missing: none. */
    runbooks: z.string().min(1).default('./runbooks'),
    /** The machines of the fleet; without it, everything is on the default host (`local`). */
    hosts: z
      .array(HostSchema)
      .refine((hosts) => new Set(hosts.map((h) => h.id)).size === hosts.length, { message: 'each host id may appear once' })
      .default([]),
    supervision: FleetSupervisionSchema.prefault({}),
    components: z.array(ComponentSchema).default([]),
    sagas: z.array(SagaSchema).default([]),
    spools: z
      .array(SpoolSchema)
      .refine((spools) => new Set(spools.map((s) => s.name)).size === spools.length, { message: 'each spool name may appear once' })
      .default([]),
    drills: z
      .array(DrillSchema)
      .refine((drills) => new Set(drills.map((d) => d.name)).size === drills.length, { message: 'each drill name may appear once' })
      .default([]),
  })
  .strict();

export const TriggerSchema = z.enum(['manual', 'api', 'schedule', 'alert', 'escalation', 'drill']);

/** What a caller (CLI, API) asks for when starting a run. */
export const RunRequestSchema = z
  .object({
    strategy: StrategySchema,
    /** The components to run a component runbook on, one run each (every built-in acts on components). */
    components: z.array(ComponentIdSchema).min(1, { message: 'name at least one component' }).optional(),
    /** The host to run a `targets: host` runbook on; a `targets: none` runbook takes neither. */
    host: HostIdSchema.optional(),
    dryRun: z.boolean().default(false),
    reason: z.string().max(500).optional(),
    trigger: TriggerSchema.default('manual'),
    options: z
      .object({
        /** state-recovery: restore this checkpoint id instead of the newest that verifies. */
        checkpoint: z
          .string()
          .regex(/^[\w.-]{1,100}$/, { message: 'expected a checkpoint id' })
          .optional(),
        /** state-recovery: restore the newest checkpoint created before this time (point in time). */
        before: z.iso.datetime({ offset: true, message: 'expected an ISO 8601 time, e.g. 2026-11-23T10:00:00Z' }).optional(),
        /** Do not start the policy's escalation chain when this run fails. */
        noEscalation: z.boolean().optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type Duration = z.output<typeof DurationSchema>;
export type ProcessAdapter = z.output<typeof ProcessAdapterSchema>;
export type CommandAdapter = z.output<typeof CommandAdapterSchema>;
export type HttpAdapter = z.output<typeof HttpAdapterSchema>;
export type HttpCall = z.output<typeof HttpCallSchema>;
export type Adapter = z.output<typeof AdapterSchema>;
export type CommandProbe = z.output<typeof CommandProbeSchema>;
export type Cleanup = z.output<typeof CleanupSchema>;
export type State = z.output<typeof StateSchema>;
export type SagaAction = z.output<typeof SagaActionSchema>;
export type SagaStep = z.output<typeof SagaStepSchema>;
export type Saga = z.output<typeof SagaSchema>;
export type HttpProbe = z.output<typeof HttpProbeSchema>;
export type TcpProbe = z.output<typeof TcpProbeSchema>;
export type Probe = z.output<typeof ProbeSchema>;
/** A built-in strategy or a custom runbook's name. */
export type Strategy = BuiltinStrategy | (string & {});
export type Policy = z.output<typeof PolicySchema>;
export type Component = z.output<typeof ComponentSchema>;
export type Config = z.output<typeof ConfigSchema>;
export type Host = z.output<typeof HostSchema>;
export type Supervision = z.output<typeof SupervisionSchema>;
export type Breaker = z.output<typeof BreakerSchema>;
export type FleetSupervision = z.output<typeof FleetSupervisionSchema>;
export type Trigger = z.output<typeof TriggerSchema>;
export type RunRequest = z.output<typeof RunRequestSchema>;
export type RunOptions = RunRequest['options'];
export type RunRequestInput = z.input<typeof RunRequestSchema>;
export type Spool = z.output<typeof SpoolSchema>;
export type Drill = z.output<typeof DrillSchema>;
export type SpoolInput = z.input<typeof SpoolSchema>;
export type SpoolSink = Spool['sink'];
