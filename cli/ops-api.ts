/** MendOps through mend's HTTP API (MEND_URL, MEND_TOKEN): the API's config, the token's role and scope. */
import type { RunDescription, StartedRun } from '../client';
import type { DrillResult, FleetStats, HostDrainResult, RunListQuery } from '../core/api';
import type { BacklogStatus } from '../core/backlog';
import type { HostStatus } from '../core/host-status';
import type { RecoveryResult, RunProgress } from '../core/run';
import { ApiError, type ApiClient } from './api-client';
import { componentRow } from './component-row';
import { CliError, EXIT, noSpoolsError } from './errors';
import type { BacklogAction, CheckAnswer, ComponentTable, MendOps, ScheduleTable, SpoolReport, StartRecoveriesRequest, StartSagaRequest } from './ops';

/** How often a run is looked at while waiting for it to end. */
const POLL_MS = 400;

/**
 * An API answer that is not a success, as the CLI error with the exit code scripts rely on: 400
 * and 404 are bad usage, 503 and no answer are "not reachable", the rest a refusal. The message is
 * the API's own, which is the message the same refusal has without the API.
 */
export function fromApiError(err: unknown): unknown {
  if (!(err instanceof ApiError)) return err;
  const code = err.status === 0 || err.status === 503 ? EXIT.unreachable : err.status === 400 || err.status === 404 ? EXIT.usage : EXIT.failed;
  return new CliError(err.message, code);
}

export class ApiOps implements MendOps {
  constructor(private readonly api: ApiClient) {}

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw fromApiError(err);
    }
  }

  /** One request for all: the API checks every component first, so a refused request starts nothing. */
  async startRecoveries(req: StartRecoveriesRequest, onStarted: (target: string, run: StartedRun) => void): Promise<void> {
    const started = await this.call(() =>
      this.api.startRuns({
        strategy: req.strategy,
        components: req.components.length > 0 ? req.components : undefined,
        host: req.host,
        reason: req.reason,
        dryRun: req.dryRun,
        options: req.options,
      }),
    );
    for (const { component, host, ...run } of started.runs) onStarted(component ?? host ?? req.strategy, run);
  }

  async startSaga(req: StartSagaRequest): Promise<StartedRun> {
    const { workflowId, runId, url } = await this.call(() =>
      this.api.startSaga(req.name, { requestId: req.requestId, reason: req.reason, dryRun: req.dryRun }),
    );
    return { workflowId, runId, url };
  }

  async describe(workflowId: string): Promise<RunDescription> {
    // The API's schema types a result's strategy as a string; it is the run's, so the client's type holds.
    return (await this.call(() => this.api.run(workflowId))) as RunDescription;
  }

  /** Looks at the run until it has ended; its result, or the reason it has none. */
  async result(workflowId: string): Promise<RecoveryResult> {
    return this.untilEnded(workflowId, () => this.describe(workflowId));
  }

  /** Looks at a run with `look` until it has ended: its result, or the reason it has none. */
  private async untilEnded<R>(workflowId: string, look: () => Promise<{ status: string; result?: R }>): Promise<R> {
    for (;;) {
      const run = await look();
      if (run.status !== 'RUNNING') {
        if (run.result) return run.result;
        throw new CliError(`${workflowId} ended ${run.status.toLowerCase()} without a result`, EXIT.failed);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async progress(workflowId: string): Promise<RunProgress> {
    const run = await this.describe(workflowId);
    if (!run.progress) throw new CliError(`${workflowId} reports no progress`, EXIT.failed);
    return run.progress;
  }

  /** The run's escalation rungs are runs of the same component: the one running that waits for an approval. */
  async waitingRung(workflowId: string): Promise<string | undefined> {
    if ((await this.progress(workflowId).catch(() => undefined))?.approval?.state === 'waiting') return undefined;
    const component = /^mend\/recover\/([^/]+)$/.exec(workflowId)?.[1];
    if (!component) return undefined;
    const { runs } = await this.call(() => this.api.listRuns({ component, status: 'running' }));
    for (const run of runs.filter((r) => r.workflowId.startsWith(`${workflowId}/escalation/`))) {
      if ((await this.progress(run.workflowId).catch(() => undefined))?.approval?.state === 'waiting') return run.workflowId;
    }
    return undefined;
  }

  async control(workflowId: string, action: 'pause' | 'resume' | 'cancel', reason?: string): Promise<void> {
    await this.call(() => this.api.control(workflowId, action, reason));
  }

  async approve(workflowId: string, decision: { approve: boolean; reason?: string; by?: string }) {
    if (decision.by !== undefined) throw new CliError('--by: not used with MEND_URL (the API records the name of the token)', EXIT.usage);
    return this.call(() => this.api.approve(workflowId, { approve: decision.approve, reason: decision.reason }));
  }

  async listRuns(filter: RunListQuery) {
    return this.call(() => this.api.listRuns(filter));
  }

  /** The API's components; a detail the API cannot read now (503: Temporal or the supervisor does not answer) shows health `?`. */
  async components(): Promise<ComponentTable> {
    return this.call(async () => {
      const { components } = await this.api.components();
      const details = await Promise.all(
        components.map((c) =>
          this.api.component(c.id).catch((err: unknown) => (err instanceof ApiError && err.status === 503 ? undefined : Promise.reject(err))),
        ),
      );
      const unread = components.filter((_, i) => !details[i]).map((c) => c.id);
      const rows = components.map((c, i) => {
        const d = details[i];
        return d ? componentRow(d, d.supervisor ?? undefined, d.supervised ? 'none' : 'off') : componentRow(c, undefined, '?');
      });
      return { rows, note: unread.length > 0 ? `health unknown for ${unread.join(', ')}: the API could not read their supervisors now` : undefined };
    });
  }

  async check(id: string): Promise<CheckAnswer> {
    return this.call(() => this.api.check(id));
  }

  async hosts(): Promise<HostStatus[]> {
    return this.call(async () => (await this.api.hosts()).hosts);
  }

  async stats(): Promise<FleetStats> {
    return this.call(() => this.api.stats());
  }

  /** The API's schedules (those of its task queue); `reconcile` makes them match the API's config first. */
  async schedules(opts: { reconcile: boolean }): Promise<ScheduleTable> {
    return this.call(async () => {
      const reconciled = opts.reconcile ? await this.api.reconcileSchedules() : undefined;
      return { reconciled, schedules: (await this.api.schedules()).schedules };
    });
  }

  /** The API's spools by name, so that each is then read (and refused) as one named spool is. */
  private async spoolNames(name: string | undefined): Promise<string[]> {
    if (name !== undefined) return [name];
    const { spools } = await this.call(() => this.api.backlog());
    if (spools.length === 0) throw noSpoolsError();
    return spools.map((s) => s.spool);
  }

  async backlogStatus(name?: string): Promise<SpoolReport[]> {
    const names = await this.spoolNames(name);
    return this.call(() =>
      Promise.all(
        names.map(async (n) => {
          const answer = await this.api.backlogStatus(n);
          // A partial answer (the replay entity did not answer in time): said in one line, as a 503 was before.
          if ('unanswered' in answer) throw new CliError(answer.unanswered, EXIT.unreachable);
          const { onDisk, ...status } = answer;
          return { status, onDisk };
        }),
      ),
    );
  }

  async backlogStart(name: string | undefined, onStarted: (spool: string, run: StartedRun) => void): Promise<void> {
    for (const n of await this.spoolNames(name)) onStarted(n, await this.call(() => this.api.backlogStart(n)));
  }

  async backlogPause(name: string, req: { minutes: number; reason?: string }): Promise<BacklogStatus> {
    return this.call(() => this.api.backlogPause(name, req));
  }

  async backlogControl(name: string, action: BacklogAction): Promise<BacklogStatus> {
    return this.call(() => this.api.backlogAction(name, action));
  }

  async backlogResetFailed(name: string) {
    return this.call(() => this.api.backlogResetFailed(name));
  }

  async startDrill(name: string): Promise<StartedRun> {
    const { workflowId, runId, url } = await this.call(() => this.api.startDrill(name));
    return { workflowId, runId, url };
  }

  /** Looks at the drill run (`mend/drill/<name>/<run>`) until it has ended. */
  async drillResult(run: StartedRun): Promise<DrillResult> {
    const [, , name, suffix] = run.workflowId.split('/');
    return this.untilEnded(run.workflowId, () => this.call(() => this.api.drillRun(name!, suffix!)));
  }

  async drainHost(host: string, action: 'drain' | 'undrain', reason?: string): Promise<HostDrainResult> {
    return this.call(() => this.api.drainHost(host, action, reason));
  }

  async resetBreaker(component: string, reason: string) {
    return this.call(() => this.api.resetBreaker(component, reason));
  }

  async close(): Promise<void> {}
}
