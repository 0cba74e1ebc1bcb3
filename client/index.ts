/**
 * The one typed facade over the Temporal client: start recoveries, read and control runs.
 * Used by the API, the CLI, scripts and tests; nothing else talks to Temporal's client directly.
 */
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { relatives } from '../core/graph';
import { recoveryWorkflowId, webUiRunUrl, DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE } from '../core/constants';
import { STRATEGY_WORKFLOW, type RecoveryInput, type RecoveryResult, type RunProgress } from '../core/run';
import type { Component, Strategy, Trigger } from '../core/schemas';
import { MendComponents, MendPhase, MendStrategy, MendTrigger } from '../core/search-attributes';

export interface MendClientOptions {
  address: string;
  namespace?: string;
  taskQueue?: string;
  uiUrl?: string;
  /** Connect on first use instead of now (the API starts even while Temporal is down). */
  lazy?: boolean;
}

export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
  constructor(
    readonly workflowId: string,
    readonly runId: string | undefined,
  ) {
    super(`a recovery is already running as ${workflowId}${runId ? ` (run ${runId})` : ''}`);
  }
}

export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
}

export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

export interface StartRecoveryRequest {
  strategy: Strategy;
  component: Component;
  trigger: Trigger;
  requestedBy: string;
  reason?: string;
  dryRun?: boolean;
  /** The whole config's components; dependency-aware runs get the component's relatives from it. */
  allComponents?: Component[];
}

export interface StartedRun {
  workflowId: string;
  runId: string;
  url: string;
}

export class MendClient {
  readonly namespace: string;
  readonly taskQueue: string;
  readonly uiUrl: string;

  private constructor(
    readonly connection: Connection,
    readonly temporal: Client,
    opts: MendClientOptions,
  ) {
    this.namespace = opts.namespace ?? DEFAULT_NAMESPACE;
    this.taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
    this.uiUrl = opts.uiUrl ?? 'http://localhost:8233';
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
      related: req.strategy === 'dependency-aware' ? relatedComponents(req.component.id, req.allComponents ?? []) : undefined,
    };
    try {
      const handle = await this.temporal.workflow.start(STRATEGY_WORKFLOW[req.strategy], {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        typedSearchAttributes: [
          { key: MendComponents, value: [req.component.id] },
          { key: MendStrategy, value: req.strategy },
          { key: MendTrigger, value: req.trigger },
          { key: MendPhase, value: 'detection' },
        ],
        memo: { requestedBy: req.requestedBy, reason: req.reason ?? '' },
        staticSummary: `${req.dryRun ? 'plan' : 'recover'} ${req.component.id} (${req.strategy}, ${req.trigger} by ${req.requestedBy})`,
        staticDetails: req.reason,
      });
      return { workflowId, runId: handle.firstExecutionRunId, url: this.runUrl(workflowId, handle.firstExecutionRunId) };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        const running = await this.temporal.workflow.getHandle(workflowId).describe().catch(() => undefined);
        throw new AlreadyRunningError(workflowId, running?.runId);
      }
      throw mapConnectionError(err);
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

  async progress(workflowId: string, runId?: string): Promise<RunProgress> {
    return this.temporal.workflow.getHandle(workflowId, runId).query<RunProgress>('progress');
  }

  /** Holds the run before its next side effect (a step in progress finishes first). */
  async pause(workflowId: string, by: string, reason?: string): Promise<void> {
    await this.temporal.workflow.getHandle(workflowId).signal('pause', { by, reason });
  }

  async resume(workflowId: string, by: string): Promise<void> {
    await this.temporal.workflow.getHandle(workflowId).signal('resume', { by });
  }

  /** Requests cancellation: the running step is cancelled and the run ends `cancelled`. */
  async cancel(workflowId: string): Promise<void> {
    await this.temporal.workflow.getHandle(workflowId).cancel();
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

function relatedComponents(id: string, all: Component[]): Component[] {
  const { dependencies, dependents } = relatives(all, id);
  const wanted = new Set([...dependencies, ...dependents]);
  return all.filter((c) => wanted.has(c.id));
}

function mapConnectionError(err: unknown): unknown {
  const message = (err as Error)?.message ?? '';
  if (/UNAVAILABLE|ECONNREFUSED|Failed to connect|deadline/i.test(message)) return new TemporalUnreachableError(`Temporal is not reachable: ${message}`);
  return err;
}
