/** Shared helpers for tests that use real processes and the dev server `npm test` started. */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { processAdapter, runningProcess, startProcess, stopProcess } from '../domain/adapters/process';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { withHomeDefaults } from '../core/config';
import { DEFAULT_NAMESPACE, fleetLimiterWorkflowId, supervisorWorkflowId } from '../core/constants';
import { ProcessAdapterSchema, type Component, type Config, type ProcessAdapter } from '../core/schemas';
import type { SupervisorState } from '../core/supervision';
import { readSettings } from '../core/settings';
import { freePort } from '../scripts/ports';
import { TS_HOOK_ARGS } from '../workers/node-args';
import { GiveUp, waitFor } from '../scripts/wait-for';
import { startAlertSink, type Alert } from './alert-sink';
import type * as TemporalWorker from '@temporalio/worker';
import type * as Cli from '../cli/main';
import type * as MendWorker from '../workers/worker';

/*
 * Loaded when first used: the SDK's worker and the CLI are some 570 modules beyond what this file
 * needs itself, half a CPU-second to load in each test file's process, and many files use neither.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const temporalWorker = () => require('@temporalio/worker') as typeof TemporalWorker;
const cli = () => require('../cli/main') as typeof Cli;
const mendWorker = () => require('../workers/worker') as typeof MendWorker;
/* eslint-enable @typescript-eslint/no-require-imports */

export { GiveUp, waitFor };

export const ROOT = path.resolve(__dirname, '..');

/** The dev server and workflow bundle scripts/run-tests.ts prepared. */
export function sharedServer(): { address: string; bundle: string; temporalCli: string } {
  const address = process.env.MEND_TEST_TEMPORAL_ADDRESS;
  const bundle = process.env.MEND_WORKFLOW_BUNDLE;
  const temporalCli = process.env.TEMPORAL_CLI_PATH;
  if (!address || !bundle || !temporalCli)
    throw new Error('this test needs the shared dev server: run it through `npm test` (or `node --import tsx scripts/run-tests.ts <file>`)');
  return { address, bundle, temporalCli };
}

/**
 * A new folder for a test, inside the run's own folder (MEND_TEST_WORK, which scripts/run-tests.ts
 * removes after a passing run and keeps after a failing one), else in the system's temporary folder.
 */
export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(process.env.MEND_TEST_WORK ?? os.tmpdir(), `mend-${prefix}-`));
}

export function uniqueQueue(name: string): string {
  return `test-${name}-${process.pid}-${Date.now().toString(36)}`;
}

export interface DemoService {
  id: string;
  port: number;
  dependsOn?: string[];
  /** Replace the demo service with another argv (e.g. a command that exits at once). */
  command?: string[];
  timeout?: string;
  env?: Record<string, string>;
  /** Policy fields over the test defaults (immediate, timeout, validateInterval 100ms). */
  policy?: Record<string, unknown>;
  critical?: boolean;
  /** `state:` of the component, e.g. { paths: ['state/x.json'] } (relative to the config folder). */
  state?: Record<string, unknown>;
  /** `supervision:` of the component (group, interval, breaker, ...). */
  supervision?: Record<string, unknown>;
  /** Probe timeout (default 500ms). */
  probeTimeout?: string;
  /** `host:` of the component (the config then needs a `hosts:` list, e.g. in extraYaml). */
  host?: string;
}

/** Writes a config of demo services on free ports into `dir` and returns its path. */
export async function writeDemoConfig(
  dir: string,
  services: Array<Omit<DemoService, 'port'> & { port?: number }>,
  extraYaml = '',
): Promise<{ file: string; services: DemoService[] }> {
  const withPorts: DemoService[] = [];
  for (const s of services) withPorts.push({ ...s, port: s.port ?? (await freePort()) });
  const portOf = new Map(withPorts.map((s) => [s.id, s.port]));
  const lines = ['version: 1', withPorts.length ? 'components:' : 'components: []'];
  for (const s of withPorts) {
    const deps = (s.dependsOn ?? []).map((d) => `http://127.0.0.1:${portOf.get(d)}/healthz`).join(',');
    const command = s.command ?? ['node', path.join(ROOT, 'demo/service.js')];
    lines.push(
      `  - id: ${s.id}`,
      ...(s.host ? [`    host: ${s.host}`] : []),
      `    adapter:`,
      `      type: process`,
      `      command: ${JSON.stringify(command)}`,
      `      env: ${JSON.stringify({ MEND_DEMO_NAME: s.id, PORT: String(s.port), STATE_FILE: `state/${s.id}.json`, DEPENDS_ON: deps, ...s.env })}`,
      `      stopTimeout: 2s`,
      `    probe: { type: http, url: "http://127.0.0.1:${s.port}/healthz", timeout: ${s.probeTimeout ?? '500ms'} }`,
      `    dependsOn: ${JSON.stringify(s.dependsOn ?? [])}`,
      `    critical: ${s.critical === true}`,
      `    policy: ${JSON.stringify({ strategy: 'immediate', timeout: s.timeout ?? '15s', validateInterval: '100ms', ...s.policy })}`,
      ...(s.state ? [`    state: ${JSON.stringify(s.state)}`] : []),
      ...(s.supervision ? [`    supervision: ${JSON.stringify(s.supervision)}`] : []),
    );
  }
  const file = path.join(dir, 'mend.config.yaml');
  writeFileSync(file, lines.join('\n') + '\n' + extraYaml);
  return { file, services: withPorts };
}

/** How many times a demo service of writeDemoConfig(dir) has started (its state file counts). */
export function demoStarts(dir: string, id: string): number {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'state', `${id}.json`), 'utf8')) as { starts: number }).starts;
  } catch {
    return 0;
  }
}

export interface Spawned {
  proc: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns `node <TS_HOOK_ARGS> <script> [args]` (TypeScript loaded as mend's own processes load it) from the repo root, collecting its output; a plain
 * JavaScript script (demo/sink.js) with plain node, as its users run it.
 */
export function spawnTs(script: string, env: NodeJS.ProcessEnv, opts: { detached?: boolean; args?: string[] } = {}): Spawned {
  const loader = script.endsWith('.ts') ? TS_HOOK_ARGS : [];
  const proc = spawn(process.execPath, [...loader, path.join(ROOT, script), ...(opts.args ?? [])], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached,
  });
  const output: string[] = [];
  for (const stream of [proc.stdout!, proc.stderr!]) readline.createInterface({ input: stream }).on('line', (line) => output.push(line));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/**
 * Starts a real worker process on the shared server and waits until it polls. For tests that kill
 * their worker (or read its output); the others use startInProcessWorker.
 */
export async function startWorker(taskQueue: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Spawned> {
  const { address, bundle } = sharedServer();
  const worker = spawnTs('workers/main.ts', {
    ...process.env,
    MEND_TEMPORAL_ADDRESS: address,
    MEND_TASK_QUEUE: taskQueue,
    MEND_WORKFLOW_BUNDLE: bundle,
    ...extraEnv,
  });
  // Generous: on a loaded machine a worker can take long to start, and a slow start is not a failure.
  await waitFor(
    'worker to poll',
    120_000,
    () =>
      worker.output.some((l) => l.includes('worker polling')) ||
      (worker.proc.exitCode !== null && Promise.reject(new GiveUp(`worker exited: ${worker.output.join('\n')}`))),
  ).catch(async (err: Error) => {
    await worker.stop('SIGKILL'); // a worker left running would keep this test file from ever ending
    throw err;
  });
  return worker;
}

/**
 * The agent of `host` for a suite, sharing the suite's MEND_HOME (one machine here: the pid files a
 * test starts are the ones it reads), started and waited for until it polls.
 */
export async function startSuiteAgent(suite: RunbookSuite, host: string): Promise<Spawned> {
  const agent = spawnTs('workers/agent.ts', { ...process.env, ...suite.env, MEND_TEMPORAL_ADDRESS: sharedServer().address }, { args: ['--host', host] });
  await waitFor(
    'agent to poll',
    60_000,
    () => agent.output.some((l) => l.includes('agent polling')) || (agent.proc.exitCode !== null && Promise.reject(new GiveUp(agent.output.join('\n')))),
  ).catch(async (err: Error) => {
    await agent.stop('SIGKILL');
    throw err;
  });
  return agent;
}

export interface TestWorker {
  /** Drains the worker (in-flight activities finish or are cancelled) and closes its connection. */
  stop(): Promise<void>;
}

let workerRuntimeReady = false;

/**
 * The same worker as workers/main.ts builds (createMendWorker), run inside the test process: no
 * second node + tsx to start. Its logs below WARN are dropped, as a worker process's output was.
 */
export async function startInProcessWorker(taskQueue: string, stateDir = readSettings(process.env).MEND_HOME): Promise<TestWorker> {
  if (!workerRuntimeReady) {
    const { DefaultLogger, Runtime } = temporalWorker();
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // an in-process CLI command (runCli: mend runbook replay/test) installed it already (quieter still)
    }
    workerRuntimeReady = true;
  }
  const { address, bundle } = sharedServer();
  const shutdown = new AbortController();
  const { workers, connection, run } = await mendWorker().createMendWorker({
    address,
    namespace: DEFAULT_NAMESPACE,
    taskQueue,
    workflowBundlePath: bundle,
    activityDeps: { stateDir, shutdown: shutdown.signal },
  });
  const running = run();
  return {
    async stop() {
      shutdown.abort();
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.finally(() => connection.close());
    },
  };
}

/** What a runbook suite runs against: its config, a worker on its own queue, a client, and the CLI's env. */
export interface RunbookSuite<W extends TestWorker = TestWorker> {
  config: Config;
  worker: W;
  client: MendClient;
  /** Environment for `runCli`: the shared server, this queue, MEND_HOME in the suite's folder. */
  env: NodeJS.ProcessEnv;
  /** Stops the config's processes, the worker and the client. */
  stop(): Promise<void>;
}

/**
 * Loads `configFile` (state under `<dir>/.mend`), starts a worker on `queue` and connects a client.
 * The worker runs in this process unless `workerProcess` (for a test that kills it).
 */
export async function startRunbookSuite(dir: string, queue: string, configFile: string): Promise<RunbookSuite>;
export async function startRunbookSuite(dir: string, queue: string, configFile: string, opts: { workerProcess: true }): Promise<RunbookSuite<Spawned>>;
export async function startRunbookSuite(
  dir: string,
  queue: string,
  configFile: string,
  opts: { workerProcess?: boolean } = {},
): Promise<RunbookSuite<TestWorker>> {
  const home = path.join(dir, '.mend');
  const config = loadConfigFile(configFile, { stateDir: home });
  const worker = opts.workerProcess ? await startWorker(queue, { MEND_HOME: home }) : await startInProcessWorker(queue, home);
  const client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
  const suite: RunbookSuite<TestWorker> = {
    config,
    worker,
    client,
    env: { MEND_TEMPORAL_ADDRESS: sharedServer().address, MEND_TASK_QUEUE: queue, MEND_HOME: home },
    async stop() {
      // A component on another host has its pid file under its agent's MEND_HOME (here the suite's): stop it too.
      for (const c of config.components) if (c.adapter.type === 'process') await stopProcess(processAdapter(withHomeDefaults(c, home))).catch(() => undefined);
      // suite.worker, not worker: a test may have replaced a killed worker.
      await suite.worker.stop();
      await client.close();
    },
  };
  return suite;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a `mend` command line in this process: the CLI's own main(argv, env), its output captured
 * (see cliOutput below). Spawning node + tsx + the client for each of a hundred calls cost more
 * than the tests themselves; runMendBinary keeps a few smoke tests on the installed command.
 * Calls run one at a time (process.exitCode is how commands report failure): a test that needs
 * two commands at once, one waiting on the other, uses runMendBinary.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const run = cliQueue.then(() => {
    const captured = { stdout: '', stderr: '' };
    routeCliOutput();
    return cliOutput.run(captured, async () => {
      const code = await cli().main(['node', 'mend', ...args], { ...process.env, NO_COLOR: '1', ...env });
      return { code, ...captured };
    });
  });
  cliQueue = run.catch(() => undefined);
  return run;
}

let cliQueue: Promise<unknown> = Promise.resolve();

/** The output of the in-process CLI call whose async context this is. */
const cliOutput = new AsyncLocalStorage<{ stdout: string; stderr: string }>();
let cliOutputRouted = false;

/**
 * Writes to stdout/stderr made within a runCli call (console.log, commander's help and errors) go
 * to that call's result; every other write (the test runner's own reports) goes through as before.
 */
function routeCliOutput(): void {
  if (cliOutputRouted) return;
  cliOutputRouted = true;
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = process[name];
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const captured = cliOutput.getStore();
      if (!captured) return write(chunk, ...rest);
      captured[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      if (callback) process.nextTick(callback);
      return true;
    }) as typeof stream.write;
  }
}

/** Runs the installed `mend` command (bin/mend) in a child process, as a user would. */
export function runMendBinary(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    // Without the runner's NODE_TEST_CONTEXT: a `node --test` the command starts reports to it, not to this runner.
    const proc = spawn(path.join(ROOT, 'bin/mend'), args, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function httpStatus(url: string, timeoutMs = 1_000): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return undefined;
  }
}

/** With MEND_RECORD_HISTORIES=1, saves a run's history as a replay fixture for test/replay.test.ts. */
export function recordHistory(workflowId: string, runId: string, file: string): void {
  if (!process.env.MEND_RECORD_HISTORIES) return;
  const { address, temporalCli } = sharedServer();
  const json = execFileSync(temporalCli, ['workflow', 'show', '-w', workflowId, '-r', runId, '--address', address, '--output', 'json'], { encoding: 'utf8' });
  // The workflow id goes along: replaying a runbook that derives ids from it needs the real one.
  writeFileSync(path.join(__dirname, 'histories', file), JSON.stringify({ workflowId, ...(JSON.parse(json) as object) }, null, 2));
}

/**
 * Ends a suite of supervised components: its health schedules (of `groups`) deleted, the given
 * workflows (supervisors, recovery runs) terminated, then the suite stopped. Safe when `suite` never started.
 */
export async function stopSupervisedSuite(suite: RunbookSuite | undefined, queue: string, groups: string[], workflowIds: string[]): Promise<void> {
  if (!suite) return;
  await deleteHealthSchedules(
    suite.client,
    queue,
    groups.map((g) => `mend/health/${g}`),
  );
  for (const wf of workflowIds)
    await suite.client.temporal.workflow
      .getHandle(wf)
      .terminate('test over')
      .catch(() => undefined);
  await suite.stop();
}

/** The URL an http-probed component is probed at ('' for other probes). */
export function probeUrlOf(c: Component): string {
  return c.probe.type === 'http' ? c.probe.url : '';
}

/**
 * Starts every process of the suite's config (those on other hosts too, as their agent would, with the suite's MEND_HOME), waits until each answers its probe, creates the
 * health schedules and waits until every supervisor has seen its component healthy: the set-up of
 * every supervision test, before it breaks something.
 */
export async function superviseRunning(suite: RunbookSuite, healthyWithinMs = 30_000): Promise<void> {
  const components = suite.config.components;
  // A component on another host has its pid file under its agent's MEND_HOME: here the suite's.
  await Promise.all(components.map((c) => startProcess(processAdapter(withHomeDefaults(c, suite.env.MEND_HOME!)))));
  for (const c of components) await waitFor(`${c.id} healthy`, healthyWithinMs, async () => (await httpStatus(probeUrlOf(c))) === 200);
  await reconcileSchedules(suite.client, suite.config);
  for (const c of components)
    await waitFor(`supervisor of ${c.id} sees it healthy`, 60_000, async () => (await supervisorState(suite.client, c.id))?.health === 'healthy');
}

/**
 * The central side of a multi-host test: an in-process worker on `queue` (state in `stateDir`) and
 * a client; then `components` started in order (dependencies first), each by a manual immediate
 * recovery run, which runs on its host's queue (the agents must be up), and waited for.
 */
export async function startCentral(queue: string, stateDir: string, components: Component[]): Promise<{ worker: TestWorker; client: MendClient }> {
  const worker = await startInProcessWorker(queue, stateDir);
  const client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
  for (const component of components) {
    const run = await client.startRecovery({ strategy: 'immediate', component, trigger: 'manual', requestedBy: 'test' });
    assert.equal((await client.result(run.workflowId, run.runId)).outcome, 'recovered', `${component.id} started`);
  }
  return { worker, client };
}

/** Three slow-starting demo services under a fleet cap of 1, running and watched by their supervisors. */
export interface CappedFleet {
  suite: RunbookSuite;
  queue: string;
  /** Deletes the health schedule, ends the supervisors and the fleet limiter, stops the suite. */
  stop(): Promise<void>;
}

/**
 * The fleet-cap tests' setup: services `a-`, `b-`, `c-<suffix>` whose starts take 1.5 s each (so
 * overlapping recoveries, or waits for a permit, cannot go unnoticed), `maxConcurrentRecoveries: 1`,
 * started, healthy, and seen healthy by their supervisors (health sweep every `interval`).
 */
export async function startCappedFleet(name: string, interval: string): Promise<CappedFleet> {
  const dir = tempDir(name);
  const queue = uniqueQueue(name);
  const suffix = Date.now().toString(36);
  const group = `${name}-${suffix}`;
  // The fleet limiter's path (a restart in place would leave it out): test/supervisor-watch-restart.test.ts covers that one.
  const supervision = { group, interval, startupGrace: '0s', restartInPlace: false };
  const command = ['sh', '-c', `sleep 1.5; exec node ${JSON.stringify(path.join(ROOT, 'demo/service.js'))}`];
  const { file } = await writeDemoConfig(
    dir,
    ['a', 'b', 'c'].map((n) => ({ id: `${n}-${suffix}`, command, supervision, timeout: '20s' })),
    'supervision:\n  maxConcurrentRecoveries: 1\n',
  );
  const suite = await startRunbookSuite(dir, queue, file);
  const stop = () =>
    stopSupervisedSuite(suite, queue, [group], [...suite.config.components.map((c) => supervisorWorkflowId(c.id)), fleetLimiterWorkflowId(queue)]);
  try {
    await superviseRunning(suite);
  } catch (err) {
    await stop();
    throw err;
  }
  return { suite, queue, stop };
}

/** One supervised demo service with a circuit breaker, alerting to a webhook of the test's own. */
export interface BreakerSuite {
  suite: RunbookSuite;
  /** The component's id. */
  id: string;
  /** The config file (for `runCli`'s MEND_CONFIG) and its folder (for demoStarts). */
  configFile: string;
  dir: string;
  /** Every alert the supervisor posted, in order. */
  alerts: Alert[];
  state(): Promise<SupervisorState>;
  url(): string;
  killService(): Promise<void>;
  /**
   * Kills the service until its breaker opens: `allowed` recoveries the breaker still lets through
   * (each waited for, healthy again; with `settled`, until it counts as succeeded: healthy for the
   * relapse window, not relapsed), then one more kill; the service is left down. Returns the open state.
   */
  tripBreaker(allowed: number, opts?: { settled?: boolean }): Promise<SupervisorState>;
  /** Deletes the health schedule, ends the supervisor, stops the suite and the webhook. */
  stop(): Promise<void>;
}

/**
 * The breaker tests' setup: `<name>-<suffix>` restarted after 100 ms, swept every second, with
 * `breaker` as its circuit breaker, running and seen healthy by its supervisor.
 */
export async function startBreakerSuite(name: string, breaker: Record<string, unknown>): Promise<BreakerSuite> {
  const dir = tempDir(name);
  const queue = uniqueQueue(name);
  const suffix = Date.now().toString(36);
  const group = `${name}-${suffix}`;
  const id = `${name}-svc-${suffix}`;
  const hook = await startAlertSink();
  const supervision = { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '100ms' }, breaker };
  const { file } = await writeDemoConfig(dir, [{ id, supervision }], `supervision:\n  notify: { webhook: "${hook.url}" }\n`);
  const suite = await startRunbookSuite(dir, queue, file).catch((err: Error) => {
    hook.close();
    throw err;
  });
  const component = suite.config.components[0]!;
  const url = () => probeUrlOf(component);
  const state = async () => (await supervisorState(suite.client, id)) as SupervisorState;
  const killService = async () => {
    process.kill((await runningProcess(processAdapter(component)))!.pid, 'SIGKILL');
  };
  const b: BreakerSuite = {
    suite,
    id,
    configFile: file,
    dir,
    alerts: hook.alerts,
    state,
    url,
    killService,
    async tripBreaker(allowed, opts = {}) {
      for (let n = 0; n < allowed; n++) {
        const { stats } = await state();
        await killService();
        await waitFor('a recovery the breaker still allows', 60_000, async () => {
          const s = await state();
          const done = opts.settled ? s.stats.succeeded > stats.succeeded : s.stats.attempted > stats.attempted;
          return done && s.current === undefined && s.health === 'healthy' && (await httpStatus(url())) === 200;
        });
      }
      await killService();
      return waitFor('breaker open', 30_000, async () => {
        const s = await state();
        return s.breaker.state === 'open' && s;
      });
    },
    async stop() {
      await stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id)]);
      hook.close();
    },
  };
  try {
    await superviseRunning(suite);
  } catch (err) {
    await b.stop();
    throw err;
  }
  return b;
}

/** A demo service as a `process` adapter of its own in `dir` (pid file, log, state), and its health URL. */
export async function demoProcessAdapter(dir: string, name: string): Promise<{ adapter: ProcessAdapter; url: string }> {
  const port = await freePort();
  const adapter = ProcessAdapterSchema.parse({
    type: 'process',
    command: ['node', path.join(ROOT, 'demo/service.js')],
    env: { MEND_DEMO_NAME: name, PORT: String(port), STATE_FILE: path.join(dir, `${name}.json`) },
    stopTimeout: '2s',
  });
  return {
    adapter: { ...adapter, cwd: dir, pidFile: path.join(dir, `${name}.pid`), logFile: path.join(dir, `${name}.log`) },
    url: `http://127.0.0.1:${port}/healthz`,
  };
}
