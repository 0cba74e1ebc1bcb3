/** MendOps straight to Temporal (no MEND_URL): MendClient, with the components from the local config file. */
import os from 'node:os';
import { MendClient, TemporalUnreachableError, type StartedRun } from '../client';
import { BacklogControl } from '../client/backlog';
import { checkComponent } from '../client/checks';
import { drillResult, startDrill } from '../client/drills';
import { listHealthSchedules, reconcileSchedules } from '../client/schedules';
import { drainHost, undrainHost } from '../client/host-drain';
import { describeHosts } from '../client/hosts';
import { loadConfigFile } from '../client/config';
import { listRuns } from '../client/runs';
import { resetBreaker, supervisionStats, supervisorState, supervisorView } from '../client/supervisors';
import {
  BacklogResetResponseSchema,
  BacklogStatusSchema,
  BreakerResetResultSchema,
  componentView,
  DrillResultSchema,
  FleetStatsSchema,
  HealthScheduleSchema,
  ReconcileResultSchema,
  type HostDrainResult,
  type RunListQuery,
  type SupervisorView,
} from '../core/api';
import type { BacklogStatus } from '../core/backlog';
import { selectComponents, selectDrill, selectSaga, selectSpool } from '../core/config';
import type { Config, Spool } from '../core/schemas';
import { counts } from '../domain/backlog/spool';
import { hostIds, type HostStatus } from '../core/host-status';
import { ValidationError } from '../core/errors';
import type { Settings } from '../core/settings';
import { componentRow } from './component-row';
import { CliError, EXIT, noSpoolsError } from './errors';
import { customRunbookNames, startTarget } from '../client/runbooks';
import { knownHosts } from '../core/hosts';
import { strategyProblem } from '../core/runbooks';
import type { BacklogAction, CheckAnswer, ComponentTable, MendOps, ScheduleTable, SpoolReport, StartRecoveriesRequest, StartSagaRequest } from './ops';

/** A supervisor answers through a worker: with none running, its health is `?` after this long, not a hang. */
const SUPERVISOR_DEADLINE_MS = 10_000;

/** Who the runs and decisions are recorded as. */
const cliUser = () => `${os.userInfo().username}@cli`;

export class TemporalOps implements MendOps {
  private client?: Promise<MendClient>;
  private loaded?: Config;

  constructor(
    private readonly settings: Settings,
    private readonly configFile: string,
  ) {}

  /** Connects on first use, so commands that fail on their input never wait for Temporal. */
  private connect(): Promise<MendClient> {
    const s = this.settings;
    this.client ??= MendClient.connect({ address: s.MEND_TEMPORAL_ADDRESS, namespace: s.MEND_NAMESPACE, taskQueue: s.MEND_TASK_QUEUE, uiUrl: s.MEND_UI_URL });
    return this.client;
  }

  private config(): Config {
    this.loaded ??= loadConfigFile(this.configFile, { stateDir: this.settings.MEND_HOME });
    return this.loaded;
  }

  async startRecoveries(req: StartRecoveriesRequest, onStarted: (target: string, run: StartedRun) => void): Promise<void> {
    const config = this.config();
    const unknownStrategy = strategyProblem(req.strategy, customRunbookNames(config));
    if (unknownStrategy) throw new CliError(unknownStrategy, EXIT.usage);
    const planned = startTarget(config, req.strategy, { components: req.components, host: req.host });
    if ('problem' in planned) throw new CliError(`${planned.problem.field === 'host' ? '--host' : 'components'}: ${planned.problem.message}`, EXIT.usage);
    if (planned.targets !== 'components') {
      const target = planned.target;
      const run = await (
        await this.connect()
      ).startTargetedRun({
        runbook: req.strategy,
        target,
        hosts: knownHosts(config),
        trigger: 'manual',
        requestedBy: cliUser(),
        reason: req.reason,
        dryRun: req.dryRun,
      });
      onStarted(target.kind === 'host' ? target.host : req.strategy, run);
      return;
    }
    const components = selectComponents(config, req.components);
    const client = await this.connect();
    for (const component of components) {
      const run = await client.startRecovery({
        strategy: req.strategy,
        component,
        trigger: 'manual',
        requestedBy: cliUser(),
        reason: req.reason,
        dryRun: req.dryRun,
        options: req.options,
        allComponents: config.components,
      });
      onStarted(component.id, run);
    }
  }

  async startSaga(req: StartSagaRequest): Promise<StartedRun> {
    const config = this.config();
    const saga = selectSaga(config, req.name);
    return (await this.connect()).startSaga({
      saga,
      allComponents: config.components,
      requestId: req.requestId,
      trigger: 'manual',
      requestedBy: cliUser(),
      reason: req.reason,
      dryRun: req.dryRun,
    });
  }

  async describe(workflowId: string) {
    return (await this.connect()).describe(workflowId);
  }

  async result(workflowId: string, runId?: string) {
    return (await this.connect()).result(workflowId, runId);
  }

  async progress(workflowId: string, runId?: string) {
    return (await this.connect()).progress(workflowId, runId);
  }

  async waitingRung(workflowId: string) {
    return (await this.connect()).waitingRung(workflowId);
  }

  async control(workflowId: string, action: 'pause' | 'resume' | 'cancel', reason?: string): Promise<void> {
    const client = await this.connect();
    if (action === 'pause') await client.pause(workflowId, cliUser(), reason);
    else if (action === 'resume') await client.resume(workflowId, cliUser());
    else await client.cancel(workflowId);
  }

  async approve(workflowId: string, decision: { approve: boolean; reason?: string; by?: string }) {
    return (await this.connect()).approve(workflowId, { approve: decision.approve, by: decision.by ?? cliUser(), reason: decision.reason });
  }

  async listRuns(filter: RunListQuery) {
    return listRuns(await this.connect(), filter);
  }

  /** The config's components with their supervisors' health when Temporal answers; the config alone (health `?`) when not. */
  async components(): Promise<ComponentTable> {
    const views = this.config().components.map(componentView);
    let states: Array<SupervisorView | undefined | 'unreadable'> = views.map(() => 'unreadable');
    let note: string | undefined;
    try {
      const client = await this.connect();
      states = await client.connection.withDeadline(Date.now() + SUPERVISOR_DEADLINE_MS, () =>
        Promise.all(
          views.map(async (v) =>
            v.supervised
              ? await supervisorState(client, v.id)
                  .then((s) => (s ? supervisorView(s) : undefined))
                  .catch(() => 'unreadable' as const)
              : undefined,
          ),
        ),
      );
      const unread = views.filter((_, i) => states[i] === 'unreadable').map((v) => v.id);
      if (unread.length > 0)
        note = `health unknown for ${unread.join(', ')}: their supervisors did not answer (is a worker running on task queue ${this.settings.MEND_TASK_QUEUE}?)`;
    } catch (err) {
      if (!(err instanceof TemporalUnreachableError)) throw err;
      note = `health unknown: ${err.message.split('\n')[0]}`;
    }
    const rows = views.map((v, i) => {
      const s = states[i];
      return componentRow(v, s === 'unreadable' ? undefined : s, s === 'unreadable' ? '?' : v.supervised ? 'none' : 'off');
    });
    return { rows, note };
  }

  async check(id: string): Promise<CheckAnswer> {
    const [component] = selectComponents(this.config(), [id]);
    return checkComponent(await this.connect(), component!, { trigger: 'manual', requestedBy: cliUser() });
  }

  async hosts(): Promise<HostStatus[]> {
    return describeHosts(await this.connect(), this.config());
  }

  // The answers below pass through the API's response schemas: the same fields in the same order as through the API.

  async stats() {
    return FleetStatsSchema.parse(await supervisionStats(await this.connect(), this.config()));
  }

  async schedules(opts: { reconcile: boolean }): Promise<ScheduleTable> {
    const client = await this.connect();
    const reconciled = opts.reconcile ? ReconcileResultSchema.parse(await reconcileSchedules(client, this.config())) : undefined;
    // This stack's schedules (owner: its task queue), as the API lists them: not another stack's sharing the namespace.
    const schedules = (await listHealthSchedules(client, { owner: client.taskQueue })).map((s) => HealthScheduleSchema.parse(s));
    return { reconciled, schedules };
  }

  private spools(name: string | undefined): Spool[] {
    const config = this.config();
    if (name !== undefined) return [selectSpool(config, name)];
    if (config.spools.length === 0) throw noSpoolsError();
    return config.spools;
  }

  private async backlog(): Promise<BacklogControl> {
    return new BacklogControl(await this.connect());
  }

  /** The spool folder itself, when this machine can see it: items spooled since the last cycle show up there. */
  async backlogStatus(name?: string): Promise<SpoolReport[]> {
    const spools = this.spools(name);
    const control = await this.backlog();
    return Promise.all(
      spools.map(async (spool) => ({
        status: BacklogStatusSchema.parse(await control.status(spool.name)),
        onDisk: await counts(spool.dir).catch(() => undefined),
      })),
    );
  }

  async backlogStart(name: string | undefined, onStarted: (spool: string, run: StartedRun) => void): Promise<void> {
    const spools = this.spools(name);
    const control = await this.backlog();
    for (const spool of spools) onStarted(spool.name, await control.ensure(spool));
  }

  async backlogPause(name: string, req: { minutes: number; reason?: string }): Promise<BacklogStatus> {
    const spool = selectSpool(this.config(), name).name;
    return BacklogStatusSchema.parse(await (await this.backlog()).pause(spool, { ...req, by: cliUser() }));
  }

  async backlogControl(name: string, action: BacklogAction): Promise<BacklogStatus> {
    const spool = selectSpool(this.config(), name).name;
    const control = await this.backlog();
    return BacklogStatusSchema.parse(action === 'resume' ? await control.resume(spool, cliUser()) : await control.force(spool, cliUser()));
  }

  async backlogResetFailed(name: string) {
    const spool = selectSpool(this.config(), name).name;
    return BacklogResetResponseSchema.parse(await (await this.backlog()).resetFailed(spool, cliUser()));
  }

  async startDrill(name: string): Promise<StartedRun> {
    const config = this.config();
    const drill = selectDrill(config, name);
    return startDrill(await this.connect(), config, drill, cliUser());
  }

  async drillResult(run: StartedRun) {
    return DrillResultSchema.parse(await drillResult(await this.connect(), run));
  }

  async drainHost(host: string, action: 'drain' | 'undrain', reason?: string): Promise<HostDrainResult> {
    const config = this.config();
    const known = hostIds(config);
    if (!known.includes(host)) throw new ValidationError('host', [`unknown host ${JSON.stringify(host)} (known: ${known.join(', ')})`]);
    const by = cliUser();
    const client = await this.connect();
    if (action === 'drain') return { host, action, by, components: await drainHost(client, config, host, by, reason) };
    const { components, skipped } = await undrainHost(client, config, host, by);
    return { host, action, by, components, ...(skipped.length > 0 ? { skipped } : {}) };
  }

  async resetBreaker(id: string, reason: string) {
    const [component] = selectComponents(this.config(), [id]);
    return BreakerResetResultSchema.parse(await resetBreaker(await this.connect(), component!.id, { by: cliUser(), reason }));
  }

  async close(): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    await client?.close();
  }
}
