/**
 * Driving the backlog replay entities (`mend/backlog/<spool>`): start or reconfigure one, read its
 * status, pause, resume, force a cycle, move its dead letters back.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { BacklogInput, BacklogStatus, PauseRequest } from '../core/backlog';
import { backlogWorkflowId } from '../core/constants';
import {
  backlogForceUpdate,
  backlogPauseUpdate,
  backlogReconfigureSignal,
  backlogResetFailedUpdate,
  backlogResumeUpdate,
  backlogStatusQuery,
} from '../core/messages';
import { onHost } from '../core/hosts';
import type { Spool } from '../core/schemas';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { MendStrategy, MendTrigger } from '../core/search-attributes';
import { mapConnectionError, mapRunError, RunNotFoundError, type MendClient, type StartedRun } from './index';
import { queryKey } from './query-gate';

export class BacklogControl {
  constructor(private readonly mend: MendClient) {}

  /**
   * Starts the spool's entity, or hands a running one the spool's current config. Idempotent
   * (signal-with-start): running it at every start-up never makes a second entity.
   */
  async ensure(spool: Spool, opts: Pick<BacklogInput, 'continueAfterEvents'> = {}): Promise<StartedRun> {
    const workflowId = backlogWorkflowId(spool.name);
    try {
      const handle = await this.mend.temporal.workflow.signalWithStart(WORKFLOW_TYPES.backlog, {
        workflowId,
        taskQueue: this.mend.taskQueue,
        args: [{ spool, ...opts } satisfies BacklogInput],
        memo: this.mend.startMemo,
        signal: backlogReconfigureSignal,
        signalArgs: [spool],
        typedSearchAttributes: [
          { key: MendStrategy, value: 'backlog' },
          { key: MendTrigger, value: 'schedule' },
        ],
        staticSummary: `replay spool ${spool.name}${onHost(spool)} to ${spool.sink.url}`,
      });
      return { workflowId, runId: handle.signaledRunId, url: this.mend.runUrl(workflowId) };
    } catch (err) {
      throw mapConnectionError(err);
    }
  }

  /** The entity's status; `timeoutMs` bounds the wait for it within the caller's deadline. */
  async status(spool: string, opts: { timeoutMs?: number } = {}): Promise<BacklogStatus> {
    const workflowId = backlogWorkflowId(spool);
    const handle = this.mend.temporal.workflow.getHandle(workflowId);
    try {
      // Through the query gate (client/query-gate.ts): concurrent reads of one spool share one describe and query.
      return await this.mend.queries.read(
        queryKey(workflowId, backlogStatusQuery.name),
        async () => {
          const d = await handle.describe();
          if (d.status.name !== 'RUNNING') throw notRunning(spool, d.status.name.toLowerCase());
          return handle.query(backlogStatusQuery);
        },
        opts,
      );
    } catch (err) {
      throw this.mapped(err, spool);
    }
  }

  pause(spool: string, req: PauseRequest): Promise<BacklogStatus> {
    return this.update(spool, backlogPauseUpdate, req);
  }

  resume(spool: string, by: string): Promise<BacklogStatus> {
    return this.update(spool, backlogResumeUpdate, { by });
  }

  /** Runs a cycle now (cuts a sink backoff short); refused while paused. */
  force(spool: string, by: string): Promise<BacklogStatus> {
    return this.update(spool, backlogForceUpdate, { by });
  }

  /** Moves every dead letter back to pending with a fresh attempt count, then runs a cycle. */
  resetFailed(spool: string, by: string): Promise<{ moved: number; status: BacklogStatus }> {
    return this.update(spool, backlogResetFailedUpdate, { by });
  }

  private async update<T, A>(spool: string, def: UpdateDefinition<T, [A]>, arg: A): Promise<T> {
    this.mend.queries.forget(backlogWorkflowId(spool));
    try {
      return await this.mend.temporal.workflow.getHandle(backlogWorkflowId(spool)).executeUpdate(def, { args: [arg] });
    } catch (err) {
      throw this.mapped(err, spool);
    }
  }

  private mapped(err: unknown, spool: string): unknown {
    if (err instanceof RunNotFoundError) return err;
    if (err instanceof WorkflowNotFoundError) return notRunning(spool);
    return mapRunError(err, backlogWorkflowId(spool));
  }
}

function notRunning(spool: string, status?: string): RunNotFoundError {
  return new RunNotFoundError(
    `the replay of spool ${spool} is not running${status ? ` (${status})` : ''}; start it with \`mend backlog start ${spool}\` (npm start does this)`,
  );
}
