/**
 * The API's own Prometheus metrics (prom-client). Each app has its own registry, never prom-client's
 * global one, so several apps in one process (the tests) keep their counts apart.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { supervisionRegistry } from '../client/supervision-metrics';
import type { FleetStats } from '../core/supervision';

/** What a scrape reads from Temporal; `runsRunning` and `supervision` are left out when Temporal did not answer. */
export interface ScrapeReadings {
  temporalUp: boolean;
  runsRunning?: number;
  supervision?: FleetStats;
}

export class ApiMetrics {
  static readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'mend_api_requests_total',
    help: 'API requests by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'mend_api_request_duration_seconds',
    help: 'Time spent answering API requests, by method and route.',
    labelNames: ['method', 'route'] as const,
    registers: [this.registry],
  });
  private readonly started = new Counter({
    name: 'mend_api_runs_started_total',
    help: 'Runs the API started, by strategy and trigger.',
    labelNames: ['strategy', 'trigger'] as const,
    registers: [this.registry],
  });

  /** One finished request: `route` is the route's template (`/v1/runs/:id`), never the raw URL. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration.observe({ method, route }, seconds);
  }

  runStarted(strategy: string, trigger: string): void {
    this.started.inc({ strategy, trigger });
  }

  /** The exposition text: this app's counters, then what the scrape read (in a registry of its own, as it is a snapshot). */
  async render(readings: ScrapeReadings): Promise<string> {
    const scrape = new Registry();
    new Gauge({ name: 'mend_temporal_up', help: 'Whether Temporal answered the last scrape.', registers: [scrape] }).set(readings.temporalUp ? 1 : 0);
    if (readings.runsRunning !== undefined) {
      new Gauge({ name: 'mend_runs_running', help: "mend's runs running now on this task queue.", registers: [scrape] }).set(readings.runsRunning);
    }
    const registries = [this.registry, scrape];
    if (readings.supervision) registries.push(supervisionRegistry(readings.supervision));
    return Registry.merge(registries).metrics();
  }
}
