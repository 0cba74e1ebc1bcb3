/**
 * mend supervising the bench services: its own dev server (headless, throwaway SQLite), a worker
 * process, the health schedules reconciled from a config with the shared settings, and a
 * supervisor per service (pid watch, 1-s sweep, fast confirmation, immediate restart unless a
 * scenario names another strategy).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { processAdapter, startProcess, stopProcess } from '../../domain/adapters/process';
import { MendClient } from '../../client';
import { loadConfigFile } from '../../client/config';
import { deleteHealthSchedules, reconcileSchedules } from '../../client/schedules';
import { supervisorState } from '../../client/supervisors';
import { fleetStateQuery, type FleetLimiterState } from '../../core/messages';
import { fleetLimiterWorkflowId, recoveryWorkflowId, supervisorWorkflowId } from '../../core/constants';
import { recoveryTimeline, supervisorTimeline, type HistoryEvent } from '../lib/timeline';
import type { RecoveryResult } from '../../core/run';
import type { Config, Strategy } from '../../core/schemas';
import { parseDuration } from '../../core/duration';
import { ensureTemporal } from '../../scripts/ensure-temporal';
import { startDevServer, type DevServer } from '../../scripts/temporal-server';
import { healthy, ROOT, stopGroup, waitUntil } from '../lib/util';
import { healthUrl, type BenchService, type Peer, type PeerSettings } from './types';
import { TS_HOOK_ARGS } from '../../workers/node-args';

const QUEUE = 'bench';

/** What bench/mass-profile.ts reads beyond a Peer: the histories of one run and the processes whose CPU it counts. */
export interface MendPeerExtras {
  /** The worker's and the dev server's pids (their CPU time is the orchestration cost). */
  pids(): { worker?: number; server?: number };
  /** The events of a workflow's current run (supervisor, recovery, fleet limiter). */
  history(workflowId: string): Promise<HistoryEvent[]>;
  /** The task queue's fleet limiter workflow id. */
  limiterId: string;
  /** The fleet limiter's state now (its host windows: how far the adaptive window grew or fell). */
  limiterState(): Promise<FleetLimiterState | undefined>;
}

/** The crash-loop scenario's supervision: mend's restart backoff and breaker doing their job. */
export const FLAP_CONTROL = {
  restartBackoff: { initial: '1s', max: '30s' },
  backoffResetAfter: '10m',
  breaker: { maxRecoveries: 3, window: '2m', coolDown: '20s', healthyToClose: '5s' },
} as const;

/**
 * The longest a fix can wait under FLAP_CONTROL before mend restarts the service, at the worst
 * phase of the loop: the breaker just reopened after a relapsed trial (its whole cool-down to go),
 * then the next failed check after it turns half-open (one check interval and the confirmations),
 * then the trial's restart backoff, which has grown to its max after enough recoveries in a row, then
 * the run itself (stop, start, the first healthy answer: a few seconds at most on a loaded box).
 */
export function flapControlBoundMs(settings: PeerSettings): number {
  const RUN_MS = 5_000;
  return parseDuration(FLAP_CONTROL.breaker.coolDown) + settings.failures * settings.intervalMs + parseDuration(FLAP_CONTROL.restartBackoff.max) + RUN_MS;
}

export function mendPeer(
  dir: string,
  settings: PeerSettings,
  extra: { maxConcurrentRecoveries?: number; dependsOn?: Record<string, string[]>; flapControl?: boolean; strategy?: Record<string, Strategy> } = {},
): Peer & MendPeerExtras {
  let server: DevServer | undefined;
  let worker: ChildProcess | undefined;
  let client: MendClient | undefined;
  let config: Config | undefined;
  const home = path.join(dir, '.mend');
  return {
    name: 'mend',
    version: 'mend',
    async start(services: BenchService[]) {
      const binary = await ensureTemporal();
      this.version = `mend 0.1.0 on Temporal ${binary.version.replace(/^temporal version /, '')}`;
      server = await startDevServer({
        binary: binary.path,
        uiPort: false,
        dbFile: path.join(dir, 'temporal.db'),
        fastSqlite: true,
        logFile: path.join(dir, 'temporal.log'),
      });
      // The shared settings: check interval, probe timeout, failures before acting. Restarts are not
      // held back (peers restart at once every time) and the breaker stays out of the way of trials.
      // With flapControl (the crash-loop scenario) mend's restart backoff and breaker do their job,
      // with a cool-down short enough to see the trial recovery after the fix.
      const supervision = {
        interval: `${settings.intervalMs}ms`,
        failuresBeforeRecovery: settings.failures,
        startupGrace: '0ms',
        ...(extra.flapControl
          ? FLAP_CONTROL
          : { restartBackoff: { initial: '0ms', max: '0ms' }, backoffResetAfter: '1s', breaker: { maxRecoveries: 1000, window: '1m' } }),
      };
      const lines = [
        'version: 1',
        ...(extra.maxConcurrentRecoveries ? [`supervision: { maxConcurrentRecoveries: ${extra.maxConcurrentRecoveries} }`] : []),
        'components:',
      ];
      for (const s of services) {
        lines.push(
          `  - id: ${s.name}`,
          `    adapter: { type: process, command: ${JSON.stringify([process.execPath, path.join(ROOT, 'demo/service.js')])}, env: ${JSON.stringify({ MEND_DEMO_NAME: s.name, PORT: String(s.port), STATE_FILE: s.stateFile, ...s.env })}, stopTimeout: 2s }`,
          `    probe: { type: http, url: "${healthUrl(s)}", timeout: ${settings.timeoutMs}ms }`,
          `    dependsOn: ${JSON.stringify(extra.dependsOn?.[s.name] ?? s.dependsOn ?? [])}`,
          `    policy: { strategy: ${extra.strategy?.[s.name] ?? 'immediate'}, timeout: 30s, validateInterval: 20ms }`,
          `    supervision: ${JSON.stringify(supervision)}`,
        );
      }
      const file = path.join(dir, 'mend.config.yaml');
      writeFileSync(file, lines.join('\n') + '\n');
      config = loadConfigFile(file, { stateDir: home });
      worker = spawn(process.execPath, [...TS_HOOK_ARGS, path.join(ROOT, 'workers/main.ts')], {
        cwd: ROOT,
        env: { ...process.env, MEND_TEMPORAL_ADDRESS: server.address, MEND_TASK_QUEUE: QUEUE, MEND_HOME: home, MEND_LOG_LEVEL: 'warn' },
        stdio: 'ignore',
        detached: true,
      });
      // A stack with dependencies is brought up in order, each service once what it needs answers.
      const ordered = services.some((s) => s.dependsOn?.length);
      for (const [i, c] of config.components.entries()) {
        await startProcess(processAdapter(c));
        if (ordered) await waitUntil(`${c.id} healthy`, 120_000, () => healthy(healthUrl(services[i]!)));
      }
      await waitUntil('mend services', 120_000, async () => (await Promise.all(services.map((s) => healthy(healthUrl(s))))).every(Boolean));
      client = await MendClient.connect({ address: server.address, taskQueue: QUEUE });
      await reconcileSchedules(client, config);
      const c = client;
      await waitUntil(
        'mend supervisors to see every service healthy',
        120_000,
        async () =>
          (await Promise.all(services.map(async (s) => (await supervisorState(c, s.name).catch(() => undefined))?.health === 'healthy'))).every(Boolean),
        250,
      );
    },
    async stop() {
      if (client && config) {
        await deleteHealthSchedules(client, QUEUE).catch(() => undefined);
        for (const c of config.components)
          await client.temporal.workflow
            .getHandle(supervisorWorkflowId(c.id))
            .terminate('bench over')
            .catch(() => undefined);
        await client.close();
      }
      if (worker) await stopGroup(worker);
      for (const c of config?.components ?? []) await stopProcess(processAdapter(c)).catch(() => undefined);
      await server?.stop();
    },
    async state(service: string) {
      if (!client) return 'unknown';
      const s = await supervisorState(client, service).catch(() => undefined);
      if (!s) return 'no supervisor';
      // Where in the loop it is: the cool-down left, or what holds the trial (its restart backoff).
      const b = s.breaker;
      const coolDown = b.state === 'open' && b.halfOpenAt !== undefined ? ` (half-open in ${((b.halfOpenAt - Date.now()) / 1000).toFixed(1)} s)` : '';
      return `${s.health}, breaker ${b.state}${coolDown}${s.held ? `; ${s.held}` : ''}`;
    },
    async recoveries(service: string) {
      const s = client && (await supervisorState(client, service).catch(() => undefined));
      return (s?.stats.recent ?? []).map((r) => ({ startedAt: r.startedAt, endedAt: r.endedAt }));
    },
    /** The last recovery run of `service`: when it started and when each of its activities was scheduled, started and closed (wall-clock ms). */
    async timeline(service: string) {
      if (!client) return [];
      const handle = client.temporal.workflow.getHandle(recoveryWorkflowId(service));
      const history = await handle.fetchHistory();
      // A run on the short path does stop, start and validate in one activity: its steps (from the
      // run's result, timed by the worker on this machine) say when the start began and ended.
      const result = (await handle.result().catch(() => undefined)) as RecoveryResult | undefined;
      const steps = (result?.steps ?? []).flatMap((st) =>
        st.endedAt
          ? [
              { what: `step ${st.name} started`, at: Date.parse(st.startedAt) },
              { what: `step ${st.name} ended`, at: Date.parse(st.endedAt) },
            ]
          : [],
      );
      // A restart in place waited for its host's window before its first step: its summary says how long.
      const first = result?.steps?.[0];
      const waited = first?.summary ? /and (\d+)ms for its host's window/.exec(first.summary) : null;
      const window = waited && first ? [{ what: 'window wait started', at: Date.parse(first.startedAt) - Number(waited[1]) }] : [];
      return [...recoveryTimeline(history.events ?? []), ...steps, ...window];
    },
    /** The supervisor's current run of `service` as points in time (signals by name, activities, child starts): where a recovery waited before its run began. */
    async supervisorTimeline(service: string) {
      if (!client) return [];
      const history = await client.temporal.workflow.getHandle(supervisorWorkflowId(service)).fetchHistory();
      return supervisorTimeline(history.events ?? []);
    },
    limiterId: fleetLimiterWorkflowId(QUEUE),
    pids: () => ({ worker: worker?.pid, server: server?.pid }),
    async limiterState() {
      return client?.temporal.workflow
        .getHandle(fleetLimiterWorkflowId(QUEUE))
        .query(fleetStateQuery)
        .catch(() => undefined);
    },
    async history(workflowId: string) {
      if (!client) return [];
      return (await client.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    },
    async alerted(service: string) {
      const s = client && (await supervisorState(client, service).catch(() => undefined));
      return s?.breaker.state === 'open' || s?.breaker.state === 'half-open';
    },
  };
}
