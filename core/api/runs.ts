/** /v1/runs: starting runs, listing them, a run's progress and result, and controlling it. */
import { z } from 'zod';
import { FAILURE_CLASSES } from '../failure';
import { OUTCOMES, PHASES } from '../run';
import { ComponentIdSchema, RunRequestSchema, STRATEGIES, StrategySchema, TriggerSchema } from '../schemas';

/**
 * POST /v1/runs: a run request as the CLI makes it; the API sets the trigger (`api`) itself.
 * Components for a runbook acting on components, `host` for one acting on a host, neither for one
 * with no target (what each takes: `mend runbooks`).
 */
export const StartRunsBodySchema = RunRequestSchema.omit({ trigger: true })
  .refine((body) => new Set(body.components).size === (body.components ?? []).length, { message: 'each component may appear once', path: ['components'] })
  .refine((body) => body.components === undefined || body.host === undefined, { message: 'name components or a host, not both', path: ['host'] })
  .meta({ id: 'StartRunsRequest' });
export type StartRunsBody = z.output<typeof StartRunsBodySchema>;

/** One run started: for the component it acts on, or the host (a host runbook), or neither (an untargeted runbook). */
export const StartedRunSchema = z.object({
  component: z.string().optional(),
  host: z.string().optional(),
  workflowId: z.string(),
  runId: z.string(),
  url: z.string(),
});
export type StartedRunBody = z.output<typeof StartedRunSchema>;

/** 202: one run per component, in the order asked (one run for a host or untargeted runbook); the top-level ids are the first run's. */
export const StartRunsResponseSchema = z
  .object({ workflowId: z.string(), runId: z.string(), url: z.string(), runs: z.array(StartedRunSchema) })
  .meta({ id: 'StartedRuns', description: 'started: one run per component' });

/** What a run executes: a component strategy, or a configured saga. */
export const RUN_KINDS = [...STRATEGIES, 'saga'] as const;
/** A built-in kind, or a custom runbook's name. */
const RunKindSchema = z.union([z.enum(RUN_KINDS), StrategySchema]);

/** GET /v1/runs filters; each becomes a clause of a visibility query on mend's search attributes. */
export const RunListQuerySchema = z
  .object({
    component: ComponentIdSchema.optional(),
    strategy: RunKindSchema.optional(),
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

/** What names a run and says where it stands: shared by the list's rows and the detail. */
const RunIdentityShape = {
  workflowId: z.string(),
  runId: z.string(),
  type: z.string(),
  status: z.string(),
  startTime: z.string(),
  closeTime: z.string().optional(),
};

export const RunSummarySchema = z.object({
  ...RunIdentityShape,
  components: z.array(z.string()),
  strategy: z.string().optional(),
  phase: z.string().optional(),
  outcome: z.string().optional(),
  trigger: z.string().optional(),
  url: z.string(),
});
export type RunSummary = z.output<typeof RunSummarySchema>;
export const RunListSchema = z
  .object({ query: z.string(), runs: z.array(RunSummarySchema) })
  .describe('matching runs, newest first, and the visibility query used');
export type RunList = z.output<typeof RunListSchema>;

/**
 * A run in a path: a workflow id (`mend/recover/api`, URL-encoded: `mend%2Frecover%2Fapi`), or a bare
 * component id meaning its recovery run.
 */
export const RunIdSchema = z.union([ComponentIdSchema, z.string().regex(/^mend\/[\w./-]{1,300}$/)], {
  error: () => 'expected a workflow id such as mend/recover/api (URL-encoded) or a component id',
});
export const RunIdParamsSchema = z.object({ id: RunIdSchema }).strict();

export const ApprovalStatusSchema = z.object({
  state: z.enum(['not-needed', 'pre-approved', 'waiting', 'approved', 'rejected', 'timed-out']),
  by: z.string().optional(),
  reason: z.string().optional(),
  /** While waiting: when the wait gives up. */
  deadline: z.string().optional(),
});

export const StepRecordSchema = z.object({
  name: z.string(),
  summary: z.string(),
  component: z.string().optional(),
  status: z.enum(['running', 'ok', 'failed', 'skipped', 'planned']),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  detail: z.string().optional(),
});

/** A phase the run entered: when, and how many steps it had then (where it goes among them). */
export const PhaseRecordSchema = z.object({ phase: z.enum(PHASES), at: z.string(), step: z.number() });

export const RunProgressSchema = z.object({
  phase: z.enum(PHASES),
  /** Every phase entered so far, in order (`phase` is the last): a watcher prints those it did not see. */
  phases: z.array(PhaseRecordSchema).optional(),
  step: z.string().optional(),
  attempt: z.number(),
  paused: z.boolean(),
  nextAttemptAt: z.string().optional(),
  approval: ApprovalStatusSchema.optional(),
  steps: z.array(StepRecordSchema),
});

/** One rung of an escalation ladder. */
export const RungSchema = z.object({
  strategy: RunKindSchema,
  workflowId: z.string(),
  /** Set since rungs link their runs; older ladders name the workflow only. */
  runId: z.string().optional(),
  /** This rung's own outcome (the last rung's is the ladder's). */
  outcome: z.enum(OUTCOMES),
  reason: z.string().optional(),
});

/** What a run returns (every strategy and the saga). */
export const RecoveryResultSchema = z.object({
  outcome: z.enum(OUTCOMES),
  strategy: RunKindSchema,
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
  /** When this run failed and escalated: every rung from this run to the last, with its outcome. */
  ladder: z.array(RungSchema).optional(),
});

export const RunDetailSchema = z
  .object({
    ...RunIdentityShape,
    url: z.string(),
    progress: RunProgressSchema.optional(),
    /**
     * Set, instead of `progress`, when the run did not answer its progress query within the read's
     * wait (a busy worker, or a closed run's history still being replayed): a partial answer. Try again shortly.
     */
    unanswered: z.string().optional(),
    result: RecoveryResultSchema.optional(),
  })
  .meta({ id: 'Run', description: 'the run: status, progress and result' });
export type RunDetail = z.output<typeof RunDetailSchema>;

/** What a partial answer of GET /v1/runs/<id> says about a run that did not answer its progress query within `waitMs`. */
export const progressUnanswered = (workflowId: string, waitMs: number) =>
  `${workflowId} did not answer its progress query within ${waitMs / 1000} s (a busy worker, or a long history to replay); its progress is left out, try again shortly`;

/** pause / resume / cancel: an optional reason. */
export const ControlBodySchema = z.object({ reason: z.string().max(500).optional() }).strict();
export const ControlResponseSchema = z
  .object({ workflowId: z.string(), action: z.enum(['pause', 'resume', 'cancel']), by: z.string() })
  .describe('the request reached the run');

/** approve: `approve: false` rejects; who decides is the token's name. */
export const ApproveBodySchema = z.object({ approve: z.boolean().default(true), reason: z.string().max(500).optional() }).strict();
export const ApproveResponseSchema = ApprovalStatusSchema.extend({ workflowId: z.string() }).describe('the decision, as the run recorded it');
