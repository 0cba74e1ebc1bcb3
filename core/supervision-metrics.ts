/**
 * Supervision statistics as Prometheus text (exposition format 0.0.4), for a `/metrics` route:
 * `mend_recoveries_total`, `mend_recovery_mttr_seconds`, `mend_breaker_state`, `mend_component_healthy`.
 * The counters come from the supervisors' durable state, so they survive worker and API restarts.
 */
import type { BreakerState, FleetStats } from './supervision';

const BREAKER_STATES: BreakerState[] = ['closed', 'open', 'half-open'];

function labels(pairs: Record<string, string>): string {
  const body = Object.entries(pairs)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
  return `{${body}}`;
}

export function renderSupervisionMetrics(stats: FleetStats): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, samples: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  const cs = stats.components;
  family(
    'mend_recoveries_total',
    'counter',
    'Recoveries started by supervisors, by component and result (started = succeeded + failed + running).',
    cs.flatMap((c) => [
      `mend_recoveries_total${labels({ component: c.component, result: 'started' })} ${c.attempted}`,
      `mend_recoveries_total${labels({ component: c.component, result: 'succeeded' })} ${c.succeeded}`,
      `mend_recoveries_total${labels({ component: c.component, result: 'failed' })} ${c.failed}`,
    ]),
  );
  family(
    'mend_recovery_mttr_seconds',
    'summary',
    'Time from the first failed check to the validated end of the recovery, over recent recoveries.',
    cs.flatMap((c) =>
      [
        ['0.5', c.mttrP50Ms],
        ['0.95', c.mttrP95Ms],
      ].flatMap(([q, ms]) => (ms === undefined ? [] : [`mend_recovery_mttr_seconds${labels({ component: c.component, quantile: String(q) })} ${(ms as number) / 1000}`])),
    ),
  );
  family(
    'mend_breaker_state',
    'gauge',
    'Circuit breaker state of each component: 1 for the current state.',
    cs.flatMap((c) => BREAKER_STATES.map((s) => `mend_breaker_state${labels({ component: c.component, state: s })} ${c.breaker === s ? 1 : 0}`)),
  );
  family(
    'mend_component_healthy',
    'gauge',
    'Whether the supervisor last saw the component healthy (1) or not (0).',
    cs.map((c) => `mend_component_healthy${labels({ component: c.component })} ${c.health === 'healthy' ? 1 : 0}`),
  );
  return out.join('\n') + '\n';
}
