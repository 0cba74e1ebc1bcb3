import { relatives, topologicalLevels } from '../core/graph';
import type { RecoveryInput } from '../core/run';
import { defineRunbook } from '../kit';
import { builtinDescription } from '../kit/meta';
import { acts } from './lib/restart';

/** The affected set: the component and everything depending on it, with its dependency levels. */
function resetPlan(input: RecoveryInput) {
  const target = input.component;
  const all = [target, ...(input.related ?? []).filter((c) => c.id !== target.id)];
  const { dependents } = relatives(all, target.id);
  const affected = all.filter((c) => c.id === target.id || dependents.includes(c.id));
  const levels = topologicalLevels(affected);
  return { affected, byId: new Map(affected.map((c) => [c.id, c])), levels, ids: levels.flat() };
}

/**
 * `emergency-reset`, the last resort: waits for an approval (the `approve` update, with who and
 * why; `policy.approvalTimeout`) unless `policy.preApproved`. Then it stops the affected set (the
 * component and everything depending on it) in reverse dependency order, moves all their state
 * aside (never deleted), starts them fresh in dependency order, level by level, and validates
 * each before the next level starts. Rejected or timed out: nothing is done.
 */
export const emergencyReset = defineRunbook({
  name: 'emergency-reset',
  description: builtinDescription('emergency-reset'),
  targets: 'components',
  components: (input) => resetPlan(input).ids,
  async run(ctx) {
    const { affected, byId, levels, ids } = resetPlan(ctx.input);
    const target = ctx.component;
    ctx.phase('analysis');
    await Promise.all(
      affected.map(async (component) => {
        const seen = await ctx.step('probe', `probe ${component.id}`, () => acts(component, `probe ${component.id}`).checkHealth({ component }), {
          component: component.id,
          readOnly: true,
        });
        if (seen) ctx.note(seen.healthy ? 'healthy' : `${seen.failureClass}: ${seen.detail}`, component.id);
      }),
    );

    ctx.phase('preparation');
    const approval = await ctx.approvalStatus(`emergency reset of ${ids.join(', ')}`);
    if (approval.state === 'rejected') {
      return ctx.finish('cancelled', { reason: `rejected by ${approval.by}${approval.reason ? `: ${approval.reason}` : ''}; nothing was done` });
    }
    if (approval.state === 'timed-out') {
      return ctx.finish('needs-attention', { reason: `no approval within ${target.policy.approvalTimeout}ms; nothing was done` });
    }

    ctx.phase('execution');
    for (const level of [...levels].reverse()) await Promise.all(level.map((id) => ctx.stop({ component: byId.get(id)! })));
    await Promise.all(affected.filter((c) => c.state.paths.length > 0).map((component) => ctx.moveAside({ component })));
    for (const level of levels) {
      const results = await Promise.all(
        level.map(async (id) => {
          const component = byId.get(id)!;
          ctx.phase('execution');
          await ctx.start({ component });
          return { id, validated: await ctx.waitHealthy({ component }) };
        }),
      );
      const unhealthy = results.filter((r) => r.validated && !r.validated.healthy);
      if (unhealthy.length > 0) {
        const waiting = ids.slice(ids.indexOf(level.at(-1)!) + 1);
        ctx.fail(
          `${unhealthy.map((r) => `${r.id} (${r.validated!.last.detail})`).join(', ')} not healthy after the reset${waiting.length ? `; not started: ${waiting.join(', ')}` : ''}`,
          unhealthy[0]!.validated!.last.failureClass,
        );
      }
    }
    return ctx.finish(ctx.dryRun ? 'planned' : 'recovered');
  },
});
