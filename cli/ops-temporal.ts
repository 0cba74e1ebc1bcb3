/** MendOps straight to Temporal (no MEND_URL): MendClient, with the components from the local config file. */
import os from 'node:os';
import { MendClient, TemporalUnreachableError, type StartedRun } from '../client';
import { checkComponent } from '../client/checks';
import { drainHost, undrainHost } from '../client/host-drain';
import { describeHosts } from '../client/hosts';
import { loadConfigFile } from '../client/config';
import { listRuns } from '../client/runs';
import { supervisorState, supervisorView } from '../client/supervisors';
import { componentView, type HostDrainResult, type RunListQuery, type SupervisorView } from '../core/api';
import { selectComponents, selectSaga } from '../core/config';
import type { Config } from '../core/schemas';
import { hostIds, type HostStatus } from '../core/host-status';
import { ValidationError } from '../core/errors';
import type { Settings } from '../core/settings';
import { componentRow } from './component-row';
import type { CheckAnswer, ComponentTable, MendOps, StartRecoveriesRequest, StartSagaRequest } from './ops';

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

  async close(): Promise<void> {
    const client = await this.client?.catch(() => undefined);
    await client?.close();
  }
}
