/**
 * Supervision statistics as Prometheus text (exposition format 0.0.4), for a `/metrics` route:
 * `mend_recoveries_total{component,strategy,outcome}`, `mend_recoveries_started_total`,
 * `mend_recovery_duration_seconds` (histogram), `mend_recovery_mttr_seconds` (p50/p95), `mend_component_up`,
 * `mend_breaker_open`, `mend_breaker_state`.
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
    'Recoveries supervisors started that ended, by component, policy strategy and outcome (relapsed: recovered, then failed again within the relapse window).',
    cs.flatMap((c) =>
      (['succeeded', 'failed', 'relapsed'] as const).map((outcome) => `mend_recoveries_total${labels({ component: c.component, strategy: c.strategy ?? 'unknown', outcome })} ${c[outcome]}`),
    ),
  );
  family(
    'mend_recoveries_started_total',
    'counter',
    'Recoveries started by supervisors (succeeded + failed + relapsed + running or awaiting confirmation).',
    cs.map((c) => `mend_recoveries_started_total${labels({ component: c.component })} ${c.attempted}`),
  );
  family(
    'mend_recovery_duration_seconds',
    'histogram',
    'Time from the first failed check to the validated end of the recovery (the recent recoveries a supervisor keeps).',
    cs.flatMap((c) => {
      const h = c.mttrHistogram;
      if (!h) return [];
      return [
        ...h.buckets.map((b) => `mend_recovery_duration_seconds_bucket${labels({ component: c.component, le: String(b.le) })} ${b.count}`),
        `mend_recovery_duration_seconds_bucket${labels({ component: c.component, le: '+Inf' })} ${h.count}`,
        `mend_recovery_duration_seconds_sum${labels({ component: c.component })} ${h.sumSeconds}`,
        `mend_recovery_duration_seconds_count${labels({ component: c.component })} ${h.count}`,
      ];
    }),
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
    'mend_breaker_open',
    'gauge',
    'Whether automatic recovery of the component is stopped by its circuit breaker (open: 1).',
    cs.map((c) => `mend_breaker_open${labels({ component: c.component })} ${c.breaker === 'open' ? 1 : 0}`),
  );
  family(
    'mend_component_up',
    'gauge',
    'Whether the supervisor last saw the component healthy (1) or not (0).',
    cs.map((c) => `mend_component_up${labels({ component: c.component })} ${c.health === 'healthy' ? 1 : 0}`),
  );
  return out.join('\n') + '\n';
}
