import { ActivityCancellationType, CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { FailureClass } from '../core/failure';
import type { RecoveryResult, SagaInput } from '../core/run';
import type { SagaAction } from '../core/schemas';
import { acts, adapterActs, LONG } from './lib/restart';
import { causeMessage, failureClassOf, Runbook, StepFailed } from './lib/runbook';

/**
 * `saga`: a transactional runbook. Steps run in order; when one fails (or the run is cancelled),
 * the steps already completed are compensated in reverse order. A compensation is retried
 * (`compensationAttempts`), then recorded as failed, and the run ends `needs-attention`: never
 * silently. Workflow id `mend/saga/<name>/<request-id>`: a retried request runs the saga once.
 */
export async function saga(input: SagaInput): Promise<RecoveryResult> {
  const { saga: def } = input;
  const byId = new Map(input.components.map((c) => [c.id, c]));
  const run = new Runbook({ strategy: 'saga', components: input.components.map((c) => c.id), trigger: input.trigger, dryRun: input.dryRun });
  const info = workflowInfo();

  /** Runs step `index`'s action or compensation; `attempts` bounds Temporal's retries. Returns a line for the step log. */
  const perform = async (action: SagaAction, label: string, index: number, kind: 'action' | 'compensate', attempts: number): Promise<string> => {
    const key = `${info.workflowId}/${info.runId}/${index}/${kind}`;
    const retry = { maximumAttempts: attempts, initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s' };
    // On cancel, wait until the action has really stopped before compensating what came before it.
    const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;
    if (action.type === 'command') {
      const out = await acts(action, label, { startToCloseTimeout: action.timeout + 10_000, heartbeatTimeout: '10s', retry, cancellationType }).runCommand({
        command: action.command,
        cwd: action.cwd,
        env: action.env,
        timeoutMs: action.timeout,
        key,
      });
      return out.detail;
    }
    const component = byId.get(action.component)!;
    const a = adapterActs(component, label, { startToCloseTimeout: '5 minutes', heartbeatTimeout: '30s', retry, cancellationType });
    switch (action.op) {
      case 'stop':
        return (await a.stopComponent({ component })).detail;
      case 'start':
        return (await a.startComponent({ component })).detail;
      case 'restart':
        await a.stopComponent({ component });
        return (await a.startComponent({ component })).detail;
      case 'checkpoint': {
        // One id per step of this run, so a retry finds the checkpoint it already made.
        const id = `saga-${def.name}-${info.runId.slice(0, 8)}-${index}`;
        const made = await acts(component, label, { ...LONG, retry, cancellationType }).createCheckpoint({ component, id, label });
        return `checkpoint ${made.id}`;
      }
      case 'validate': {
        const { policy } = component;
        const seen = await acts(component, label, {
          startToCloseTimeout: policy.timeout + 15_000,
          heartbeatTimeout: '10s',
          retry,
          cancellationType,
        }).waitUntilHealthy({
          component,
          timeoutMs: policy.timeout,
          intervalMs: policy.validateInterval,
        });
        if (!seen.healthy) throw new StepFailed(`${component.id} not healthy: ${seen.last.detail}`, seen.last.failureClass);
        return `healthy after ${seen.probes} probe(s)`;
      }
    }
  };

  const describe = (action: SagaAction) => (action.type === 'command' ? action.command.join(' ') : `${action.op} ${action.component}`);
  const componentOf = (action: SagaAction) => (action.type === 'component' ? action.component : undefined);
  const completed: number[] = [];

  /** Compensates completed steps in reverse; returns the names of compensations that failed. */
  const compensate = async (): Promise<{ done: string[]; failed: string[] }> => {
    run.enter('failure');
    const done: string[] = [];
    const failed: string[] = [];
    for (const i of [...completed].reverse()) {
      const step = def.steps[i]!;
      if (!step.compensate) {
        run.skip('compensate', `compensate ${step.name}`, componentOf(step.action), 'no compensation defined');
        continue;
      }
      const label = `compensate ${step.name}: ${describe(step.compensate)}`;
      try {
        const detail = await run.step('compensate', label, componentOf(step.compensate), () =>
          perform(step.compensate!, label, i, 'compensate', def.compensationAttempts),
        );
        if (detail) run.note(detail);
        done.push(step.name);
      } catch {
        failed.push(step.name);
      }
    }
    return { done, failed };
  };

  run.enter('execution');
  let failure: { step: string; message: string; failureClass?: FailureClass; cancelled: boolean } | undefined;
  for (const [i, step] of def.steps.entries()) {
    const label = `${step.name}: ${describe(step.action)}`;
    try {
      const detail = await run.step('action', label, componentOf(step.action), () => perform(step.action, label, i, 'action', 1));
      if (detail) run.note(detail);
      completed.push(i);
    } catch (err) {
      const cancelled = isCancellation(err);
      failure = {
        step: step.name,
        message: cancelled ? 'cancelled by request' : causeMessage(err),
        failureClass: err instanceof StepFailed ? err.failureClass : failureClassOf(err),
        cancelled,
      };
      break;
    }
  }

  if (run.dryRun) {
    for (const i of [...def.steps.keys()].reverse()) {
      const step = def.steps[i]!;
      if (step.compensate)
        run.skip('compensate', `compensate ${step.name}: ${describe(step.compensate)}`, componentOf(step.compensate), 'only if a later step fails');
    }
    return run.finish('planned');
  }
  if (!failure) return run.finish('recovered');

  // Compensation must run to the end even when the run itself was cancelled.
  const { done, failed } = await CancellationScope.nonCancellable(compensate);
  const what = `step ${failure.step} ${failure.cancelled ? 'was cancelled' : `failed: ${failure.message}`}`;
  if (failed.length > 0) {
    return run.finish('needs-attention', {
      reason: `${what}; compensation failed for ${failed.join(', ')}${done.length ? ` (compensated: ${done.join(', ')})` : ''}: needs a human`,
      failureClass: failure.failureClass,
    });
  }
  const rolledBack = done.length ? `; compensated ${done.join(', ')}` : '; nothing to compensate';
  return run.finish(failure.cancelled ? 'cancelled' : 'failed', { reason: `${what}${rolledBack}`, failureClass: failure.failureClass });
}
