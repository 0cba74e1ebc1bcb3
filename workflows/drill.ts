/**
 * drill: rehearse a component's recovery. Probe (it must be healthy), break it (crash, hang or the
 * drill's command), then watch until it answers healthy again; mend's supervisor does the
 * recovering, as it would for a real failure. The result is the time to recovery (MTTR).
 * A Runbook like every recovery: the same search attributes, step log, `progress` query and pause.
 */
import type { DrillInput, DrillResult } from '../core/drill';
import { onHost } from '../core/hosts';
import { hostActivities } from './lib/hosts';
import { Runbook } from './lib/runbook';

export async function drill({ drill: d, component, trigger }: DrillInput): Promise<DrillResult> {
  const id = component.id;
  const fault = typeof d.fault === 'string' ? d.fault : `command ${d.fault.command.join(' ')}`;
  const base = { drill: d.name, component: id, fault };
  const run = new Runbook({ strategy: 'drill', components: [id], trigger, phase: 'preparation' });
  const finish = (result: DrillResult): DrillResult => {
    run.conclude(result.outcome, result.outcome === 'recovered');
    return result;
  };
  // A drill is never a dry run: every step runs, so each returns its activity's answer.
  const step = async <T>(name: string, summary: string, fn: () => Promise<T>): Promise<T> => (await run.step(name, summary, id, fn))!;

  // The fault and the watch run on the drill's host (by default its component's): a crash signal reaches only that host's processes.
  const where = { host: d.host ?? component.host };
  const quick = hostActivities(where.host, {
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 3 },
    summary: `probe ${id} before the drill${onHost(where)}`,
  });
  const before = await step('probe', `probe ${id} before the drill${onHost(where)}`, () => quick.checkHealth({ component }));
  if (!before.healthy) return finish({ ...base, outcome: 'skipped', detail: `${id} was not healthy before the drill (${before.detail}); nothing broken` });

  run.enter('execution');
  // Once: a fault is not something to retry blindly.
  const { injectFault } = hostActivities(where.host, {
    startToCloseTimeout: '2 minutes',
    retry: { maximumAttempts: 1 },
    summary: `break ${id} (${fault})${onHost(where)}`,
  });
  const injected = await step('inject', `break ${id} (${fault})${onHost(where)}`, () => injectFault({ component, fault: d.fault }));

  run.enter('validation');
  const waitFor = `wait up to ${Math.round(d.timeout / 1000)}s for ${id} to be healthy again${onHost(where)}`;
  const { watchRecovery } = hostActivities(where.host, {
    startToCloseTimeout: d.timeout + 60_000,
    heartbeatTimeout: '30s',
    retry: { maximumAttempts: 3 },
    summary: waitFor,
  });
  const watched = await step('watch', waitFor, () => watchRecovery({ component, sinceMs: injected.injectedAtMs, timeoutMs: d.timeout, intervalMs: 50 }));
  const times = { injectedAt: new Date(injected.injectedAtMs).toISOString(), recoveredAt: watched.healthy ? new Date(watched.atMs).toISOString() : undefined };
  if (!watched.healthy)
    return finish({
      ...base,
      ...times,
      outcome: 'failed',
      detail: `${injected.detail}; not healthy within ${Math.round(d.timeout / 1000)}s (last: ${watched.last})`,
    });
  return finish({
    ...base,
    ...times,
    outcome: 'recovered',
    mttrMs: watched.atMs - injected.injectedAtMs,
    detail: `${injected.detail}; healthy again after ${watched.atMs - injected.injectedAtMs}ms`,
  });
}
