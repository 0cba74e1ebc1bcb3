/**
 * Driving the backlog replay entities (`mend/backlog/<spool>`): start or reconfigure one, read its
 * status, pause, resume, force a cycle, move its dead letters back.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { BACKLOG_HANDLERS, BACKLOG_WORKFLOW, type BacklogInput, type BacklogStatus, type PauseRequest } from '../core/backlog';
import { backlogWorkflowId } from '../core/constants';
import { onHost } from '../core/hosts';
import type { Spool } from '../core/schemas';
import { MendStrategy, MendTrigger } from '../core/search-attributes';
import { mapConnectionError, mapRunError, RunNotFoundError, type MendClient, type StartedRun } from './index';

export class BacklogControl {
  constructor(private readonly mend: MendClient) {}

  /**
   * Starts the spool's entity, or hands a running one the spool's current config. Idempotent
   * (signal-with-start): running it at every start-up never makes a second entity.
   */
  async ensure(spool: Spool, opts: Pick<BacklogInput, 'continueAfterEvents'> = {}): Promise<StartedRun> {
    const workflowId = backlogWorkflowId(spool.name);
    try {
      const handle = await this.mend.temporal.workflow.signalWithStart(BACKLOG_WORKFLOW, {
        workflowId,
        taskQueue: this.mend.taskQueue,
        args: [{ spool, ...opts } satisfies BacklogInput],
        signal: BACKLOG_HANDLERS.reconfigure,
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

  async status(spool: string): Promise<BacklogStatus> {
    const workflowId = backlogWorkflowId(spool);
    const handle = this.mend.temporal.workflow.getHandle(workflowId);
    try {
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') throw notRunning(spool, d.status.name.toLowerCase());
      return await handle.query<BacklogStatus>(BACKLOG_HANDLERS.status);
    } catch (err) {
      throw this.mapped(err, spool);
    }
  }

  pause(spool: string, req: PauseRequest): Promise<BacklogStatus> {
    return this.update<BacklogStatus>(spool, BACKLOG_HANDLERS.pause, req);
  }

  resume(spool: string, by: string): Promise<BacklogStatus> {
    return this.update<BacklogStatus>(spool, BACKLOG_HANDLERS.resume, { by });
  }

  /** Runs a cycle now (cuts a sink backoff short); refused while paused. */
  force(spool: string, by: string): Promise<BacklogStatus> {
    return this.update<BacklogStatus>(spool, BACKLOG_HANDLERS.force, { by });
  }

  /** Moves every dead letter back to pending with a fresh attempt count, then runs a cycle. */
  resetFailed(spool: string, by: string): Promise<{ moved: number; status: BacklogStatus }> {
    return this.update(spool, BACKLOG_HANDLERS.resetFailed, { by });
  }

  private async update<T>(spool: string, name: string, arg: unknown): Promise<T> {
    try {
      return await this.mend.temporal.workflow.getHandle(backlogWorkflowId(spool)).executeUpdate<T, [unknown]>(name, { args: [arg] });
    } catch (err) {
      throw this.mapped(err, spool);
    }
  }

  private mapped(err: unknown, spool: string): unknown {
    if (err instanceof WorkflowNotFoundError) return notRunning(spool);
    return mapRunError(err, backlogWorkflowId(spool));
  }
}

function notRunning(spool: string, status?: string): RunNotFoundError {
  return new RunNotFoundError(`the replay of spool ${spool} is not running${status ? ` (${status})` : ''}; start it with \`mend backlog start ${spool}\` (npm start does this)`);
}
