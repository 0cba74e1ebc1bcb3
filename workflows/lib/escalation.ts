/**
 * Escalation: when a runbook ends `failed`, the next strategy of the component's policy chain
 * starts as a child workflow (`<id>/escalation/<strategy>`), so the Web UI links the whole ladder.
 * The parent waits for it, which keeps "one recovery per component" true across the ladder.
 */
import { executeChild, isCancellation, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import { escalationWorkflowId } from '../../core/constants';
import { STRATEGY_WORKFLOW, type RecoveryInput, type RecoveryResult, type Rung } from '../../core/run';
import type { Strategy } from '../../core/schemas';
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
  const here: Rung = { strategy: current, workflowId: info.workflowId, outcome: result.outcome, reason: result.reason };
  const childId = escalationWorkflowId(info.workflowId, next);
  let child: RecoveryResult | undefined;
  try {
    child = await run.step('escalate', `escalate ${input.component.id} to ${next}`, input.component.id, () =>
      executeChild(STRATEGY_WORKFLOW[next], {
        workflowId: childId,
        // What the first rung was told it would find is stale by now: the next rung probes for itself.
        args: [{ ...input, observed: undefined, trigger: 'escalation', escalatedFrom: [...(input.escalatedFrom ?? []), here] } satisfies RecoveryInput],
        staticSummary: `escalation: ${current} failed on ${input.component.id}, trying ${next}`,
        staticDetails: result.reason,
        // The child is part of this run's ladder: cancelling this run cancels it too.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      }) as Promise<RecoveryResult>,
    );
  } catch (err) {
    // The rung did not return a result (terminated, timed out, or this run was cancelled).
    const outcome = isCancellation(err) ? 'cancelled' : 'failed';
    const reason = causeMessage(err);
    run.enter('failure');
    upsertOutcome(outcome);
    return { ...result, outcome, ladder: [here, { strategy: next, workflowId: childId, outcome, reason }] };
  }
  if (!child) return result;
  // A child that escalated further reports the ladder's final outcome with its own reason.
  run.note(child.ladder ? `${next} escalated further; the ladder ended ${child.outcome}` : `${next} ended ${child.outcome}${child.reason ? `: ${child.reason}` : ''}`, input.component.id);
  const ladder = [here, ...(child.ladder ?? [{ strategy: next, workflowId: childId, outcome: child.outcome, reason: child.reason }])];
  run.enter(child.outcome === 'recovered' ? 'completion' : 'failure');
  upsertOutcome(child.outcome);
  // The run ends when its ladder does: MTTR and durations count every rung.
  const endedAt = child.endedAt > result.endedAt ? child.endedAt : result.endedAt;
  return { ...result, outcome: child.outcome, ladder, endedAt, durationMs: Date.parse(endedAt) - Date.parse(result.startedAt) };
}
