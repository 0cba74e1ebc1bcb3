import type { Component } from '../core/schemas';
import { relatives, topologicalLevels } from '../core/graph';
import type { RecoveryInput } from '../core/run';
import { defineRunbook } from '../kit';
import { builtinDescription } from '../kit/meta';
import { acts } from './lib/restart';

/** The component with its configured relatives (the run's view of the graph). */
function graphOf(input: RecoveryInput): Component[] {
  const target = input.component;
  return [target, ...(input.related ?? []).filter((c) => c.id !== target.id)];
}

/**
 * `dependency-aware`: make sure what the component depends on is healthy (recovering unhealthy
 * dependencies first), restart the component, then restart its dependents. Topological order,
 * each level in parallel, and a health gate between levels: nothing starts before everything it
 * depends on validated healthy. A failed critical component stops the cascade; a failed
 * non-critical one blocks only what depends on it.
 */
export const dependencyAwareRestart = defineRunbook({
  name: 'dependency-aware',
  description: builtinDescription('dependency-aware'),
  targets: 'components',
  components: (input) => graphOf(input).map((c) => c.id),
  async run(ctx) {
    const target = ctx.component;
    const all = graphOf(ctx.input);
    const byId = new Map(all.map((c) => [c.id, c]));
    const { dependencies, dependents } = relatives(all, target.id);
    const failed = new Set<string>();

    /** Restarts one level in parallel; returns once every member validated (the health gate). */
    const recoverLevel = async (ids: string[]) => {
      await Promise.all(
        ids.map(async (id) => {
          const component = byId.get(id)!;
          const blockedBy = component.dependsOn.filter((d) => failed.has(d));
          if (blockedBy.length > 0) {
            failed.add(id);
            ctx.skip('restart', `restart ${id}`, `not started: ${blockedBy.join(', ')} did not recover`, id);
            return;
          }
          const validated = await ctx.restartAndValidate({ component });
          if (validated && !validated.healthy) failed.add(id);
        }),
      );
      const critical = ids.filter((id) => failed.has(id) && byId.get(id)!.critical);
      if (critical.length > 0) ctx.fail(`critical component ${critical.join(', ')} did not recover; cascade stopped`, 'unknown');
    };

    ctx.phase('analysis');
    const health = await Promise.all(
      dependencies.map((id) =>
        ctx.step('probe', `probe dependency ${id}`, () => acts(byId.get(id)!, `probe ${id}`).checkHealth({ component: byId.get(id)! }), {
          component: id,
          readOnly: true,
        }),
      ),
    );
    const unhealthy = dependencies.filter((_, i) => !health[i]?.healthy);
    health.forEach((h, i) => h && ctx.note(h.healthy ? 'healthy' : `${h.failureClass}: ${h.detail}`, dependencies[i]));

    const levels = [...levelsOf(all, unhealthy), [target.id], ...levelsOf(all, dependents)];
    for (const level of levels) await recoverLevel(level);

    if (ctx.dryRun) return ctx.finish('planned');
    if (failed.size > 0) ctx.fail(`did not recover: ${[...failed].sort().join(', ')}`);
    return ctx.finish('recovered');
  },
});

/** Topological levels of a subset; dependencies outside it count as satisfied. */
function levelsOf(all: Component[], ids: string[]): string[][] {
  const wanted = new Set(ids);
  return topologicalLevels(all.filter((c) => wanted.has(c.id)));
}
