/**
 * drill: rehearse a component's recovery. Probe (it must be healthy), break it (crash, hang or the
 * drill's command), then watch until it answers healthy again; mend's supervisor does the
 * recovering, as it would for a real failure. The result is the time to recovery (MTTR).
 */
import { upsertSearchAttributes } from '@temporalio/workflow';
import type { DrillInput, DrillResult } from '../core/drill';
import { onHost } from '../core/hosts';
import { MendComponents, MendOutcome, MendPhase, MendStrategy, MendTrigger } from '../core/search-attributes';
import { hostActivities } from './lib/hosts';

export async function drill({ drill: d, component, trigger }: DrillInput): Promise<DrillResult> {
  const fault = typeof d.fault === 'string' ? d.fault : `command ${d.fault.command.join(' ')}`;
  const base = { drill: d.name, component: component.id, fault };
  upsertSearchAttributes([
    { key: MendComponents, value: [component.id] },
    { key: MendStrategy, value: 'drill' },
    { key: MendTrigger, value: trigger },
    { key: MendPhase, value: 'preparation' },
  ]);
  const finish = (result: DrillResult): DrillResult => {
    upsertSearchAttributes([
      { key: MendPhase, value: result.outcome === 'recovered' ? 'completion' : 'failure' },
      { key: MendOutcome, value: result.outcome },
    ]);
    return result;
  };

  // The fault and the watch run on the drill's host (by default its component's): a crash signal reaches only that host's processes.
  const where = { host: d.host ?? component.host };
  const quick = hostActivities(where.host, { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 }, summary: `probe ${component.id} before the drill${onHost(where)}` });
  const before = await quick.checkHealth({ component });
  if (!before.healthy) return finish({ ...base, outcome: 'skipped', detail: `${component.id} was not healthy before the drill (${before.detail}); nothing broken` });

  upsertSearchAttributes([{ key: MendPhase, value: 'execution' }]);
  // Once: a fault is not something to retry blindly.
  const { injectFault } = hostActivities(where.host, { startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 1 }, summary: `break ${component.id} (${fault})${onHost(where)}` });
  const injected = await injectFault({ component, fault: d.fault });

  upsertSearchAttributes([{ key: MendPhase, value: 'validation' }]);
  const { watchRecovery } = hostActivities(where.host, {
    startToCloseTimeout: d.timeout + 60_000,
    heartbeatTimeout: '30s',
    retry: { maximumAttempts: 3 },
    summary: `wait up to ${Math.round(d.timeout / 1000)}s for ${component.id} to be healthy again${onHost(where)}`,
  });
  const watched = await watchRecovery({ component, sinceMs: injected.injectedAtMs, timeoutMs: d.timeout, intervalMs: 50 });
  const times = { injectedAt: new Date(injected.injectedAtMs).toISOString(), recoveredAt: watched.healthy ? new Date(watched.atMs).toISOString() : undefined };
  if (!watched.healthy) return finish({ ...base, ...times, outcome: 'failed', detail: `${injected.detail}; not healthy within ${Math.round(d.timeout / 1000)}s (last: ${watched.last})` });
  return finish({ ...base, ...times, outcome: 'recovered', mttrMs: watched.atMs - injected.injectedAtMs, detail: `${injected.detail}; healthy again after ${watched.atMs - injected.injectedAtMs}ms` });
}
