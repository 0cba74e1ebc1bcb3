/**
 * Escalation: when a runbook ends `failed`, the next strategy of the component's policy chain
 * starts as a child workflow (`<id>/escalation/<strategy>`), so the Web UI links the whole ladder.
 * The parent waits for it, which keeps "one recovery per component" true across the ladder.
 * The ladder's first run carries its final outcome (MendOutcome and result) and lists every rung
 * with its workflow and run id; every later rung records its own outcome.
 */
import { isCancellation, ParentClosePolicy, patched, startChild, workflowInfo } from '@temporalio/workflow';
import { escalationWorkflowId } from '../../core/constants';
import type { RecoveryInput, RecoveryResult, Rung } from '../../core/run';
import { strategyWorkflowType } from '../../core/workflow-types';
import type { Strategy } from '../../core/schemas';
import { carriedOn } from './hosts';
import { upsertOutcome } from './search-attributes';
import { causeMessage, type Runbook } from './runbook';

/** The strategy after `current` in the chain, if any. */
export function nextRung(chain: readonly Strategy[], current: Strategy): Strategy | undefined {
  const at = chain.indexOf(current);
  return at >= 0 ? chain[at + 1] : undefined;
}

/**
 * Returns `result` as it is unless it failed and the chain goes on; then runs the next strategy
 * and returns this run's result with the final outcome and the ladder of every rung.
 */
export async function escalate(run: Runbook, input: RecoveryInput, current: Strategy, result: RecoveryResult): Promise<RecoveryResult> {
  // `?? []`: runs started before escalation existed carry no chain in their input.
  const next = nextRung(input.component.policy.escalation ?? [], current);
  if (result.outcome !== 'failed' || result.dryRun || input.options?.noEscalation || !next) return result;

  const info = workflowInfo();
  const here: Rung = { strategy: current, workflowId: info.workflowId, runId: info.runId, outcome: result.outcome, reason: result.reason };
  const childId = escalationWorkflowId(info.workflowId, next);
  let childRunId: string | undefined;
  let child: RecoveryResult | undefined;
  try {
    // startChild issues the same command executeChild does, and tells the child's run id.
    child = await run.step('escalate', `escalate ${input.component.id} to ${next}`, input.component.id, async () => {
      const handle = await startChild(strategyWorkflowType(next), {
        workflowId: childId,
        // What the first rung was told it would find is stale by now: the next rung probes for itself.
        args: [{ ...input, observed: undefined, trigger: 'escalation', escalatedFrom: [...(input.escalatedFrom ?? []), here] } satisfies RecoveryInput],
        staticSummary: `escalation: ${current} failed on ${input.component.id}, trying ${next}`,
        staticDetails: result.reason,
        // The child is part of this run's ladder: cancelling this run cancels it too.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        ...carriedOn(),
      });
      childRunId = handle.firstExecutionRunId;
      return (await handle.result()) as RecoveryResult;
    });
  } catch (err) {
    // The rung did not return a result (terminated, timed out, or this run was cancelled).
    const outcome = isCancellation(err) ? 'cancelled' : 'failed';
    const reason = causeMessage(err);
    run.enter('failure');
    upsertOutcome(outcome);
    return { ...result, outcome, ladder: [here, { strategy: next, workflowId: childId, runId: childRunId, outcome, reason }] };
  }
  if (!child) return result;
  const ladder = [here, ...(child.ladder ?? [{ strategy: next, workflowId: childId, runId: childRunId, outcome: child.outcome, reason: child.reason }])];
  // The last rung's own outcome is the ladder's (a child that escalated further reported it as its
  // own outcome before rungs recorded their own: the same value either way).
  const final = ladder.at(-1)!.outcome;
  run.note(
    child.ladder ? `${next} escalated further; the ladder ended ${final}` : `${next} ended ${final}${child.reason ? `: ${child.reason}` : ''}`,
    input.component.id,
  );
  // A later rung keeps its own outcome (it failed: it escalated); only the first run carries the final one.
  const outcome = input.escalatedFrom?.length && patched('escalation-rung-own-outcome') ? result.outcome : final;
  run.enter(outcome === 'recovered' ? 'completion' : 'failure');
  upsertOutcome(outcome);
  // The run ends when its ladder does: MTTR and durations count every rung.
  const endedAt = child.endedAt > result.endedAt ? child.endedAt : result.endedAt;
  return { ...result, outcome, ladder, endedAt, durationMs: Date.parse(endedAt) - Date.parse(result.startedAt) };
}
