/**
 * The one typed facade over the Temporal client: start recoveries, read and control runs.
 * Used by the API, the CLI, scripts and tests; nothing else talks to Temporal's client directly.
 */
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { QueryDefinition, SearchAttributePair } from '@temporalio/common';
import { relatives } from '../core/graph';
import { onHost } from '../core/hosts';
import {
  hostRunbookWorkflowId,
  recoveryWorkflowId,
  runbookWorkflowId,
  sagaWorkflowId,
  webUiRunUrl,
  DEFAULT_HOST_EMBEDDED_MEMO,
  DEFAULT_NAMESPACE,
  DEFAULT_TASK_QUEUE,
} from '../core/constants';
import { approveUpdate, pauseSignal, progressQuery, resumeSignal } from '../core/messages';
import type { ApprovalRequest, ApprovalStatus, RecoveryInput, RecoveryResult, RunbookKind, RunProgress, SagaInput, TargetedRunInput } from '../core/run';
import { progressUnanswered, type AlertKey, type RunDetail, type StartedRunBody } from '../core/api';
import type { Component, RunOptions, Saga, Strategy, Trigger } from '../core/schemas';
import { MendComponents, MendPhase, MendStrategy, MendTrigger } from '../core/search-attributes';
import { isBuiltinStrategy, strategyWorkflowType, WORKFLOW_TYPES } from '../core/workflow-types';
import { QueryGate, queryKey } from './query-gate';

export interface MendClientOptions {
  address: string;
  namespace?: string;
  taskQueue?: string;
  uiUrl?: string;
  /** Connect on first use instead of now (the API starts even while Temporal is down). */
  lazy?: boolean;
  /**
   * Whether the central workers of `taskQueue` also serve the default host (default true: workers/main.ts
   * always does). Runs started then carry DEFAULT_HOST_EMBEDDED_MEMO and schedule the default host's
   * activities on their own queue, where the worker can take them at once; pass false for central
   * workers created with `embeddedHost: false` (an agent serves the default host).
   */
  defaultHostEmbedded?: boolean;
  /** Workflow queries this client has in flight at once (client/query-gate.ts); default 8. */
  maxConcurrentQueries?: number;
}

export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
  constructor(
    readonly workflowId: string,
    readonly runId: string | undefined,
    message = `a recovery is already running as ${workflowId}${runId ? ` (run ${runId})` : ''}`,
  ) {
    super(message);
  }
}

export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
}

/** The run refused a request (e.g. an approval when it is not waiting for one). */
export class RunRefusedError extends Error {
  override name = 'RunRefusedError';
}

/** A request for a run that has ended: it is not running any more, so there is nothing to act on. */
export class RunEndedError extends RunRefusedError {
  override name = 'RunEndedError';
  constructor(
    readonly workflowId: string,
    readonly runId: string,
    /** Temporal's execution status, e.g. COMPLETED. */
    readonly status: string,
  ) {
    super(`${workflowId} has ended (${status.toLowerCase()})`);
  }
}

export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

/**
 * Temporal (or the worker answering a query) did not answer within the caller's deadline: the
 * server may well be up, but busy. A TemporalUnreachableError too, so every caller that handles one
 * (the CLI's exit code, the API's 503) handles this, while saying what happened.
 */
export class TemporalTimeoutError extends TemporalUnreachableError {
  override name = 'TemporalTimeoutError';
}

export interface StartRecoveryRequest {
  strategy: Strategy;
  component: Component;
  trigger: Trigger;
  requestedBy: string;
  reason?: string;
  dryRun?: boolean;
  options?: RunOptions;
  /** The whole config's components; dependency-aware and emergency-reset runs get the component's relatives from it. */
  allComponents?: Component[];
  /** The firing alerts that asked for it, kept in the run's memo (`alerts`) so a repeat of them is recognised. */
  alerts?: AlertKey[];
}

/** A run of a custom runbook with `targets: 'host'` (a host) or `targets: 'none'` (no target). */
export interface StartTargetedRunRequest extends TargetedRunInput {
  runbook: string;
}

export interface StartSagaRequest {
  saga: Saga;
  /** The whole config's components; the saga gets those its steps name. */
  allComponents: Component[];
  /** Makes the start idempotent: the same request id never runs the saga twice. */
  requestId: string;
  trigger: Trigger;
  requestedBy: string;
  reason?: string;
  dryRun?: boolean;
}

/** A run's status, progress and result, as the API's `Run` shows it. */
export type RunDescription = RunDetail;

/** A run just started (the API's StartedRun, without the component it names). */
export type StartedRun = Omit<StartedRunBody, 'component'>;

export class MendClient {
  readonly namespace: string;
  readonly taskQueue: string;
  readonly uiUrl: string;
  /** Memo every run this client starts carries: whether its queue's workers serve the default host (see MendClientOptions). */
  readonly startMemo: Record<string, unknown>;
  /** Every workflow query of this client goes through it: shared while in flight, and bounded. */
  readonly queries: QueryGate;

  private constructor(
    readonly connection: Connection,
    readonly temporal: Client,
    opts: MendClientOptions,
  ) {
    this.namespace = opts.namespace ?? DEFAULT_NAMESPACE;
    this.taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
    this.uiUrl = opts.uiUrl ?? 'http://localhost:8233';
    this.startMemo = opts.defaultHostEmbedded === false ? {} : { [DEFAULT_HOST_EMBEDDED_MEMO]: true };
    this.queries = new QueryGate(connection, opts.maxConcurrentQueries);
  }

  /**
   * A workflow query through the gate: a query already in flight for the same workflow answers this
   * one too. `timeoutMs` bounds this query's wait within the caller's deadline. Errors are Temporal's own.
   */
  query<R>(workflowId: string, def: QueryDefinition<R, []>, opts: { runId?: string; timeoutMs?: number } = {}): Promise<R> {
    return this.queries.read(queryKey(workflowId, def.name, opts.runId), () => this.temporal.workflow.getHandle(workflowId, opts.runId).query(def), {
      timeoutMs: opts.timeoutMs,
    });
  }

  static async connect(opts: MendClientOptions): Promise<MendClient> {
    let connection: Connection;
    try {
      connection = opts.lazy ? Connection.lazy({ address: opts.address }) : await Connection.connect({ address: opts.address, connectTimeout: 5_000 });
    } catch (err) {
      throw new TemporalUnreachableError(`Temporal is not reachable at ${opts.address}: ${(err as Error).message}`);
    }
    const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
    return new MendClient(connection, new Client({ connection, namespace }), opts);
  }

  /** True when the namespace answers within `timeoutMs`; a real round trip to the server. */
  async isReachable(timeoutMs = 2_000): Promise<{ ok: boolean; detail: string }> {
    try {
      await this.connection.withDeadline(Date.now() + timeoutMs, () => this.connection.workflowService.describeNamespace({ namespace: this.namespace }));
      return { ok: true, detail: `namespace ${this.namespace} answered` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  runUrl(workflowId: string, runId?: string): string {
    return webUiRunUrl(this.uiUrl, this.namespace, workflowId, runId);
  }

  /** Starts a component's recovery under `mend/recover/<component>`; AlreadyRunningError if one runs. */
  async startRecovery(req: StartRecoveryRequest): Promise<StartedRun> {
    const workflowId = recoveryWorkflowId(req.component.id);
    const input: RecoveryInput = {
      component: req.component,
      trigger: req.trigger,
      requestedBy: req.requestedBy,
      reason: req.reason,
      dryRun: req.dryRun,
      options: req.options,
      // Escalation may reach a strategy that needs them, so the ladder's strategies count too.
      related: recoveryRelatives(req.strategy, req.component, req.allComponents ?? []),
    };
    try {
      const handle = await this.temporal.workflow.start(strategyWorkflowType(req.strategy), {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        typedSearchAttributes: startAttributes([req.component.id], req.strategy, req.trigger),
        memo: { ...this.startMemo, requestedBy: req.requestedBy, reason: req.reason ?? '', ...(req.alerts?.length ? { alerts: req.alerts } : {}) },
        staticSummary: `${req.dryRun ? 'plan' : 'recover'} ${req.component.id}${onHost(req.component)} (${req.strategy}, ${req.trigger} by ${req.requestedBy})`,
        staticDetails: req.reason,
      });
      return { workflowId, runId: handle.firstExecutionRunId, url: this.runUrl(workflowId, handle.firstExecutionRunId) };
    } catch (err) {
      throw await this.startError(err, workflowId);
    }
  }

  /** What a failed start means: AlreadyRunningError (naming the run that holds the id, and `what` runs) or a connection error. */
  private async startError(err: unknown, workflowId: string, what?: string): Promise<unknown> {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) return mapConnectionError(err);
    const running = await this.temporal.workflow
      .getHandle(workflowId)
      .describe()
      .catch(() => undefined);
    return what === undefined
      ? new AlreadyRunningError(workflowId, running?.runId)
      : new AlreadyRunningError(workflowId, running?.runId, `${what} as ${workflowId}${running ? ` (run ${running.runId})` : ''}`);
  }

  /**
   * Starts a host runbook under `mend/host-runbook/<host>` (one at a time per host) or an
   * untargeted one under `mend/runbook/<name>` (one run of it at a time); AlreadyRunningError if one runs.
   * The caller has checked that the runbook targets what `req.target` names (core/runbooks.ts targetProblem).
   */
  async startTargetedRun(req: StartTargetedRunRequest): Promise<StartedRun> {
    const { target } = req;
    const workflowId = target.kind === 'host' ? hostRunbookWorkflowId(target.host) : runbookWorkflowId(req.runbook);
    const input: TargetedRunInput = {
      target,
      hosts: req.hosts,
      trigger: req.trigger,
      requestedBy: req.requestedBy,
      reason: req.reason,
      dryRun: req.dryRun,
    };
    try {
      const handle = await this.temporal.workflow.start(strategyWorkflowType(req.runbook), {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        typedSearchAttributes: startAttributes([], req.runbook, req.trigger),
        memo: { ...this.startMemo, requestedBy: req.requestedBy, reason: req.reason ?? '' },
        staticSummary: `${req.dryRun ? 'plan' : 'run'} ${req.runbook}${target.kind === 'host' ? ` on host ${target.host}` : ''} (${req.trigger} by ${req.requestedBy})`,
        staticDetails: req.reason,
      });
      return { workflowId, runId: handle.firstExecutionRunId, url: this.runUrl(workflowId, handle.firstExecutionRunId) };
    } catch (err) {
      throw await this.startError(
        err,
        workflowId,
        target.kind === 'host' ? `a runbook is already running on host ${target.host}` : `${req.runbook} is already running`,
      );
    }
  }

  /** Starts a saga under `mend/saga/<name>/<request-id>`; AlreadyRunningError if that request already ran or runs. */
  async startSaga(req: StartSagaRequest): Promise<StartedRun> {
    const workflowId = sagaWorkflowId(req.saga.name, req.requestId);
    const named = new Set(req.saga.steps.flatMap((s) => [s.action, s.compensate]).flatMap((a) => (a?.type === 'component' ? [a.component] : [])));
    const components = req.allComponents.filter((c) => named.has(c.id));
    const input: SagaInput = {
      saga: req.saga,
      components,
      requestId: req.requestId,
      trigger: req.trigger,
      requestedBy: req.requestedBy,
      reason: req.reason,
      dryRun: req.dryRun,
    };
    try {
      const handle = await this.temporal.workflow.start(WORKFLOW_TYPES.saga, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        // A saga id is used once: a retried request with the same id reports the earlier run.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: startAttributes(
          components.map((c) => c.id),
          'saga',
          req.trigger,
        ),
        memo: { ...this.startMemo, requestedBy: req.requestedBy, reason: req.reason ?? '' },
        staticSummary: `${req.dryRun ? 'plan' : 'run'} saga ${req.saga.name} (${req.saga.steps.length} steps, ${req.trigger} by ${req.requestedBy})`,
        staticDetails: req.reason,
      });
      return { workflowId, runId: handle.firstExecutionRunId, url: this.runUrl(workflowId, handle.firstExecutionRunId) };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new AlreadyRunningError(workflowId, undefined, `saga request ${req.requestId} already ran as ${workflowId}`);
      throw mapConnectionError(err);
    }
  }

  /**
   * Approves or rejects a run waiting for an approval; the run's validator explains a refusal.
   * When the run itself is not waiting but a rung of its escalation ladder is (an emergency reset
   * escalated to), the decision goes to that rung. Returns the status and the run decided on.
   */
  async approve(workflowId: string, req: ApprovalRequest): Promise<ApprovalStatus & { workflowId: string }> {
    const target = (await this.waitingRung(workflowId)) ?? workflowId;
    try {
      const status = await this.temporal.workflow.getHandle(target).executeUpdate(approveUpdate, { args: [req] });
      return { ...status, workflowId: target };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        // A closed run answers updates with "not found": say that it ended, if it exists.
        const closed = await this.temporal.workflow
          .getHandle(target)
          .describe()
          .catch(() => undefined);
        if (closed) throw new RunRefusedError(`${target} has ended (${closed.status.name.toLowerCase()}); it is not waiting for an approval`);
      }
      throw mapRunError(err, workflowId);
    }
  }

  /** The running escalation rung under `workflowId` that waits for an approval, if any. */
  async waitingRung(workflowId: string): Promise<string | undefined> {
    const waiting = async (id: string) => (await this.progress(id).catch(() => undefined))?.approval?.state === 'waiting';
    if (await waiting(workflowId)) return undefined;
    const query = `WorkflowId STARTS_WITH ${JSON.stringify(`${workflowId}/escalation/`)} AND ExecutionStatus = "Running"`;
    try {
      for await (const run of this.temporal.workflow.list({ query })) if (await waiting(run.workflowId)) return run.workflowId;
    } catch {
      // Visibility unavailable: decide on the run as named.
    }
    return undefined;
  }

  /**
   * Status, progress (while it runs or from its last state) and result (once closed) of a run.
   * With `progressWaitMs`, the progress query gets that long (within the caller's deadline): a run
   * that does not answer in time (a closed run is replayed by a worker to answer, which a busy one
   * may not do soon) is described without its progress and says so in `unanswered`, so the rest of
   * the read keeps its time instead of the query spending the request's deadline.
   */
  async describe(workflowId: string, runId?: string, opts: { progressWaitMs?: number } = {}): Promise<RunDescription> {
    const handle = this.temporal.workflow.getHandle(workflowId, runId);
    try {
      const d = await handle.describe();
      const closed = d.status.name !== 'RUNNING';
      const wait = opts.progressWaitMs;
      // A run of a type without the query (or a failed query) is described without progress, as before.
      const { progress, unanswered } = await this.query(workflowId, progressQuery, { runId, timeoutMs: wait }).then(
        (progress) => ({ progress, unanswered: undefined }),
        (err: unknown) => ({ progress: undefined, unanswered: wait !== undefined && isTimeout(err) ? progressUnanswered(workflowId, wait) : undefined }),
      );
      const result = d.status.name === 'COMPLETED' ? ((await handle.result()) as RecoveryResult) : undefined;
      return {
        workflowId,
        runId: d.runId,
        type: d.type,
        status: d.status.name,
        startTime: d.startTime.toISOString(),
        closeTime: closed ? d.closeTime?.toISOString() : undefined,
        url: this.runUrl(workflowId, d.runId),
        progress,
        ...(unanswered ? { unanswered } : {}),
        result,
      };
    } catch (err) {
      throw mapRunError(err, workflowId);
    }
  }

  async result(workflowId: string, runId?: string): Promise<RecoveryResult> {
    try {
      return (await this.temporal.workflow.getHandle(workflowId, runId).result()) as RecoveryResult;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new RunNotFoundError(`no run ${workflowId}`);
      throw mapConnectionError(err);
    }
  }

  async progress(workflowId: string, runId?: string, opts: { timeoutMs?: number } = {}): Promise<RunProgress> {
    try {
      return await this.query(workflowId, progressQuery, { runId, ...opts });
    } catch (err) {
      throw mapRunError(err, workflowId);
    }
  }

  /** Holds the run before its next side effect (a step in progress finishes first). */
  async pause(workflowId: string, by: string, reason?: string): Promise<void> {
    await this.signalRun(workflowId, pauseSignal, { by, reason });
  }

  async resume(workflowId: string, by: string): Promise<void> {
    await this.signalRun(workflowId, resumeSignal, { by });
  }

  /** A signal to a closed run reads as "not found" in Temporal: RunEndedError says it has ended instead, when it exists. */
  private async signalRun(workflowId: string, signal: typeof pauseSignal | typeof resumeSignal, arg: { by: string; reason?: string }): Promise<void> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    this.queries.forget(workflowId);
    try {
      await handle.signal(signal, arg);
    } catch (err) {
      const mapped = mapRunError(err, workflowId);
      if (!(mapped instanceof RunNotFoundError)) throw mapped;
      const closed = await handle.describe().catch(() => undefined);
      throw closed ? new RunEndedError(workflowId, closed.runId, closed.status.name) : mapped;
    }
  }

  /**
   * Requests cancellation: the running step is cancelled and the run ends `cancelled` (a saga
   * compensates first). RunEndedError when the run has ended: Temporal accepts a cancellation
   * request for a closed run without a word, so the run's status is read first.
   */
  async cancel(workflowId: string): Promise<void> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    try {
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') throw new RunEndedError(workflowId, d.runId, d.status.name);
      await handle.cancel();
    } catch (err) {
      if (err instanceof RunEndedError) throw err;
      throw mapRunError(err, workflowId);
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** Search attributes a run starts with, so the Web UI can filter it before its first step. */
function startAttributes(components: string[], kind: RunbookKind, trigger: Trigger): SearchAttributePair[] {
  return [
    // A run acting on no component (a host or untargeted runbook) starts without the attribute.
    ...(components.length > 0 ? [{ key: MendComponents, value: components }] : []),
    { key: MendStrategy, value: kind },
    { key: MendTrigger, value: trigger },
    { key: MendPhase, value: 'detection' },
  ];
}

/** Strategies that act on a component's relatives as well as on the component. */
const NEEDS_RELATIVES = new Set<Strategy>(['dependency-aware', 'emergency-reset']);

/** The relatives a component's recovery needs (its strategy or escalation chain acts on them), else undefined. */
export function recoveryRelatives(strategy: Strategy, component: Component, all: Component[]): Component[] | undefined {
  return [strategy, ...component.policy.escalation].some((s) => NEEDS_RELATIVES.has(s) || !isBuiltinStrategy(s))
    ? relatedComponents(component.id, all)
    : undefined;
}

function relatedComponents(id: string, all: Component[]): Component[] {
  const { dependencies, dependents } = relatives(all, id);
  const wanted = new Set([...dependencies, ...dependents]);
  return all.filter((c) => wanted.has(c.id));
}

/** Unknown run → RunNotFoundError; an update the run refused → its reason; else connection mapping. */
export function mapRunError(err: unknown, workflowId: string): unknown {
  if (err instanceof WorkflowNotFoundError) return new RunNotFoundError(`no run ${workflowId}`);
  if (err instanceof WorkflowUpdateFailedError) return new RunRefusedError((err.cause as Error | undefined)?.message ?? err.message);
  return mapConnectionError(err);
}

type ErrorChain = { code?: unknown; message?: unknown; cause?: unknown } | undefined;

function someInChain(err: unknown, test: (e: NonNullable<ErrorChain>) => boolean): boolean {
  for (let e = err as ErrorChain, depth = 0; e && depth < 4; e = e.cause as ErrorChain, depth++) if (test(e)) return true;
  return false;
}

const text = (e: { message?: unknown }) => (typeof e.message === 'string' ? e.message : '');

/** No connection to Temporal: refused, unresolvable, or never made (a deadline that passed while waiting to connect). */
function isConnectionFailure(err: unknown): boolean {
  return someInChain(err, (e) => e.code === 14 || /UNAVAILABLE|ECONNREFUSED|Failed to connect|waiting for LB pick/i.test(text(e)));
}

/**
 * A call that reached Temporal but got no answer before its deadline (gRPC DEADLINE_EXCEEDED, or
 * CANCELLED, which is how gRPC sometimes reports a deadline the caller set).
 */
export function isTimeout(err: unknown): boolean {
  if (err instanceof TemporalTimeoutError) return true;
  if (err instanceof TemporalUnreachableError || isConnectionFailure(err)) return false;
  return someInChain(err, (e) => e.code === 4 || e.code === 1 || /DEADLINE_EXCEEDED|\b1 CANCELLED\b|deadline/i.test(text(e)));
}

/** Temporal not reachable, or not answering in time. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof TemporalUnreachableError || isConnectionFailure(err) || someInChain(err, (e) => e.code === 4 || /DEADLINE_EXCEEDED/.test(text(e)));
}

/** Connection failures → TemporalUnreachableError; deadlines that passed → TemporalTimeoutError; else `err`. */
export function mapConnectionError(err: unknown): unknown {
  if (err instanceof TemporalUnreachableError) return err;
  if (isTimeout(err)) return new TemporalTimeoutError(`Temporal did not answer in time: ${(err as Error).message}`);
  if (isUnreachable(err)) return new TemporalUnreachableError(`Temporal is not reachable: ${(err as Error).message}`);
  return err;
}
