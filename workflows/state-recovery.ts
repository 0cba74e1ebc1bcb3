import type { RecoveryInput, RecoveryResult } from '../core/run';
import { acts, asideStep, cleanupStep, LONG, notHealthyReason, probeBefore, startStep, stopStep, validateStep } from './lib/restart';
import { StepFailed } from './lib/runbook';
import { runStrategy } from './lib/strategy';

/**
 * `state-recovery`: choose a checkpoint first (the newest whose sha256 manifest verifies, a named
 * one, or the newest before a time), and only then act: stop, move the current state aside (never
 * deleted), clean temp files, stale locks and corrupt markers, restore the checkpoint, start,
 * validate. With no checkpoint to restore, nothing is touched and the run fails with the reason.
 */
export async function stateRecovery(input: RecoveryInput): Promise<RecoveryResult> {
  const { component, options = {} } = input;
  const id = component.id;
  return runStrategy('state-recovery', input, async (run) => {
    run.enter('analysis');
    await probeBefore(run, component, input.observed);
    if (component.state.paths.length === 0) throw new StepFailed(`${id} has no state paths configured; nothing to restore`, 'data');

    run.enter('preparation');
    const wanted = options.checkpoint
      ? `checkpoint ${options.checkpoint}`
      : options.before
        ? `newest checkpoint before ${options.before}`
        : 'newest checkpoint';
    const selection = await run.step(
      'select',
      `choose ${wanted} of ${id} that verifies`,
      id,
      () => acts(component, `verify checkpoints of ${id}`, LONG).selectCheckpoint({ component, id: options.checkpoint, before: options.before }),
      { readOnly: true },
    );
    const skipped = selection?.skipped ?? [];
    if (skipped.length > 0) run.note(`skipped ${skipped.map((s) => `${s.id} (${s.problems[0] ?? 'does not verify'})`).join(', ')}`, id);
    const chosen = selection?.chosen;
    if (!chosen) throw new StepFailed(`no ${wanted} of ${id} verifies${skipped.length ? ` (${skipped.length} rejected)` : ''}; state left untouched`, 'data');
    run.note(`chose ${chosen.id} (${chosen.files} file(s), created ${chosen.createdAt})`, id);

    run.enter('execution');
    await stopStep(run, component);
    await asideStep(run, component);
    await cleanupStep(run, component);
    const restored = await run.step('restore', `restore checkpoint ${chosen.id} of ${id}`, id, () =>
      acts(component, `restore ${chosen.id} to ${id}`, LONG).restoreCheckpoint({ component, id: chosen.id }),
    );
    if (restored) run.note(`${restored.restored.length} path(s), ${restored.bytes} bytes`, id);
    await startStep(run, component);

    const validated = await validateStep(run, component);
    if (run.dryRun) return run.finish('planned');
    if (!validated?.healthy) {
      throw new StepFailed(notHealthyReason(component, validated, `restoring ${chosen.id}`), validated?.last.failureClass);
    }
    return run.finish('recovered');
  });
}
