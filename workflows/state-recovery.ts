import { StepFailed } from './lib/runbook';
import { acts, LONG } from './lib/restart';
import { defineRunbook } from '../kit';
import { builtinDescription } from '../kit/meta';

/**
 * `state-recovery`: choose a checkpoint first (the newest whose sha256 manifest verifies, a named
 * one, or the newest before a time), and only then act: stop, move the current state aside (never
 * deleted), clean temp files, stale locks and corrupt markers, restore the checkpoint, start,
 * validate. With no checkpoint to restore, nothing is touched and the run fails with the reason.
 */
export const stateRecovery = defineRunbook({
  name: 'state-recovery',
  description: builtinDescription('state-recovery'),
  targets: 'components',
  async run(ctx) {
    const { component, input } = ctx;
    const { options = {} } = input;
    const id = component.id;
    ctx.phase('analysis');
    await ctx.probe();
    if (component.state.paths.length === 0) ctx.fail(`${id} has no state paths configured; nothing to restore`, 'data');

    ctx.phase('preparation');
    const wanted = options.checkpoint
      ? `checkpoint ${options.checkpoint}`
      : options.before
        ? `newest checkpoint before ${options.before}`
        : 'newest checkpoint';
    const selection = await ctx.step(
      'select',
      `choose ${wanted} of ${id} that verifies`,
      () => acts(component, `verify checkpoints of ${id}`, LONG).selectCheckpoint({ component, id: options.checkpoint, before: options.before }),
      { readOnly: true },
    );
    const skipped = selection?.skipped ?? [];
    if (skipped.length > 0) ctx.note(`skipped ${skipped.map((s) => `${s.id} (${s.problems[0] ?? 'does not verify'})`).join(', ')}`, id);
    const chosen = selection?.chosen;
    if (!chosen) throw new StepFailed(`no ${wanted} of ${id} verifies${skipped.length ? ` (${skipped.length} rejected)` : ''}; state left untouched`, 'data');
    ctx.note(`chose ${chosen.id} (${chosen.files} file(s), created ${chosen.createdAt})`, id);

    ctx.phase('execution');
    await ctx.stop();
    await ctx.moveAside();
    await ctx.clean();
    const restored = await ctx.step('restore', `restore checkpoint ${chosen.id} of ${id}`, () =>
      acts(component, `restore ${chosen.id} to ${id}`, LONG).restoreCheckpoint({ component, id: chosen.id }),
    );
    if (restored) ctx.note(`${restored.restored.length} path(s), ${restored.bytes} bytes`, id);
    await ctx.start();

    const validated = await ctx.waitHealthy();
    if (ctx.dryRun) return ctx.finish('planned');
    if (!validated?.healthy) ctx.fail(ctx.notHealthyReason(validated, `restoring ${chosen.id}`), validated?.last.failureClass);
    return ctx.finish('recovered');
  },
});
