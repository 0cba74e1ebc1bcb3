/**
 * The ceremony every recovery strategy shares, once: open the run's Runbook (progress query,
 * pause/resume, the run's search attributes), register the approval gate when the strategy has
 * one, run the body, turn what it throws into the run's result, and escalate a failure to the next
 * strategy of the component's chain. A strategy's workflow is then only its steps.
 *
 * The order is the one every strategy has always had (the Runbook's search attributes first, the
 * body next, escalation last), so the commands a run issues are unchanged.
 */
import type { RecoveryInput, RecoveryResult } from '../../core/run';
import type { Strategy } from '../../core/schemas';
import { handleApprovals } from './approval';
import { escalate } from './escalation';
import { Runbook } from './runbook';

export interface StrategyOptions {
  /** Components the run acts on (MendComponents); default: the input's component. */
  components?: string[];
  /** The run may wait for an `approve` update (emergency-reset). */
  approvals?: boolean;
}

export async function runStrategy(
  strategy: Strategy,
  input: RecoveryInput,
  body: (run: Runbook) => Promise<RecoveryResult>,
  opts: StrategyOptions = {},
): Promise<RecoveryResult> {
  const run = new Runbook({ strategy, components: opts.components ?? [input.component.id], trigger: input.trigger, dryRun: input.dryRun });
  if (opts.approvals) handleApprovals(run);
  return escalate(run, input, strategy, await body(run).catch((err: unknown) => run.fail(err)));
}
