/** The API's own Prometheus metrics (text exposition format 0.0.4), kept in memory. */
export class ApiMetrics {
  private readonly requests = new Map<string, number>();
  private readonly started = new Map<string, number>();
  private readonly durationSum = new Map<string, number>();

  /** One finished request: `route` is the route's template (`/v1/runs/:id`), never the raw URL. */
  request(method: string, route: string, status: number, seconds: number): void {
    const key = labels({ method, route, status: String(status) });
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const byRoute = labels({ method, route });
    this.durationSum.set(byRoute, (this.durationSum.get(byRoute) ?? 0) + seconds);
  }

  runStarted(strategy: string, trigger: string): void {
    const key = labels({ strategy, trigger });
    this.started.set(key, (this.started.get(key) ?? 0) + 1);
  }

  /** The exposition text; `gauges` are values read at scrape time (e.g. running runs). */
  render(gauges: Array<{ name: string; help: string; value: number; labels?: Record<string, string> }> = []): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string, rows: Iterable<[string, number]>) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [key, value] of rows) out.push(`${name}${key} ${value}`);
    };
    family('mend_api_requests_total', 'counter', 'API requests by method, route and status.', this.requests);
    family('mend_api_request_duration_seconds_sum', 'counter', 'Total time spent answering API requests, by method and route.', this.durationSum);
    family('mend_api_runs_started_total', 'counter', 'Runs the API started, by strategy and trigger.', this.started);
    for (const g of gauges) family(g.name, 'gauge', g.help, [[g.labels ? labels(g.labels) : '', g.value]]);
    return `${out.join('\n')}\n`;
  }
}

function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(values: Record<string, string>): string {
  return `{${Object.entries(values).map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
}
