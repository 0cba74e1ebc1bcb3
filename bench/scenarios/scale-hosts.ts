/**
 * Scale across hosts: N components (5,000) spread over H simulated hosts (10), with one central
 * worker and one dev server on this machine. Each host is a PID namespace (scripts/sim-hosts.ts)
 * with its own agent (own MEND_HOME) and one cheap target process (bench/scale-target.js, as in the
 * scale scenario) answering the health and restart endpoints of that host's components on one port.
 *
 * What runs where: the central worker runs every workflow (a supervisor per component, one health
 * sweep per (group, host) schedule firing, the recovery runs) and the host-free activities; each
 * agent runs its host's sweep activity (probes, and the signal-with-start reports to the
 * supervisors), the supervisors' confirmation probes and the recovery's restart call (a loopback
 * URL, so host-bound). Measured as in scale.ts: supervisors up, sweeps keeping up, CPU and RSS over a
 * steady window (whole process trees, from /proc), then failures injected over a spread-out sample
 * and the delay from each failure (the target's clock) to its recovery run's start (Temporal's).
 * Needs root (unshare --pid).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { loadConfigFile } from '../../client/config';
import { supervisorState } from '../../client/supervisors';
import { deleteHealthSchedules, planHealthGroups, reconcileSchedules } from '../../client/schedules';
import { WorkflowNotFoundError } from '@temporalio/client';
import { fleetLimiterWorkflowId } from '../../core/constants';
import { fleetStateQuery } from '../../core/messages';
import type { Config } from '../../core/schemas';
import { STRATEGY_WORKFLOW, WORKFLOW_TYPES } from '../../core/workflow-types';
import { canSimulateHosts, startSimHost, type SimHost, type SimProcess } from '../../scripts/sim-hosts';
import { onInterrupt } from '../lib/interrupt';
import { usageOver, type ProcUsage } from '../lib/proc';
import { startStack, type BenchStack } from '../lib/stack';
import { summarize, type Summary } from '../lib/stats';
import { log, now, ROOT, sleep, waitUntil } from '../lib/util';
import type { ExtraChart } from '../report';
import { stagesMarkdown, type DetectionStage } from '../lib/detection-stages';
import { componentId, countRunning, injectAndMeasure, loopSweepsOver, loopsSweeping, spreadSample, sweepsBetween, type FailTarget } from './scale';

export interface ScaleHostsOptions {
  components: number;
  hosts: number;
  /** Check interval of every component (the health schedules fire at it). */
  intervalMs: number;
  /** Steady window over which CPU and memory are measured. */
  windowMs: number;
  /** Failures injected, spread over the components (so over the hosts). */
  failures: number;
}

/** The issue's goals for the full size (5,000 components over 10 hosts). */
export const SCALE_HOSTS_GOALS = { detectionP95Seconds: 1.5, workerRssMiB: 600, agentRssMiB: 150 };

export interface ScaleHostsResult {
  components: number;
  hosts: number;
  intervalMs: number;
  windowSeconds: number;
  /** The machine as this scenario saw it (the report's header may be of another, merged run). */
  machine: { cpu: string; cores: number; loadAverageBefore: number[]; loadAverageAfter: number[] };
  /** Health schedules (one per (group, host), split into parts when big). */
  schedules: number;
  /**
   * Before the window: fleet permits granted (each one a supervisor that had confirmed a failure;
   * every component is healthy throughout, so these are false alarms, e.g. probe timeouts of the
   * first sweeps on a busy machine) and recovery runs actually started.
   */
  startup: { permitsGranted: number; recoveriesStarted: number };
  supervisorsUpSeconds?: number;
  supervisorsRunning: number;
  steadyAfterSeconds?: number;
  worker: ProcUsage;
  server: ProcUsage;
  /** One agent (host h0): its process tree. */
  agent: ProcUsage;
  /** Every agent together (CPU and RSS summed). */
  agents: ProcUsage;
  /** Every host's target process together. */
  targets: ProcUsage;
  /** With a check lease: sweeps of the loops that ran in the window (over their whole leases), `late` ones longer than the interval; `seconds`: each loop's longest sweep. */
  sweeps: { ran: number; due: number; seconds: Summary; late?: number };
  detectionSeconds: number[];
  detection: Summary;
  recoverySeconds: number[];
  recovery: Summary;
  undetected: number;
  /** When some were not detected: what the failed components' supervisors said at the end (health, and what held them), counted. */
  undetectedWhy: Record<string, number>;
  /** Where detection's time went, stage by stage (ms; absent in results from before it was measured). */
  stages?: Record<DetectionStage, Summary>;
  measuredAt: string;
  durationSeconds: number;
  markdown: string[];
  chart: ExtraChart;
}

const hostId = (h: number) => `h${h}`;

/** The fleet limiter's queue (`mend/fleet/<queue>`; none yet: empty). */
async function fleetQueue(stack: BenchStack): Promise<{ waiting: number; holders: number; granted: number }> {
  try {
    const st = await stack.client.temporal.workflow.getHandle(fleetLimiterWorkflowId(stack.taskQueue)).query(fleetStateQuery);
    return { waiting: st.waiting.length, holders: st.holders.length, granted: st.granted };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { waiting: 0, holders: 0, granted: 0 };
    throw err;
  }
}

/** What the supervisors of `sample` say now (health, and what holds them), counted: why a failure had no recovery run. */
async function whyNotRecovering(stack: BenchStack, sample: FailTarget[]): Promise<Record<string, number>> {
  const why: Record<string, number> = {};
  for (const { id } of sample) {
    const st = await supervisorState(stack.client, id).catch((err: Error) => ({ health: `unreadable (${err.message})`, held: undefined }));
    const key = st ? `${st.health}${st.held ? `, held: ${st.held}` : ''}` : 'no supervisor';
    why[key] = (why[key] ?? 0) + 1;
  }
  return why;
}

/** Recovery runs (every component's strategy is `immediate`) on the stack's queue started before `ms` (epoch). */
async function recoveriesBefore(stack: BenchStack, ms: number): Promise<number> {
  const query = `WorkflowType = ${JSON.stringify(STRATEGY_WORKFLOW.immediate)} AND TaskQueue = "${stack.taskQueue}" AND StartTime < "${new Date(ms).toISOString()}"`;
  return (await stack.client.temporal.workflow.count(query)).count;
}

/** Component i's host and its index on that host's target: contiguous blocks, as even as they go. */
export function placement(components: number, hosts: number): Array<{ host: number; local: number }> {
  const per = Math.ceil(components / hosts);
  return Array.from({ length: components }, (_, i) => ({ host: Math.floor(i / per), local: i % per }));
}

function writeConfig(dir: string, opts: ScaleHostsOptions, ports: number[]): Config {
  const place = placement(opts.components, opts.hosts);
  const components = place.map(({ host, local }, i) => {
    const base = `http://127.0.0.1:${ports[host]}/c/${local}`;
    return {
      id: componentId(i),
      host: hostId(host),
      // A loopback URL: the restart call is host-bound, made by the component's agent.
      adapter: { type: 'http', restart: { url: `${base}/restart`, method: 'POST' }, timeout: '5s' },
      probe: { type: 'http', url: `${base}/healthz`, timeout: '1s' },
      policy: { strategy: 'immediate', timeout: '10s', validateInterval: '100ms' },
      // As the scale scenario: act after 2 failed checks, restarts never held back, breaker out of the way.
      supervision: {
        interval: `${opts.intervalMs}ms`,
        failuresBeforeRecovery: 2,
        startupGrace: '0ms',
        restartBackoff: { initial: '0ms', max: '0ms' },
        backoffResetAfter: '1s',
        breaker: { maxRecoveries: 1000, window: '1m' },
      },
    };
  });
  const hosts = Array.from({ length: opts.hosts }, (_, h) => ({ id: hostId(h), description: `simulated host ${h}` }));
  const file = path.join(dir, 'mend.config.yaml');
  // JSON is YAML.
  writeFileSync(file, JSON.stringify({ version: 1, hosts, components }));
  return loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
}

/** Host h's target inside its namespace, serving `count` components; resolves with it and its port. */
async function startHostTarget(host: SimHost, count: number): Promise<{ target: SimProcess; port: number }> {
  const target = await host.spawn([process.execPath, path.join(ROOT, 'bench/scale-target.js')], {
    env: { ...process.env, COMPONENTS: String(count), PORT: '0' },
    stdout: 'pipe',
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = readline.createInterface({ input: target.proc.stdout! });
    lines.on('line', (line) => {
      const m = /listening (\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    void target.exited.then(() => reject(new Error(`bench: the target of ${host.id} exited before listening`)));
  });
  return { target, port };
}

export async function scaleHostsBench(opts: ScaleHostsOptions): Promise<ScaleHostsResult> {
  if (!canSimulateHosts) throw new Error('bench: the scalehosts scenario needs root (it simulates hosts with unshare --pid)');
  if (opts.hosts < 1 || opts.components < opts.hosts) throw new Error('bench: scalehosts needs at least one host and one component per host');
  const measuredAt = new Date().toISOString();
  const began = now();
  const dir = mkdtempSync(path.join(os.tmpdir(), `mend-bench-scalehosts-${opts.components}-`));
  const hosts: SimHost[] = [];
  let stack: BenchStack | undefined;
  let pendingStack: Promise<BenchStack> | undefined;
  // Everything this scenario started, stopped once: on the way out, on failure, or on SIGINT/SIGTERM.
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      const s = stack ?? (await pendingStack?.catch(() => undefined));
      // The schedules first, so no sweep waits on an agent that is going away.
      if (s) await deleteHealthSchedules(s.client, s.taskQueue).catch(() => undefined);
      // Each host's agent (SIGTERM, then its namespace: its target dies with it).
      await Promise.all(hosts.map((h) => h.stop().catch(() => undefined)));
      await s?.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    })());
  const disarm = onInterrupt('scalehosts', stopAll);
  try {
    const queue = `bench-scalehosts-${opts.components}`;
    pendingStack = startStack(dir, { taskQueue: queue });
    stack = await pendingStack;
    const s = stack;
    const place = placement(opts.components, opts.hosts);
    const perHost = Array.from({ length: opts.hosts }, (_, h) => place.filter((p) => p.host === h).length);
    const ports: number[] = [];
    const targets: SimProcess[] = [];
    for (let h = 0; h < opts.hosts; h++) {
      const home = path.join(dir, `home-${hostId(h)}`);
      mkdirSync(home, { recursive: true });
      const host = await startSimHost(hostId(h), queue, home, s.server.address, { MEND_LOG_LEVEL: 'warn' });
      hosts.push(host);
      const { target, port } = await startHostTarget(host, perHost[h]!);
      targets.push(target);
      ports.push(port);
      await host.startAgent();
    }
    log(`scalehosts: ${opts.hosts} simulated hosts up (an agent and a target each), ${perHost[0]} components on ${hostId(0)}`);
    const config = writeConfig(dir, opts, ports);
    const schedules = planHealthGroups(config, queue).length;
    const leased = planHealthGroups(config, queue)[0]?.leaseMs !== undefined;

    const t0 = now();
    await reconcileSchedules(s.client, config);
    let running = 0;
    let supervisorsUpSeconds: number | undefined;
    const upDeadline = 60_000 + opts.components * 30;
    await waitUntil(
      `${opts.components} supervisors`,
      upDeadline,
      async () => {
        running = await countRunning(s, WORKFLOW_TYPES.supervisor);
        return running >= opts.components;
      },
      1_000,
    )
      .then(() => (supervisorsUpSeconds = (now() - t0) / 1000))
      .catch(() => log(`scalehosts: only ${running} of ${opts.components} supervisors after ${upDeadline / 1000}s; measuring anyway`));
    log(
      `scalehosts: ${running} supervisors running${supervisorsUpSeconds ? ` after ${supervisorsUpSeconds.toFixed(1)}s` : ''}; waiting for the sweeps to keep up`,
    );

    let steadyAfterSeconds: number | undefined;
    let fleet = { waiting: 0, holders: 0, granted: 0 };
    // Room for a start-up queue of false alarms to drain (one permit round trip each), bounded.
    const steadyDeadline = 120_000 + opts.components * 30;
    await waitUntil(
      `the sweeps of ${opts.components} components to keep up`,
      steadyDeadline,
      async () => {
        if (leased) {
          // With a check lease, each firing is a probe loop: every schedule's loop sweeping.
          if (!(await loopsSweeping(s, schedules))) return false;
        } else {
          const recent = await sweepsBetween(s, Date.now() - 6 * opts.intervalMs, Date.now() - 1.5 * opts.intervalMs);
          if (!(recent.length >= 3 * schedules && recent.every((x) => x * 1000 < opts.intervalMs))) return false;
        }
        // And no start-up false alarm still queued for a fleet permit: a failure injected behind
        // that queue would measure the queue, not detection (see the section's note).
        fleet = await fleetQueue(s);
        return fleet.waiting === 0 && fleet.holders === 0;
      },
      1_000,
    )
      .then(() => (steadyAfterSeconds = (now() - t0) / 1000))
      .catch(() => log(`scalehosts: not steady within ${steadyDeadline / 1000}s (${fleet.waiting} waiting for a fleet permit); measuring anyway`));
    const startup = { permitsGranted: fleet.granted, recoveriesStarted: await recoveriesBefore(s, Date.now()) };
    log(`scalehosts: start-up: ${startup.permitsGranted} fleet permits granted, ${startup.recoveriesStarted} recovery runs started`);
    if (steadyAfterSeconds) log(`scalehosts: steady after ${steadyAfterSeconds.toFixed(1)}s; a ${opts.windowMs / 1000}s window`);

    const loadAverageBefore = os.loadavg().map((x) => Math.round(x * 100) / 100);
    const windowFrom = Date.now();
    const usage = await usageOver(
      {
        worker: [s.worker.pid!],
        server: [s.server.pid],
        agent: [hosts[0]!.agent!.pid],
        agents: hosts.map((h) => h.agent!.pid),
        targets: targets.map((t) => t.pid),
      },
      opts.windowMs,
    );
    const windowTo = Date.now();
    const loadAverageAfter = os.loadavg().map((x) => Math.round(x * 100) / 100);
    // A sweep started at the end of the window may still run: wait for it to close before listing.
    await sleep(2_000 + opts.intervalMs);
    // With a lease: the loops that ran in the window, over their whole leases, and each one's longest sweep.
    const loops = leased ? await loopSweepsOver(s, windowFrom, windowTo, opts.intervalMs) : undefined;
    const sweepSeconds = loops ? loops.longestSeconds : await sweepsBetween(s, windowFrom, windowTo);
    const due = loops ? loops.due : Math.floor((windowTo - windowFrom) / opts.intervalMs) * schedules;
    if (loops)
      log(
        `scalehosts: probe loops swept ${loops.ran} of ${loops.due} due (${loops.late} late); longest sweep per loop median ${summarize(loops.longestSeconds).median}s`,
      );
    log(
      `scalehosts: worker ${usage.worker.cpuPercent}% CPU ${usage.worker.rssMiBMax} MiB, server ${usage.server.cpuPercent}% ${usage.server.rssMiBMax} MiB, agent ${usage.agent.cpuPercent}% ${usage.agent.rssMiBMax} MiB (all agents ${usage.agents.cpuPercent}%); ${sweepSeconds.length}/${due} sweeps, median ${summarize(sweepSeconds).median}s`,
    );

    const sample: FailTarget[] = spreadSample(opts.components, opts.failures).map((i) => ({
      id: componentId(i),
      base: `http://127.0.0.1:${ports[place[i]!.host]}/c/${place[i]!.local}`,
    }));
    log(`scalehosts: failing ${sample.length} components over the hosts, 370 ms apart`);
    const measured = await injectAndMeasure(s, sample, 60_000);
    const undetectedWhy = measured.undetected > 0 ? await whyNotRecovering(s, sample) : {};
    if (measured.undetected > 0) log(`scalehosts: the failed components' supervisors say: ${JSON.stringify(undetectedWhy)}`);
    const detection = summarize(measured.detection);
    log(`scalehosts: detection median ${detection.median}s p95 ${detection.p95}s, ${measured.undetected} not detected`);
    const cpus = os.cpus();
    const result: ScaleHostsResult = {
      components: opts.components,
      hosts: opts.hosts,
      intervalMs: opts.intervalMs,
      windowSeconds: opts.windowMs / 1000,
      machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, loadAverageBefore, loadAverageAfter },
      schedules,
      startup,
      supervisorsUpSeconds,
      supervisorsRunning: running,
      steadyAfterSeconds,
      ...usage,
      sweeps: { ran: loops ? loops.ran : sweepSeconds.length, due, seconds: summarize(sweepSeconds), ...(loops ? { late: loops.late } : {}) },
      detectionSeconds: measured.detection,
      detection,
      recoverySeconds: measured.recovery,
      recovery: summarize(measured.recovery),
      undetected: measured.undetected,
      stages: measured.stages,
      undetectedWhy,
      measuredAt,
      durationSeconds: 0,
      markdown: [],
      chart: { file: 'scale-hosts.svg', title: '', rows: [] },
    };
    result.durationSeconds = Math.round((now() - began) / 1000);
    result.markdown = scaleHostsMarkdown(result);
    result.chart = {
      file: 'scale-hosts.svg',
      title: `${opts.components.toLocaleString('en')} components over ${opts.hosts} hosts, check every ${opts.intervalMs / 1000} s (median, p95 whisker)`,
      rows: [
        { label: 'failure → run started', summary: result.detection.n ? result.detection : undefined, note: 'never detected' },
        { label: 'failure → restarted', summary: result.recovery.n ? result.recovery : undefined, note: 'never restarted' },
      ],
    };
    return result;
  } finally {
    await stopAll();
    disarm();
  }
}

/** "met" or how far off a goal is. */
function against(value: number, goal: number, unit: string): string {
  if (Number.isNaN(value)) return 'not measured';
  return value <= goal ? `met (goal ≤ ${goal} ${unit})` : `missed by ${(value - goal).toFixed(unit === 's' ? 2 : 0)} ${unit} (goal ≤ ${goal} ${unit})`;
}

export function scaleHostsMarkdown(r: ScaleHostsResult): string[] {
  const sec = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${x.toFixed(2)} s`);
  const mib = (u: ProcUsage) => `${u.rssMiBMax} MiB`;
  const n = (x: number) => x.toLocaleString('en');
  const perHost = Math.ceil(r.components / r.hosts);
  const cpuTotal = r.worker.cpuPercent + r.server.cpuPercent + r.agents.cpuPercent + r.targets.cpuPercent;
  const share = (x: number) => (cpuTotal > 0 ? `${Math.round((x / cpuTotal) * 100)}%` : '-');
  const load = (l: number[]) => l.join(', ');
  const lines = [
    `${n(r.components)} components over ${r.hosts} simulated hosts (PID namespaces, \`scripts/sim-hosts.ts\`; up to ${n(perHost)} components each), one central worker and one dev server, all on this machine (${r.machine.cpu}, ${r.machine.cores} cores; load average ${load(r.machine.loadAverageBefore)} before the window and ${load(r.machine.loadAverageAfter)} after it, 1, 5, 15 min). Measured ${r.measuredAt.slice(0, 16).replace('T', ' ')}, in ${r.durationSeconds} s.`,
    '',
    `Each host runs its own agent (\`mend agent --host <id>\`, its own MEND_HOME) and one target process answering its components' health and restart endpoints on one port (bench/scale-target.js, as in the scale scenario). Every component is probed over HTTP every ${r.intervalMs / 1000} s by its host's health schedule (${r.schedules} schedule(s): one per (group, host), split into parts when big) and acts after 2 failed checks (the sweep's probe, then its own second probe 100 ms later); it is recovered by an http restart call to its target. CPU (% of one core) and RSS (max; summed over each process tree) sampled from /proc every second over a ${r.windowSeconds} s steady window with no failures. Detection, as in the scale scenario: from the injected failure (the target's clock) to the start time Temporal gives the component's recovery run, ${r.detectionSeconds.length + r.undetected} failures spread over the components (so over the hosts), 370 ms apart. Recovery: failure → the target's restart call.`,
    '',
    '| components | hosts | supervisors up after | sweeps keep up after | central worker CPU | central worker RSS | server CPU | server RSS | one agent CPU | one agent RSS | all agents CPU | targets CPU | sweeps ran / due (median length) | detection median | detection p95 | failure → restarted p95 | not detected |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${n(r.components)} | ${r.hosts} | ${r.supervisorsUpSeconds === undefined ? `${n(r.supervisorsRunning)} only` : sec(r.supervisorsUpSeconds)} | ${r.steadyAfterSeconds === undefined ? 'never' : sec(r.steadyAfterSeconds)} | ${r.worker.cpuPercent}% | ${mib(r.worker)} | ${r.server.cpuPercent}% | ${mib(r.server)} | ${r.agent.cpuPercent}% | ${mib(r.agent)} | ${r.agents.cpuPercent}% | ${r.targets.cpuPercent}% | ${r.sweeps.ran} / ${r.sweeps.due} (${sec(r.sweeps.seconds.median)}) | ${sec(r.detection.median)} | ${sec(r.detection.p95)} | ${sec(r.recovery.p95)} | ${r.undetected} |`,
    '',
    `Goals (for 5,000 over 10 hosts): detection p95 ${against(r.detection.p95, SCALE_HOSTS_GOALS.detectionP95Seconds, 's')}; central worker RSS ${against(r.worker.rssMiBMax, SCALE_HOSTS_GOALS.workerRssMiB, 'MiB')}; one agent's RSS ${against(r.agent.rssMiBMax, SCALE_HOSTS_GOALS.agentRssMiB, 'MiB')}.`,
    '',
    `What runs where, and how the steady cost splits (CPU share of the ${Math.round(cpuTotal)}% measured in all): the **central worker** (${share(r.worker.cpuPercent)}) runs every workflow: a supervisor per component (idle while its reports say healthy), ${r.sweeps.late === undefined ? `one sweep workflow per schedule firing (${r.schedules} every ${r.intervalMs / 1000} s)` : `one sweep workflow per schedule and check lease (${r.schedules} schedules; each firing's activity sweeps every ${r.intervalMs / 1000} s until its lease ends)`} that only hands each host its probe activity, and the recovery runs; plus the host-free activities (notifications, the fleet limiter). The **dev server** (${share(r.server.cpuPercent)}) fires the schedules and stores each sweep's history (start, activity scheduled and completed; the input is the schedule's revision, the specs are read by each agent once per revision from \`mend/health-specs/...\`). **Each agent** (${share(r.agents.cpuPercent)} for all ${r.hosts}, ${r.agent.cpuPercent}% for one) runs its host's sweep activity (the probes of its own components, and a signal-with-start to a supervisor only on a change or every 10 min; a failure is confirmed by the sweep's own second probe), the supervisors' confirmation probes (when a report stands for too few failures) and the restart calls (loopback URLs, so host-bound). The **targets** (${share(r.targets.cpuPercent)}) answer the probes.`,
  ];
  lines.push(
    '',
    `Start-up (before the window, every component healthy throughout): ${r.startup.permitsGranted} fleet permit(s) granted to supervisors that had confirmed a failure, ${r.startup.recoveriesStarted} recovery run(s) started. A false alarm (a probe timing out while the first sweeps, supervisors and agents all start at once) queues for a fleet permit (an http restart is a cheap one: its host's adaptive window admits it); a newer healthy report withdraws its request (issue 16's permit wake), but a real failure queued behind the false alarms still waits for a permit. "Sweeps keep up after" includes that queue being empty.`,
  );
  if (r.sweeps.ran < r.sweeps.due)
    lines.push(
      '',
      r.sweeps.late === undefined
        ? `${r.sweeps.due - r.sweeps.ran} of ${r.sweeps.due} due sweeps were skipped (the last sweep of that schedule was still running; overlap policy SKIP), sweep p95 ${sec(r.sweeps.seconds.p95)} against a ${r.intervalMs / 1000} s interval.`
        : `The probe loops (a firing per schedule and check lease, sweeping every interval) ran ${r.sweeps.ran} of ${r.sweeps.due} due sweeps, ${r.sweeps.late} of them longer than the ${r.intervalMs / 1000} s interval (the next one starts late, never two at once); each loop's longest sweep p95 ${sec(r.sweeps.seconds.p95)}.`,
    );
  if (r.steadyAfterSeconds === undefined) lines.push('', 'The sweeps never all kept up before the window (measured anyway).');
  if (r.stages) lines.push('', ...stagesMarkdown(r.stages));
  if (r.undetected > 0)
    lines.push(
      '',
      `${r.undetected} injected failure(s) had no recovery run within 60 s; their supervisors said at the end: ${Object.entries(r.undetectedWhy)
        .map(([k, v]) => `${v}× ${k}`)
        .join('; ')}.`,
    );
  return lines;
}
