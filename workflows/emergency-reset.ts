import { relatives, topologicalLevels } from '../core/graph';
import type { RecoveryInput, RecoveryResult } from '../core/run';
import { awaitApproval } from './lib/approval';
import { acts, asideStep, startStep, stopStep, validateStep } from './lib/restart';
import { StepFailed } from './lib/runbook';
import { runStrategy } from './lib/strategy';

/**
 * `emergency-reset`, the last resort: waits for an approval (the `approve` update, with who and
 * why; `policy.approvalTimeout`) unless `policy.preApproved`. Then it stops the affected set (the
 * component and everything depending on it) in reverse dependency order, moves all their state
 * aside (never deleted), starts them fresh in dependency order, level by level, and validates
 * each before the next level starts. Rejected or timed out: nothing is done.
 */
export async function emergencyReset(input: RecoveryInput): Promise<RecoveryResult> {
  const target = input.component;
  const all = [target, ...(input.related ?? []).filter((c) => c.id !== target.id)];
  const { dependents } = relatives(all, target.id);
  const affected = all.filter((c) => c.id === target.id || dependents.includes(c.id));
  const byId = new Map(affected.map((c) => [c.id, c]));
  const levels = topologicalLevels(affected);
  const ids = levels.flat();
  return runStrategy(
    'emergency-reset',
    input,
    async (run) => {
      run.enter('analysis');
      await Promise.all(
        affected.map(async (component) => {
          const seen = await run.step(
            'probe',
            `probe ${component.id}`,
            component.id,
            () => acts(component, `probe ${component.id}`).checkHealth({ component }),
            { readOnly: true },
          );
          if (seen) run.note(seen.healthy ? 'healthy' : `${seen.failureClass}: ${seen.detail}`, component.id);
        }),
      );

      run.enter('preparation');
      const approval = await awaitApproval(run, `emergency reset of ${ids.join(', ')}`, target.id, {
        preApproved: target.policy.preApproved,
        timeoutMs: target.policy.approvalTimeout,
      });
      if (approval.state === 'rejected') {
        return run.finish('cancelled', { reason: `rejected by ${approval.by}${approval.reason ? `: ${approval.reason}` : ''}; nothing was done` });
      }
      if (approval.state === 'timed-out') {
        return run.finish('needs-attention', { reason: `no approval within ${target.policy.approvalTimeout}ms; nothing was done` });
      }

      run.enter('execution');
      for (const level of [...levels].reverse()) await Promise.all(level.map((id) => stopStep(run, byId.get(id)!)));
      await Promise.all(affected.filter((c) => c.state.paths.length > 0).map((component) => asideStep(run, component)));
      for (const level of levels) {
        const results = await Promise.all(
          level.map(async (id) => {
            const component = byId.get(id)!;
            run.enter('execution');
            await startStep(run, component);
            return { id, validated: await validateStep(run, component) };
          }),
        );
        const unhealthy = results.filter((r) => r.validated && !r.validated.healthy);
        if (unhealthy.length > 0) {
          const waiting = ids.slice(ids.indexOf(level.at(-1)!) + 1);
          throw new StepFailed(
            `${unhealthy.map((r) => `${r.id} (${r.validated!.last.detail})`).join(', ')} not healthy after the reset${waiting.length ? `; not started: ${waiting.join(', ')}` : ''}`,
            unhealthy[0]!.validated!.last.failureClass,
          );
        }
      }
      return run.finish(run.dryRun ? 'planned' : 'recovered');
    },
    { components: ids, approvals: true },
  );
}
