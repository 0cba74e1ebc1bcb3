/**
 * Supervision statistics as Prometheus metrics (prom-client), for `/metrics` and `mend stats --prometheus`:
 * `mend_recoveries_total{component,strategy,outcome}`, `mend_failures_total{component,failure_class}`, `mend_recoveries_started_total`,
 * `mend_recovery_duration_seconds` (histogram), `mend_recovery_mttr_seconds` (p50/p95 summary), `mend_component_up`,
 * `mend_breaker_open`, `mend_breaker_state`.
 * The values come from the supervisors' durable state (they survive worker and API restarts), so each
 * scrape builds a registry of its own from one snapshot instead of counting events in this process.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { BreakerState, FleetStats } from '../core/supervision';

const BREAKER_STATES: BreakerState[] = ['closed', 'open', 'half-open'];

/** One line of a family aggregated elsewhere: `metricName` carries the `_bucket`/`_sum`/`_count` suffix. */
type Sample = { metricName: string; labels: Record<string, string>; value: number };

/**
 * A histogram or summary whose samples the supervisors aggregated (cumulative buckets, nearest-rank
 * quantiles): prom-client's own Histogram and Summary only take observations, so this hands it the
 * finished samples, which it names, escapes and formats like any other family.
 */
function registerAggregated(registry: Registry, family: { name: string; help: string; type: 'histogram' | 'summary'; values: Sample[] }): void {
  const collector = { name: family.name, type: family.type, get: async () => ({ ...family, aggregator: 'sum' }), reset: () => undefined };
  // prom-client's types name only its four classes; its registry needs only name, type, get and reset.
  registry.registerMetric(collector as unknown as Metric);
}

/** A registry holding the supervision families of one statistics snapshot. */
export function supervisionRegistry(stats: FleetStats): Registry {
  const registry = new Registry();
  const registers = [registry];
  const cs = stats.components;

  const recoveries = new Counter({
    name: 'mend_recoveries_total',
    help: 'Recoveries supervisors started that ended, by component, policy strategy and outcome (relapsed: recovered, then failed again within the relapse window).',
    labelNames: ['component', 'strategy', 'outcome'] as const,
    registers,
  });
  for (const c of cs)
    for (const outcome of ['succeeded', 'failed', 'relapsed'] as const)
      recoveries.inc({ component: c.component, strategy: c.strategy ?? 'unknown', outcome }, c[outcome]);

  const failures = new Counter({
    name: 'mend_failures_total',
    help: 'Outages supervisors saw, by component and the failure class of their first failed check (crash, timeout, resource, network ...).',
    labelNames: ['component', 'failure_class'] as const,
    registers,
  });
  for (const c of cs) for (const [cls, n] of Object.entries(c.failuresByClass ?? {})) failures.inc({ component: c.component, failure_class: cls }, n ?? 0);

  const started = new Counter({
    name: 'mend_recoveries_started_total',
    help: 'Recoveries started by supervisors (succeeded + failed + relapsed + interrupted by a host outage + running or awaiting confirmation).',
    labelNames: ['component'] as const,
    registers,
  });
  for (const c of cs) started.inc({ component: c.component }, c.attempted);

  registerAggregated(registry, {
    name: 'mend_recovery_duration_seconds',
    type: 'histogram',
    help: 'Time from the first failed check to the validated end of the recovery (the recent recoveries a supervisor keeps).',
    values: cs.flatMap((c): Sample[] => {
      const h = c.mttrHistogram;
      if (!h) return [];
      const name = 'mend_recovery_duration_seconds';
      return [
        ...h.buckets.map((b) => ({ metricName: `${name}_bucket`, labels: { component: c.component, le: String(b.le) }, value: b.count })),
        { metricName: `${name}_bucket`, labels: { component: c.component, le: '+Inf' }, value: h.count },
        { metricName: `${name}_sum`, labels: { component: c.component }, value: h.sumSeconds },
        { metricName: `${name}_count`, labels: { component: c.component }, value: h.count },
      ];
    }),
  });

  registerAggregated(registry, {
    name: 'mend_recovery_mttr_seconds',
    type: 'summary',
    help: 'Time from the first failed check to the validated end of the recovery, over recent recoveries.',
    values: cs.flatMap((c): Sample[] => {
      // The same recent recoveries as the histogram: its sum and count complete the summary.
      if (c.mttrP50Ms === undefined || !c.mttrHistogram) return [];
      const name = 'mend_recovery_mttr_seconds';
      return [
        { metricName: name, labels: { component: c.component, quantile: '0.5' }, value: c.mttrP50Ms / 1000 },
        ...(c.mttrP95Ms === undefined ? [] : [{ metricName: name, labels: { component: c.component, quantile: '0.95' }, value: c.mttrP95Ms / 1000 }]),
        { metricName: `${name}_sum`, labels: { component: c.component }, value: c.mttrHistogram.sumSeconds },
        { metricName: `${name}_count`, labels: { component: c.component }, value: c.mttrHistogram.count },
      ];
    }),
  });

  const breakerState = new Gauge({
    name: 'mend_breaker_state',
    help: 'Circuit breaker state of each component: 1 for the current state.',
    labelNames: ['component', 'state'] as const,
    registers,
  });
  for (const c of cs) for (const state of BREAKER_STATES) breakerState.set({ component: c.component, state }, c.breaker === state ? 1 : 0);

  const breakerOpen = new Gauge({
    name: 'mend_breaker_open',
    help: 'Whether automatic recovery of the component is stopped by its circuit breaker (open: 1).',
    labelNames: ['component'] as const,
    registers,
  });
  for (const c of cs) breakerOpen.set({ component: c.component }, c.breaker === 'open' ? 1 : 0);

  const up = new Gauge({
    name: 'mend_component_up',
    help: 'Whether the supervisor last saw the component healthy (1) or not (0).',
    labelNames: ['component'] as const,
    registers,
  });
  for (const c of cs) up.set({ component: c.component }, c.health === 'healthy' ? 1 : 0);

  return registry;
}

/** The supervision families as Prometheus text (exposition format 0.0.4). */
export function renderSupervisionMetrics(stats: FleetStats): Promise<string> {
  return supervisionRegistry(stats).metrics();
}
