/**
 * A typed client of mend's HTTP API for CLI commands and scripts (MEND_URL, MEND_TOKEN): the same
 * zod contract as the server (core/api/) builds the requests and checks the answers.
 */
import type { z } from 'zod';
import {
  ApproveResponseSchema,
  BacklogListSchema,
  BacklogResetResponseSchema,
  BacklogSpoolStatusSchema,
  BacklogStartResponseSchema,
  BacklogStatusSchema,
  BreakerResetBodySchema,
  BreakerResetResultSchema,
  DrillRunSchema,
  FleetStatsSchema,
  ReconcileResultSchema,
  ScheduleListSchema,
  StartedDrillSchema,
  CheckResultSchema,
  ComponentDetailSchema,
  ComponentListSchema,
  HostDrainBodySchema,
  HostDrainResponseSchema,
  HostListSchema,
  HostViewSchema,
  ControlResponseSchema,
  ErrorResponseSchema,
  RunDetailSchema,
  RunListSchema,
  StartedSagaSchema,
  StartRunsBodySchema,
  StartSagaBodySchema,
  StartRunsResponseSchema,
  type RunListQuery,
} from '../core/api';

/** An answer that is not a success: the API's status and its one-line message. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly workflowId?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  /** Base URL, e.g. http://127.0.0.1:3000 (MEND_URL). */
  url: string;
  /** Bearer token (MEND_TOKEN). */
  token?: string;
  timeoutMs?: number;
}

export class ApiClient {
  private readonly base: string;

  constructor(private readonly opts: ApiClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  /** From the MEND_URL and MEND_TOKEN settings; undefined when MEND_URL is not set (talk to Temporal instead). */
  static fromSettings(env: { MEND_URL?: string; MEND_TOKEN?: string }): ApiClient | undefined {
    return env.MEND_URL ? new ApiClient({ url: env.MEND_URL, token: env.MEND_TOKEN }) : undefined;
  }

  components() {
    return this.call('GET', '/v1/components', ComponentListSchema);
  }

  component(id: string) {
    return this.call('GET', `/v1/components/${encodeURIComponent(id)}`, ComponentDetailSchema);
  }

  hosts() {
    return this.call('GET', '/v1/hosts', HostListSchema);
  }

  host(id: string) {
    return this.call('GET', `/v1/hosts/${encodeURIComponent(id)}`, HostViewSchema);
  }

  /** Drains or undrains a host; the body is checked here first, as the server would. */
  drainHost(id: string, action: 'drain' | 'undrain', reason?: string) {
    const body = action === 'drain' ? HostDrainBodySchema.parse(reason === undefined ? {} : { reason }) : {};
    return this.call('POST', `/v1/hosts/${encodeURIComponent(id)}/${action}`, HostDrainResponseSchema, body);
  }

  /** Probes the component now on a worker; its supervisor gets the result. */
  check(id: string) {
    return this.call('POST', `/v1/components/${encodeURIComponent(id)}/check`, CheckResultSchema, {});
  }

  /** Closes the component's circuit breaker; the body is checked here first, as the server would. */
  resetBreaker(id: string, reason: string) {
    return this.call('POST', `/v1/components/${encodeURIComponent(id)}/breaker/reset`, BreakerResetResultSchema, BreakerResetBodySchema.parse({ reason }));
  }

  /** Starts one run per component; the body is checked here first, as the server would. */
  async startRuns(body: z.input<typeof StartRunsBodySchema>) {
    return this.call('POST', '/v1/runs', StartRunsResponseSchema, StartRunsBodySchema.parse(body));
  }

  /** Runs a configured saga as `mend/saga/<name>/<requestId>`. */
  startSaga(name: string, body: z.input<typeof StartSagaBodySchema>) {
    return this.call('POST', `/v1/sagas/${encodeURIComponent(name)}/runs`, StartedSagaSchema, StartSagaBodySchema.parse(body));
  }

  listRuns(filter: Partial<RunListQuery> = {}) {
    const query = new URLSearchParams(
      Object.entries(filter)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    return this.call('GET', `/v1/runs${query ? `?${query}` : ''}`, RunListSchema);
  }

  /** `run`: a workflow id (mend/recover/api) or a component id. */
  run(run: string) {
    return this.call('GET', `/v1/runs/${encodeURIComponent(run)}`, RunDetailSchema);
  }

  control(run: string, action: 'pause' | 'resume' | 'cancel', reason?: string) {
    return this.call('POST', `/v1/runs/${encodeURIComponent(run)}/${action}`, ControlResponseSchema, reason === undefined ? {} : { reason });
  }

  approve(run: string, decision: { approve: boolean; reason?: string }) {
    return this.call('POST', `/v1/runs/${encodeURIComponent(run)}/approve`, ApproveResponseSchema, decision);
  }

  stats() {
    return this.call('GET', '/v1/stats', FleetStatsSchema);
  }

  schedules() {
    return this.call('GET', '/v1/schedules', ScheduleListSchema);
  }

  /** Makes the schedules match the API's config (admin). */
  reconcileSchedules() {
    return this.call('POST', '/v1/schedules/reconcile', ReconcileResultSchema, {});
  }

  backlog() {
    return this.call('GET', '/v1/backlog', BacklogListSchema);
  }

  backlogStatus(spool: string) {
    return this.call('GET', `/v1/backlog/${encodeURIComponent(spool)}`, BacklogSpoolStatusSchema);
  }

  backlogStart(spool: string) {
    return this.call('POST', `/v1/backlog/${encodeURIComponent(spool)}/start`, BacklogStartResponseSchema, {});
  }

  backlogPause(spool: string, body: { minutes: number; reason?: string }) {
    return this.call('POST', `/v1/backlog/${encodeURIComponent(spool)}/pause`, BacklogStatusSchema, body);
  }

  backlogAction(spool: string, action: 'resume' | 'force') {
    return this.call('POST', `/v1/backlog/${encodeURIComponent(spool)}/${action}`, BacklogStatusSchema, {});
  }

  backlogResetFailed(spool: string) {
    return this.call('POST', `/v1/backlog/${encodeURIComponent(spool)}/reset-failed`, BacklogResetResponseSchema, {});
  }

  startDrill(name: string) {
    return this.call('POST', `/v1/drills/${encodeURIComponent(name)}/runs`, StartedDrillSchema, {});
  }

  drillRun(name: string, run: string) {
    return this.call('GET', `/v1/drills/${encodeURIComponent(name)}/runs/${encodeURIComponent(run)}`, DrillRunSchema);
  }

  private async call<S extends z.ZodType>(method: 'GET' | 'POST', path: string, schema: S, body?: unknown): Promise<z.output<S>> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new ApiError(0, `the mend API is not reachable at ${this.base}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, `the mend API answered ${res.status} with something that is not JSON`);
    }
    if (!res.ok) {
      const parsed = ErrorResponseSchema.safeParse(json);
      const retryAfter = Number(res.headers.get('retry-after')) || undefined;
      throw new ApiError(
        res.status,
        parsed.success ? parsed.data.message : `HTTP ${res.status}`,
        parsed.success ? parsed.data.workflowId : undefined,
        retryAfter,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new ApiError(res.status, `the mend API answered in an unexpected shape: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }
}
