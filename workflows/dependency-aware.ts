import type { Component } from '../core/schemas';
import { relatives, topologicalLevels } from '../core/graph';
import type { RecoveryInput, RecoveryResult } from '../core/run';
import { acts, restartAndValidate } from './lib/restart';
import { StepFailed } from './lib/runbook';
import { runStrategy } from './lib/strategy';

/**
 * `dependency-aware`: make sure what the component depends on is healthy (recovering unhealthy
 * dependencies first), restart the component, then restart its dependents. Topological order,
 * each level in parallel, and a health gate between levels: nothing starts before everything it
 * depends on validated healthy. A failed critical component stops the cascade; a failed
 * non-critical one blocks only what depends on it.
 */
export async function dependencyAwareRestart(input: RecoveryInput): Promise<RecoveryResult> {
  const target = input.component;
  const all = [target, ...(input.related ?? []).filter((c) => c.id !== target.id)];
  const byId = new Map(all.map((c) => [c.id, c]));
  const { dependencies, dependents } = relatives(all, target.id);
  return runStrategy(
    'dependency-aware',
    input,
    async (run) => {
      const failed = new Set<string>();

      /** Restarts one level in parallel; returns once every member validated (the health gate). */
      const recoverLevel = async (ids: string[]) => {
        await Promise.all(
          ids.map(async (id) => {
            const component = byId.get(id)!;
            const blockedBy = component.dependsOn.filter((d) => failed.has(d));
            if (blockedBy.length > 0) {
              failed.add(id);
              run.skip('restart', `restart ${id}`, id, `not started: ${blockedBy.join(', ')} did not recover`);
              return;
            }
            const validated = await restartAndValidate(run, component);
            if (validated && !validated.healthy) failed.add(id);
          }),
        );
        const critical = ids.filter((id) => failed.has(id) && byId.get(id)!.critical);
        if (critical.length > 0) {
          throw new StepFailed(`critical component ${critical.join(', ')} did not recover; cascade stopped`, 'unknown');
        }
      };

      run.enter('analysis');
      const health = await Promise.all(
        dependencies.map((id) =>
          run.step('probe', `probe dependency ${id}`, id, () => acts(byId.get(id)!, `probe ${id}`).checkHealth({ component: byId.get(id)! }), {
            readOnly: true,
          }),
        ),
      );
      const unhealthy = dependencies.filter((_, i) => !health[i]?.healthy);
      health.forEach((h, i) => h && run.note(h.healthy ? 'healthy' : `${h.failureClass}: ${h.detail}`, dependencies[i]));

      const levels = [...levelsOf(all, unhealthy), [target.id], ...levelsOf(all, dependents)];
      for (const level of levels) await recoverLevel(level);

      if (run.dryRun) return run.finish('planned');
      if (failed.size > 0) throw new StepFailed(`did not recover: ${[...failed].sort().join(', ')}`);
      return run.finish('recovered');
    },
    { components: all.map((c) => c.id) },
  );
}

/** Topological levels of a subset; dependencies outside it count as satisfied. */
function levelsOf(all: Component[], ids: string[]): string[][] {
  const wanted = new Set(ids);
  return topologicalLevels(all.filter((c) => wanted.has(c.id)));
}
