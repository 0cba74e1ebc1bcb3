/**
 * Host loss: a whole simulated host (a PID namespace with its agent and N demo services, see
 * scripts/sim-hosts.ts) SIGKILLed at once, beside a second host that keeps one service. One
 * central worker and dev server (bench/lib/stack.ts), checks every second. Per trial:
 *  - detection: from the kill to the "host lost unreachable" webhook (one expected per outage);
 *  - return: from a new namespace and agent for the host (same MEND_HOME) being started to all N of
 *    its services answering healthy from outside (mend checks and recovers them by itself), with
 *    the agent's own start-up given apart;
 *  - how many unreachable notifications the outage sent, and restarts started while the host was away.
 * Needs root (unshare --pid).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { loadConfigFile } from '../../client/config';
import { deleteHealthSchedules, reconcileSchedules } from '../../client/schedules';
import { supervisorState } from '../../client/supervisors';
import { HOST_PICKUP_TIMEOUT_MS, hostWorkflowId, recoveryWorkflowId } from '../../core/constants';
import type { Config } from '../../core/schemas';
import { freePort } from '../../scripts/ports';
import { canSimulateHosts, startSimHost, type SimHost } from '../../scripts/sim-hosts';
import { startStack, type BenchStack } from '../lib/stack';
import { summarize, type Summary } from '../lib/stats';
import { healthy, log, ROOT, sleep, waitUntil } from '../lib/util';
import type { ExtraChart } from '../report';

export interface HostLossOptions {
  /** Services on the lost host. */
  components: number;
  trials: number;
  /** How long the host stays away after its notification, before it comes back (ms). */
  awayMs: number;
}

export interface HostLossResult {
  components: number;
  trials: number;
  intervalMs: number;
  awayMs: number;
  /** Seconds from the kill to the host-unreachable notification, per trial. */
  detectSeconds: number[];
  detect: Summary;
  /** Seconds from starting the new namespace and agent to all of the host's services healthy, per trial. */
  backSeconds: number[];
  back: Summary;
  /** Seconds the new agent took to poll (part of `back`). */
  agentStartSeconds: number[];
  /** Host-unreachable notifications per outage (1 is the goal). */
  notifications: number[];
  /** Recovery runs started for the host's components while it was away (0 is the goal). */
  restartsWhileAway: number[];
  measuredAt: string;
  markdown: string[];
  chart: ExtraChart;
}

interface HostAlert {
  kind: string;
  host?: string;
  text: string;
  at: number;
}

async function startSink(): Promise<{ url: string; alerts: HostAlert[]; close(): void }> {
  const alerts: HostAlert[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      alerts.push({ ...(JSON.parse(body) as Omit<HostAlert, 'at'>), at: Date.now() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, alerts, close: () => server.close() };
}

const INTERVAL_MS = 1_000;

async function writeConfig(dir: string, components: number, webhook: string): Promise<{ config: Config; urls: Map<string, string> }> {
  const urls = new Map<string, string>();
  const service = async (id: string, host: string) => {
    const port = await freePort();
    urls.set(id, `http://127.0.0.1:${port}/healthz`);
    return {
      id,
      host,
      adapter: {
        type: 'process',
        command: [process.execPath, path.join(ROOT, 'demo/service.js')],
        env: { MEND_DEMO_NAME: id, PORT: String(port), STATE_FILE: path.join(dir, 'state', `${id}.json`) },
        stopTimeout: '2s',
      },
      probe: { type: 'http', url: urls.get(id), timeout: '500ms' },
      policy: { strategy: 'immediate', timeout: '30s', validateInterval: '100ms' },
      supervision: { group: 'fleet', interval: `${INTERVAL_MS}ms`, startupGrace: '0ms', restartBackoff: { initial: '100ms' } },
    };
  };
  const list = [];
  for (let i = 0; i < components; i++) list.push(await service(`lost${i}`, 'lost'));
  list.push(await service('steady0', 'steady'));
  const file = path.join(dir, 'mend.config.yaml');
  // JSON is YAML.
  writeFileSync(file, JSON.stringify({ version: 1, hosts: [{ id: 'lost' }, { id: 'steady' }], supervision: { notify: { webhook } }, components: list }));
  return { config: loadConfigFile(file, { stateDir: path.join(dir, 'central') }), urls };
}

/** Recovery runs of `ids` started in [from, to) (the supervisors' runs are `mend/recover/<id>`). */
async function recoveriesBetween(stack: BenchStack, ids: string[], from: number, to: number): Promise<number> {
  const query = `StartTime >= "${new Date(from).toISOString()}" AND StartTime < "${new Date(to).toISOString()}"`;
  const wanted = new Set(ids.map(recoveryWorkflowId));
  let n = 0;
  for await (const run of stack.client.temporal.workflow.list({ query })) if (wanted.has(run.workflowId)) n++;
  return n;
}

export async function hostLossBench(dir: string, opts: HostLossOptions): Promise<HostLossResult> {
  if (!canSimulateHosts) throw new Error('bench: the hostloss scenario needs root (it simulates hosts with unshare --pid)');
  mkdirSync(path.join(dir, 'state'), { recursive: true });
  const sink = await startSink();
  const { config, urls } = await writeConfig(dir, opts.components, sink.url);
  const lostIds = config.components.filter((c) => c.host === 'lost').map((c) => c.id);
  const stack = await startStack(dir);
  const queue = stack.taskQueue;
  const hosts: { lost?: SimHost; steady?: SimHost } = {};
  const agentEnv = { MEND_LOG_LEVEL: 'warn' };
  const result: HostLossResult = {
    components: opts.components,
    trials: opts.trials,
    intervalMs: INTERVAL_MS,
    awayMs: opts.awayMs,
    detectSeconds: [],
    detect: summarize([]),
    backSeconds: [],
    back: summarize([]),
    agentStartSeconds: [],
    notifications: [],
    restartsWhileAway: [],
    measuredAt: new Date().toISOString(),
    markdown: [],
    chart: { file: 'hostloss.svg', title: '', rows: [] },
  };
  const allHealthy = async () => (await Promise.all([...urls.values()].map((u) => healthy(u, 300)))).every(Boolean);
  const supervisorsHealthy = async () =>
    (await Promise.all(config.components.map((c) => supervisorState(stack.client, c.id)))).every((s) => s?.health === 'healthy');
  try {
    for (const id of ['lost', 'steady'] as const) {
      hosts[id] = await startSimHost(id, queue, path.join(dir, `home-${id}`), stack.server.address, agentEnv);
      await hosts[id].startAgent();
    }
    // Each service started on its host by a recovery run, then supervised.
    await Promise.all(
      config.components.map(async (component) => {
        const run = await stack.client.startRecovery({ strategy: 'immediate', component, trigger: 'manual', requestedBy: 'bench' });
        const r = await stack.client.result(run.workflowId, run.runId);
        if (r.outcome !== 'recovered') throw new Error(`bench: ${component.id} did not start: ${r.reason}`);
      }),
    );
    await reconcileSchedules(stack.client, config);

    for (let i = 1; i <= opts.trials; i++) {
      await waitUntil('every service and supervisor healthy before the trial', 180_000, async () => (await allHealthy()) && (await supervisorsHealthy()), 500);
      const killedAt = Date.now();
      await hosts.lost!.kill();
      await waitUntil('the host-unreachable notification', 120_000, () => sink.alerts.some((a) => a.kind === 'host-unreachable' && a.at >= killedAt), 20);
      const notified = sink.alerts.find((a) => a.kind === 'host-unreachable' && a.at >= killedAt)!;
      result.detectSeconds.push((notified.at - killedAt) / 1000);
      await sleep(opts.awayMs);

      const returnAt = Date.now();
      hosts.lost = await startSimHost('lost', queue, path.join(dir, 'home-lost'), stack.server.address, agentEnv);
      await hosts.lost.startAgent();
      result.agentStartSeconds.push((Date.now() - returnAt) / 1000);
      await waitUntil("all of the host's services healthy again", 180_000, allHealthy, 20);
      result.backSeconds.push((Date.now() - returnAt) / 1000);
      result.restartsWhileAway.push(await recoveriesBetween(stack, lostIds, killedAt, returnAt));

      // The host's workflow ends after its quiet window: then this outage has sent all it will.
      await stack.client.temporal.workflow.getHandle(hostWorkflowId(queue, 'lost')).result();
      result.notifications.push(sink.alerts.filter((a) => a.kind === 'host-unreachable' && a.at >= killedAt).length);
      log(
        `hostloss ${i}/${opts.trials}: notified after ${result.detectSeconds.at(-1)!.toFixed(2)}s (${result.notifications.at(-1)} notification(s)); back: agent up in ${result.agentStartSeconds.at(-1)!.toFixed(2)}s, all ${opts.components} healthy after ${result.backSeconds.at(-1)!.toFixed(2)}s`,
      );
    }
  } finally {
    await deleteHealthSchedules(stack.client, queue).catch(() => undefined);
    for (const h of Object.values(hosts)) await h?.stop().catch(() => undefined);
    await stack.stop();
    sink.close();
  }
  result.detect = summarize(result.detectSeconds);
  result.back = summarize(result.backSeconds);
  const s = (x: number) => (Number.isNaN(x) ? '-' : `${x.toFixed(2)} s`);
  const agent = summarize(result.agentStartSeconds);
  result.markdown = [
    `A simulated host (a PID namespace: its agent and ${opts.components} demo services) SIGKILLed at once, beside a second host; one central worker and dev server, checks every ${INTERVAL_MS / 1000} s, ${opts.trials} trials. Detection is from the kill to the "host unreachable" webhook; the host comes back ${opts.awayMs / 1000} s after it (a new namespace and agent, same MEND_HOME), and "all healthy" is from starting them to all ${opts.components} services answering healthy again from outside, which mend does by itself (the agent's own start-up included, and given apart).`,
    '',
    '| | median | p95 | max |',
    '| --- | --- | --- | --- |',
    `| kill → one "host unreachable" notification | ${s(result.detect.median)} | ${s(result.detect.p95)} | ${s(result.detect.max)} |`,
    `| return → all ${opts.components} components healthy | ${s(result.back.median)} | ${s(result.back.p95)} | ${s(result.back.max)} |`,
    `| (of which: the new agent polling) | ${s(agent.median)} | ${s(agent.p95)} | ${s(agent.max)} |`,
    '',
    `Host-unreachable notifications per outage: ${result.notifications.join(', ')}; recovery runs of its components started while it was away: ${result.restartsWhileAway.join(', ')} (0 is the goal: nothing is tried that cannot run). Detection is bounded by the schedule-to-start timeout on host queues (${HOST_PICKUP_TIMEOUT_MS / 1000} s): a dead agent is noticed when a sweep's or pid watch's task has waited that long.`,
  ];
  result.chart = {
    file: 'hostloss.svg',
    title: `host with ${opts.components} components lost and back (median, p95)`,
    rows: [
      { label: 'kill → notification', summary: result.detect },
      { label: 'return → all healthy', summary: result.back },
    ],
  };
  return result;
}
