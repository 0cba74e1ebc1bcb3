/**
 * The HTTP API's contract: request and response bodies, query strings and path parameters, and the
 * tokens file. Shared by the API (validation, OpenAPI) and API clients (the CLI's api-client).
 * Request schemas are strict (unknown fields are refused); response schemas have no transforms
 * (the API's serializer encodes with them).
 */
import { z } from 'zod';
import { FAILURE_CLASSES } from './failure';
import { hostOf } from './hosts';
import { OUTCOMES, PHASES } from './run';
import { ComponentIdSchema, GroupNameSchema, HostIdSchema, type Component, RunRequestSchema, SagaIdSchema, STRATEGIES, StrategySchema, TriggerSchema } from './schemas';

// ---------------------------------------------------------------- errors

export const ErrorIssueSchema = z.object({
  /** Where: `body.components[0]`, `query.since`, `params.id`. */
  path: z.string(),
  message: z.string(),
});

export const ErrorResponseSchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    message: z.string(),
    requestId: z.string().optional(),
    issues: z.array(ErrorIssueSchema).optional(),
    /** 409: the run already running. */
    workflowId: z.string().optional(),
    runId: z.string().optional(),
  })
  .meta({ id: 'Error', description: 'an error: status, one-line message, request id; for 400 the fields' });

export type ErrorResponse = z.output<typeof ErrorResponseSchema>;

// ---------------------------------------------------------------- auth

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.output<typeof RoleSchema>;

/** One entry of MEND_TOKENS_FILE: the token itself, or its sha256 (hex) so the file holds no secret. */
export const TokenEntrySchema = z
  .object({
    /** Recorded as `requestedBy` / `approved by` in runs; never the token itself. */
    name: z.string().regex(/^[\w.@-]{1,64}$/, { message: 'expected a name: letters, digits, ".", "_", "@" or "-" (max 64)' }),
    token: z.string().min(16, { message: 'a token needs at least 16 characters' }).max(512).optional(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, { message: 'expected 64 lowercase hex digits' }).optional(),
    role: RoleSchema,
    /** Components this token may start and control runs on; absent = all. Reads are never scoped. */
    components: z.array(ComponentIdSchema).min(1).optional(),
  })
  .strict()
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), { message: 'give exactly one of token or sha256' });

export const TokensFileSchema = z.object({ tokens: z.array(TokenEntrySchema).min(1, { message: 'list at least one token' }) }).strict();
export type TokenEntry = z.output<typeof TokenEntrySchema>;

// ---------------------------------------------------------------- bodies

/**
 * The body of a POST that takes nothing: absent, empty or `{}` (the API reads a missing body as
 * `{}`, see api/json-body.ts); anything else is a 400, so junk never acts.
 */
export const NoBodySchema = z.object({}).strict().meta({ id: 'NoBody', description: 'nothing: leave the body out, or send {}' });

// ---------------------------------------------------------------- components

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
    policy: { strategy: c.policy.strategy, escalation: c.policy.escalation, timeoutMs: c.policy.timeout, maxRetries: c.policy.maxRetries, preApproved: c.policy.preApproved },
  };
}

export const ComponentListSchema = z.object({ components: z.array(ComponentViewSchema) }).describe('the configured components');
export const ComponentStatsSchema = z.object({
  component: z.string(),
  health: z.enum(['unknown', 'healthy', 'unhealthy', 'recovering']),
  breaker: z.enum(['closed', 'open', 'half-open']),
  attempted: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  successRate: z.number().optional(),
  mttrP50Ms: z.number().optional(),
  mttrP95Ms: z.number().optional(),
  lastMttrMs: z.number().optional(),
  meanMttrMs: z.number().optional(),
  lastFailureClass: z.string().optional(),
  current: z.string().optional(),
  held: z.string().optional(),
  strategy: z.string().optional(),
  mttrHistogram: z.object({ buckets: z.array(z.object({ le: z.number(), count: z.number() })), count: z.number(), sumSeconds: z.number() }).optional(),
});

/** What the component's supervisor holds now; its statistics as `GET /v1/stats` reports them. */
export const SupervisorViewSchema = z.object({
  workflowId: z.string(),
  health: z.enum(['unknown', 'healthy', 'unhealthy', 'recovering']),
  consecutiveFailures: z.number(),
  /** Failed checks that start a recovery. */
  threshold: z.number(),
  breaker: z.object({ state: z.enum(['closed', 'open', 'half-open']), reason: z.string().optional(), halfOpenAt: z.string().optional() }),
  /** The recovery it runs now, if any. */
  current: z.object({ workflowId: z.string(), strategy: z.string(), startedAt: z.string() }).optional(),
  /** Auto-recovery held; until `pausedUntil`, or until resumed when that is absent. */
  paused: z.boolean(),
  pausedUntil: z.string().optional(),
  pausedBy: z.string().optional(),
  /** Why the last failure started no recovery. */
  held: z.string().optional(),
  lastFailureClass: z.string().optional(),
  lastDetail: z.string().optional(),
  stats: ComponentStatsSchema,
});

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
    checkedAt: z.string(),
    /** Whether the component's supervisor got the result (false: it has none). */
    reported: z.boolean(),
  })
  .meta({ id: 'CheckResult', description: 'the probe result' });
export type CheckResultBody = z.output<typeof CheckResultSchema>;

// ---------------------------------------------------------------- runs

/** POST /v1/runs: a run request as the CLI makes it; the API sets the trigger (`api`) itself. */
export const StartRunsBodySchema = RunRequestSchema.omit({ trigger: true })
  .refine((body) => new Set(body.components).size === body.components.length, { message: 'each component may appear once', path: ['components'] })
  .meta({ id: 'StartRunsRequest' });
export type StartRunsBody = z.output<typeof StartRunsBodySchema>;

export const StartedRunSchema = z.object({ component: z.string(), workflowId: z.string(), runId: z.string(), url: z.string() });

/** 202: one run per component, in the order asked; the top-level ids are the first run's. */
export const StartRunsResponseSchema = z
  .object({ workflowId: z.string(), runId: z.string(), url: z.string(), runs: z.array(StartedRunSchema) })
  .meta({ id: 'StartedRuns', description: 'started: one run per component' });

const RUN_KINDS = [...STRATEGIES, 'saga'] as const;

/** GET /v1/runs filters; each becomes a clause of a visibility query on mend's search attributes. */
export const RunListQuerySchema = z
  .object({
    component: ComponentIdSchema.optional(),
    strategy: z.enum(RUN_KINDS).optional(),
    phase: z.enum(PHASES).optional(),
    outcome: z.enum(OUTCOMES).optional(),
    trigger: TriggerSchema.optional(),
    status: z.enum(['running', 'closed']).optional(),
    /** Runs started at or after this time. */
    since: z.iso.datetime({ offset: true, message: 'expected an ISO 8601 time, e.g. 2026-11-23T10:00:00Z' }).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();
export type RunListQuery = z.output<typeof RunListQuerySchema>;

export const RunSummarySchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  type: z.string(),
  status: z.string(),
  startTime: z.string(),
  closeTime: z.string().optional(),
  components: z.array(z.string()),
  strategy: z.string().optional(),
  phase: z.string().optional(),
  outcome: z.string().optional(),
  trigger: z.string().optional(),
  url: z.string(),
});
export type RunSummary = z.output<typeof RunSummarySchema>;
export const RunListSchema = z.object({ query: z.string(), runs: z.array(RunSummarySchema) }).describe('matching runs, newest first, and the visibility query used');

/**
 * A run in a path: a workflow id (`mend/recover/api`, URL-encoded: `mend%2Frecover%2Fapi`), or a bare
 * component id meaning its recovery run.
 */
export const RunIdSchema = z.union([ComponentIdSchema, z.string().regex(/^mend\/[\w./-]{1,300}$/)], {
  error: () => 'expected a workflow id such as mend/recover/api (URL-encoded) or a component id',
});
export const RunIdParamsSchema = z.object({ id: RunIdSchema }).strict();

const ApprovalStatusSchema = z.object({
  state: z.enum(['not-needed', 'pre-approved', 'waiting', 'approved', 'rejected', 'timed-out']),
  by: z.string().optional(),
  reason: z.string().optional(),
  deadline: z.string().optional(),
});

const StepRecordSchema = z.object({
  name: z.string(),
  summary: z.string(),
  component: z.string().optional(),
  status: z.enum(['running', 'ok', 'failed', 'skipped', 'planned']),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  detail: z.string().optional(),
});

const RunProgressSchema = z.object({
  phase: z.enum(PHASES),
  step: z.string().optional(),
  attempt: z.number(),
  paused: z.boolean(),
  nextAttemptAt: z.string().optional(),
  approval: ApprovalStatusSchema.optional(),
  steps: z.array(StepRecordSchema),
});

const RungSchema = z.object({ strategy: z.string(), workflowId: z.string(), runId: z.string().optional(), outcome: z.enum(OUTCOMES), reason: z.string().optional() });

const RecoveryResultSchema = z.object({
  outcome: z.enum(OUTCOMES),
  strategy: z.string(),
  components: z.array(z.string()),
  dryRun: z.boolean(),
  reason: z.string().optional(),
  failureClass: z.enum(FAILURE_CLASSES).optional(),
  attempts: z.number(),
  steps: z.array(StepRecordSchema),
  startedAt: z.string(),
  endedAt: z.string(),
  durationMs: z.number(),
  approval: ApprovalStatusSchema.optional(),
  ladder: z.array(RungSchema).optional(),
});

export const RunDetailSchema = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    type: z.string(),
    status: z.string(),
    startTime: z.string(),
    closeTime: z.string().optional(),
    url: z.string(),
    progress: RunProgressSchema.optional(),
    result: RecoveryResultSchema.optional(),
  })
  .meta({ id: 'Run', description: 'the run: status, progress and result' });

/** pause / resume / cancel: an optional reason. */
export const ControlBodySchema = z.object({ reason: z.string().max(500).optional() }).strict();
export const ControlResponseSchema = z.object({ workflowId: z.string(), action: z.enum(['pause', 'resume', 'cancel']), by: z.string() }).describe('the request reached the run');

/** approve: `approve: false` rejects; who decides is the token's name. */
export const ApproveBodySchema = z.object({ approve: z.boolean().default(true), reason: z.string().max(500).optional() }).strict();
export const ApproveResponseSchema = ApprovalStatusSchema.extend({ workflowId: z.string() }).describe('the decision, as the run recorded it');

// ---------------------------------------------------------------- sagas

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
    requestId: z.string().regex(/^[\w.-]{1,100}$/, { message: 'expected letters, digits, ".", "_" or "-" (max 100)' }).optional(),
    dryRun: z.boolean().default(false),
    reason: z.string().max(500).optional(),
  })
  .strict();
export const StartedSagaSchema = z
  .object({ workflowId: z.string(), runId: z.string(), url: z.string(), requestId: z.string() })
  .describe('started as mend/saga/<name>/<requestId>');

// ---------------------------------------------------------------- alertmanager

/** Alertmanager's webhook payload (version 4). Extra fields are tolerated: Alertmanager adds some over time. */
export const AlertmanagerAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string().max(1024)),
  annotations: z.record(z.string(), z.string().max(16_384)).default({}),
  startsAt: z.string().max(64).optional(),
  endsAt: z.string().max(64).optional(),
  generatorURL: z.string().max(4096).optional(),
  fingerprint: z.string().max(128).optional(),
});

export const AlertmanagerPayloadSchema = z
  .object({
    version: z.literal('4', { error: 'expected Alertmanager webhook version "4"' }),
    groupKey: z.string().max(4096),
    truncatedAlerts: z.number().int().min(0).optional(),
    status: z.enum(['firing', 'resolved']),
    receiver: z.string().max(1024),
    groupLabels: z.record(z.string(), z.string().max(1024)).default({}),
    commonLabels: z.record(z.string(), z.string().max(1024)).default({}),
    commonAnnotations: z.record(z.string(), z.string().max(16_384)).default({}),
    externalURL: z.string().max(4096).optional(),
    alerts: z.array(AlertmanagerAlertSchema).max(1000),
  })
  .meta({ id: 'AlertmanagerWebhook' });
export type AlertmanagerPayload = z.output<typeof AlertmanagerPayloadSchema>;

/** One firing of an alert: Alertmanager's fingerprint (a hash of its labels) and when it started firing. */
export const AlertKeySchema = z.object({ fingerprint: z.string(), startsAt: z.string().optional() });
export type AlertKey = z.output<typeof AlertKeySchema>;
/** What a recovery started by alerts keeps in its memo (`alerts`): the firings that asked for it. */
export const AlertMemoSchema = z.array(AlertKeySchema);

export const AlertOutcomeSchema = z.object({
  started: z.array(StartedRunSchema),
  /** A recovery of that component was already running (or this payload named it twice): not started again. */
  alreadyRunning: z.array(z.object({ component: z.string(), workflowId: z.string() })),
  /** Checked on a worker before anything started, and healthy now: nothing started. */
  healthy: z.array(z.object({ component: z.string(), detail: z.string(), checkedAt: z.string() })),
  /** These firings already had a recovery (`workflowId`) that ended within the dedupe window: not started again. */
  deduplicated: z.array(z.object({ component: z.string(), workflowId: z.string(), endedAt: z.string(), fingerprints: z.array(z.string()) })),
  /** Firing alerts whose component label names no configured component (or none at all). */
  unknown: z.array(z.object({ value: z.string().optional(), fingerprint: z.string().optional(), alertname: z.string().optional() })),
  /** Components this token may not act on. */
  forbidden: z.array(z.string()),
  /** Resolved alerts: nothing to do. */
  resolved: z.number().int(),
}).describe('what the payload started, skipped and could not map');
export type AlertOutcome = z.output<typeof AlertOutcomeSchema>;

// ---------------------------------------------------------------- health

export const HealthResponseSchema = z.object({ status: z.literal('ok') }).describe('the API process is up');
export const ReadyResponseSchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  temporal: z.object({ reachable: z.boolean(), detail: z.string() }),
}).describe('whether Temporal answers');

// ---------------------------------------------------------------- backlog

export const SpoolParamsSchema = z.object({ spool: ComponentIdSchema }).strict();

const BacklogTotalsSchema = z.object({ delivered: z.number(), already: z.number(), failedAttempts: z.number(), deadLettered: z.number() });

export const BacklogStatusSchema = z
  .object({
    spool: z.string(),
    state: z.enum(['running', 'paused']),
    pausedUntil: z.string().optional(),
    pausedBy: z.string().optional(),
    pauseReason: z.string().optional(),
    activity: z.enum(['idle', 'checking-sink', 'replaying', 'backing-off']),
    sink: z.object({ healthy: z.boolean().nullable(), checkedAt: z.string().optional(), detail: z.string(), failureClass: z.string().optional() }),
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

export const BacklogListSchema = z.object({
  spools: z.array(z.object({ spool: z.string(), running: z.boolean(), status: BacklogStatusSchema.optional() })),
});

/** pause: for how many minutes (default 15, at most 7 days) and why. */
export const BacklogPauseBodySchema = z
  .object({
    minutes: z.number().positive().max(7 * 24 * 60).default(15),
    reason: z.string().max(500).optional(),
  })
  .strict();

export const BacklogResetResponseSchema = z.object({ moved: z.number(), status: BacklogStatusSchema });

// ---------------------------------------------------------------- supervision


export const FleetStatsSchema = z
  .object({
    components: z.array(ComponentStatsSchema),
    fleet: ComponentStatsSchema.pick({ attempted: true, succeeded: true, failed: true, successRate: true, mttrP50Ms: true, mttrP95Ms: true }).extend({
      supervised: z.number(),
      breakersOpen: z.number(),
    }),
    unsupervised: z.array(z.string()),
  })
  .meta({ id: 'FleetStats' });

export const HealthScheduleSchema = z.object({
  scheduleId: z.string(),
  group: z.string(),
  intervalMs: z.number().optional(),
  paused: z.boolean(),
  components: z.array(z.string()),
  nextRunAt: z.string().optional(),
  lastRunAt: z.string().optional(),
});
export const ScheduleListSchema = z.object({ schedules: z.array(HealthScheduleSchema) });
export const ScheduleParamsSchema = z.object({ group: GroupNameSchema }).strict();
export const ScheduleActionResponseSchema = z.object({
  scheduleId: z.string(),
  /** Every schedule acted on, when the group is split into parts (the first is `scheduleId`). */
  scheduleIds: z.array(z.string()).optional(),
  action: z.enum(['pause', 'resume', 'trigger']),
  by: z.string(),
});

// ---------------------------------------------------------------- hosts

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
