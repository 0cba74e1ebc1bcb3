/**
 * Approval gate for destructive runbooks: an `approve` update carrying who decides and why, with a
 * timeout. The validator rejects a malformed request or one that comes when nothing is waiting,
 * so it never enters history.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { formatDuration } from '../../core/duration';
import { approveUpdate } from '../../core/messages';
import type { ApprovalStatus } from '../../core/run';
import type { Runbook } from './runbook';

/** Registers the `approve` handler; call at the start of the workflow. */
export function handleApprovals(run: Runbook): void {
  setHandler(
    approveUpdate,
    (req) => {
      run.approval = { state: req.approve ? 'approved' : 'rejected', by: req.by, reason: req.reason };
      return { ...run.approval };
    },
    {
      validator: (req) => {
        if (run.approval?.state !== 'waiting') throw new Error(`this run is not waiting for an approval (${run.approval?.state ?? 'not yet asked'})`);
        if (typeof req?.approve !== 'boolean') throw new Error('approve: expected true (approve) or false (reject)');
        if (typeof req.by !== 'string' || req.by.trim() === '') throw new Error('by: say who approves');
      },
    },
  );
}

/**
 * Waits for a decision unless pre-approved. Returns the final status: approved, pre-approved,
 * rejected or timed-out. In a dry run the wait is planned, not done.
 */
export async function awaitApproval(
  run: Runbook,
  what: string,
  component: string | undefined,
  opts: { preApproved: boolean; timeoutMs: number },
): Promise<ApprovalStatus> {
  if (opts.preApproved) {
    run.approval = { state: 'pre-approved', by: 'policy', reason: 'policy.preApproved' };
    run.skip('approval', `approval of ${what}`, component, 'pre-approved by policy');
    return run.approval;
  }
  const summary = `wait up to ${formatDuration(opts.timeoutMs)} for approval of ${what}`;
  if (run.dryRun) {
    await run.step('approval', summary, component, async () => undefined);
    return { state: 'waiting' };
  }
  run.approval = { state: 'waiting', deadline: new Date(Date.now() + opts.timeoutMs).toISOString() };
  const decided = await run.step('approval', summary, component, () => condition(() => run.approval?.state !== 'waiting', opts.timeoutMs));
  if (!decided) run.approval = { state: 'timed-out', deadline: run.approval.deadline };
  const status = run.approval;
  run.note(status.by ? `${status.state} by ${status.by}${status.reason ? `: ${status.reason}` : ''}` : status.state, component);
  return status;
}
