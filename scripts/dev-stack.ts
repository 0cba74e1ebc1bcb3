/**
 * `npm start`: the embedded default stack. Temporal dev server (SQLite under MEND_HOME, Web UI),
 * the config's `process` components (the demo fleet with the repo's mend.config.yaml), a worker
 * and the API. A worker or API that dies is started again (with a backoff); Ctrl-C (SIGINT),
 * SIGTERM or SIGHUP stops everything it started (the process components too, unless
 * MEND_COMPONENTS_ON_EXIT=leave).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MendClient } from '../client';
import { BacklogControl } from '../client/backlog';
import { loadConfigFile } from '../client/config';
import { reconcileSchedules } from '../client/schedules';
import { topologicalLevels } from '../core/graph';
import { DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE } from '../core/constants';
import { readSettings, type Settings } from '../core/settings';
import type { Component, Config, Spool } from '../core/schemas';
import { startProcess, stopProcess, processAdapter } from '../domain/adapters/process';
import { probeComponent } from '../domain/probes';
import { ensureTemporal } from './ensure-temporal';
import { startDevServer, type DevServer } from './temporal-server';
import { portInUse } from './ports';
import { RestartingChild } from './restarting-child';

const ROOT = path.resolve(__dirname, '..');

/** A path as the user would type it from here: relative below the working directory, else absolute. */
function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function say(line: string): void {
  process.stdout.write(`[mend] ${line}\n`);
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not ready after ${Math.round(timeoutMs / 1000)}s`);
}

interface FleetStart {
  started: string[];
  alreadyRunning: string[];
  /** Components that did not start or answer healthy in time, with why: their supervisors take over. */
  unhealthy: string[];
}

/** Starts the process components that are not running, dependencies first, and waits until each is healthy. */
async function startFleet(components: Component[], label: string): Promise<FleetStart> {
  const byId = new Map(components.map((c) => [c.id, c]));
  const result: FleetStart = { started: [], alreadyRunning: [], unhealthy: [] };
  for (const level of topologicalLevels(components)) {
    await Promise.all(
      level.map(async (id) => {
        const component = byId.get(id)!;
        try {
          const { started, pid } = await startProcess(processAdapter(component), { startedBy: 'npm start' });
          (started ? result.started : result.alreadyRunning).push(id);
          // A start is given as long as its own recovery policy allows, and at least 20s.
          await waitUntil(`${label} ${id}`, Math.max(20_000, component.policy.timeout), async () => (await probeComponent(component)).healthy);
          say(`${label} ${id.padEnd(8)} ${started ? 'started' : 'already running'} (pid ${pid}), healthy`);
        } catch (err) {
          // Not fatal: a component that does not come up is what mend is for; its supervisor (if any) recovers it.
          result.unhealthy.push(id);
          say(`${label} ${id}: ${(err as Error).message}`);
        }
      }),
    );
  }
  return result;
}

async function stopFleet(components: Component[]): Promise<void> {
  const levels = topologicalLevels(components).reverse();
  const byId = new Map(components.map((c) => [c.id, c]));
  for (const level of levels) {
    await Promise.all(level.map((id) => stopProcess(processAdapter(byId.get(id)!)).catch((err: Error) => say(`stopping ${id}: ${err.message}`))));
  }
}

/** Starts (or hands the current config to) the replay entity of every configured spool. */
async function startBacklogReplays(address: string, namespace: string, taskQueue: string, spools: Spool[]): Promise<void> {
  if (spools.length === 0) return;
  const client = await MendClient.connect({ address, namespace, taskQueue });
  try {
    const control = new BacklogControl(client);
    for (const spool of spools) await control.ensure(spool);
  } finally {
    await client.close();
  }
}

/** Reconciles the health schedules of `config` (one per check group); says what is watched. */
async function watchFleet(config: Config, opts: { address: string; namespace: string; taskQueue: string }): Promise<string> {
  const client = await MendClient.connect(opts);
  try {
    const result = await reconcileSchedules(client, config);
    const changes = [
      `${result.created.length} created`,
      `${result.updated.length} updated`,
      `${result.deleted.length} deleted`,
      `${result.unchanged.length} unchanged`,
      `${result.retired.length} supervisor(s) retired`,
    ];
    say(`health schedules reconciled: ${changes.join(', ')}`);
    const watched = config.components.filter((c) => c.supervision.enabled);
    return watched.length > 0
      ? `${watched.map((c) => c.id).join(', ')}  (health schedules: mend/health/<group>)`
      : 'nothing (supervision disabled for every component)';
  } finally {
    await client.close();
  }
}

/** The repo's own demo config: only then are the demo fleet and its hints what the banner shows. */
const DEMO_CONFIG = path.join(ROOT, 'mend.config.yaml');

/**
 * The stack's own processes (itself, the Temporal server, the worker and the API) in
 * `<MEND_HOME>/run/dev-stack.json`, rewritten when a child is restarted, removed at exit.
 */
class StackPids {
  private readonly pids: Record<string, number> = { stack: process.pid };
  constructor(private readonly file: string) {}

  set(name: string, pid: number): void {
    this.pids[name] = pid;
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.pids) + '\n');
    renameSync(tmp, this.file);
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}

/** "1 process component started: svc", "3 process components (2 started, 1 already running): a, b, c". */
function fleetSummary(fleet: Component[], start: FleetStart): string {
  const n = fleet.length;
  if (n === 0) return 'no process components in this config';
  const noun = `${n} process component${n === 1 ? '' : 's'}`;
  const parts = [
    start.started.length > 0 && `${start.started.length} started`,
    start.alreadyRunning.length > 0 && `${start.alreadyRunning.length} already running`,
  ].filter((p): p is string => Boolean(p));
  const ids = fleet.map((c) => c.id).join(', ');
  const how =
    start.started.length === n ? ' started' : start.alreadyRunning.length === n ? ' already running' : parts.length > 0 ? ` (${parts.join(', ')})` : '';
  const unhealthy = start.unhealthy.length > 0 ? `; not healthy yet: ${start.unhealthy.join(', ')}` : '';
  return `${noun}${how}: ${ids}${unhealthy}`;
}

/** The settings a `mend` command in another shell needs to reach this stack, where they differ from its defaults. */
function cliExports(settings: Settings, configFile: string, home: string, address: string): string[] {
  const vars: string[] = [];
  if (configFile !== DEMO_CONFIG) vars.push(`MEND_CONFIG=${configFile}`);
  if (home !== path.join(ROOT, '.mend')) vars.push(`MEND_HOME=${home}`);
  if (address !== '127.0.0.1:7233') vars.push(`MEND_TEMPORAL_ADDRESS=${address}`);
  if (settings.MEND_NAMESPACE !== DEFAULT_NAMESPACE) vars.push(`MEND_NAMESPACE=${settings.MEND_NAMESPACE}`);
  if (settings.MEND_TASK_QUEUE !== DEFAULT_TASK_QUEUE) vars.push(`MEND_TASK_QUEUE=${settings.MEND_TASK_QUEUE}`);
  return vars.map((v) => (/\s/.test(v) ? JSON.stringify(v) : v));
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const home = path.resolve(settings.MEND_HOME);
  const configFile = path.resolve(settings.MEND_CONFIG);
  const config = loadConfigFile(configFile, { stateDir: home });
  const demo = configFile === DEMO_CONFIG;
  const label = demo ? 'demo' : 'component';
  const fleet = config.components.filter((c) => c.adapter.type === 'process');
  const leaveComponents = settings.MEND_COMPONENTS_ON_EXIT === 'leave';

  const ports: Array<[number | undefined, string]> = [
    [settings.MEND_API_PORT, 'MEND_API_PORT'],
    [settings.MEND_TEMPORAL_PORT, 'MEND_TEMPORAL_PORT'],
    [settings.MEND_UI_PORT, 'MEND_UI_PORT'],
    [settings.MEND_TEMPORAL_HTTP_PORT, 'MEND_TEMPORAL_HTTP_PORT'],
    [settings.MEND_TEMPORAL_METRICS_PORT, 'MEND_TEMPORAL_METRICS_PORT'],
  ];
  for (const [port, variable] of ports) {
    if (port !== undefined && (await portInUse(port)))
      throw new Error(`port ${port} is already in use (is another mend stack running? set ${variable} to use another port)`);
  }

  let server: DevServer | undefined;
  const children: RestartingChild[] = [];
  const pids = new StackPids(path.join(home, 'run', 'dev-stack.json'));
  let stopping: Promise<void> | undefined;
  const shutdown = (why: string, code: number) => {
    stopping ??= (async () => {
      say(`${why}: stopping ...`);
      // Worker and API first (so no supervisor restarts a component being stopped), then the
      // process components; the Temporal server last, so the worker drains cleanly.
      await Promise.all(children.map((child) => child.stop()));
      if (!leaveComponents) await stopFleet(fleet);
      await server?.stop();
      pids.remove();
      if (leaveComponents && fleet.length > 0)
        say(`stopped; process components left running (MEND_COMPONENTS_ON_EXIT=leave): ${fleet.map((c) => c.id).join(', ')}`);
      else say('stopped; nothing left running');
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal, 0));

  try {
    const binary = await ensureTemporal({ log: (line) => say(line) });
    const dbFile = path.join(home, 'temporal.db');
    say(`starting Temporal dev server (${binary.version.replace(/^temporal version /, '')}), database ${shown(dbFile)}`);
    server = await startDevServer({
      binary: binary.path,
      port: settings.MEND_TEMPORAL_PORT,
      uiPort: settings.MEND_UI_PORT,
      httpPort: settings.MEND_TEMPORAL_HTTP_PORT,
      metricsPort: settings.MEND_TEMPORAL_METRICS_PORT,
      dbFile,
      logFile: path.join(home, 'log', 'temporal.log'),
      avoidPorts: [settings.MEND_API_PORT],
      ownProcessGroup: true, // a Ctrl-C reaches the worker and API, not the server: stopped last (above)
    });
    pids.set('temporal', server.pid);
    // Nothing here can run without the server: it going away is the one fault that stops the stack.
    server.child.once('exit', (code, signal) => {
      if (!stopping)
        void shutdown(`Temporal server exited (${signal ? `signal ${signal}` : `code ${code}`}; its log: ${path.join(home, 'log', 'temporal.log')})`, 1);
    });
    if (stopping) return;
    say(
      `config ${shown(configFile)}: ${fleet.length === 0 ? 'no process components to start' : `starting its ${demo ? 'demo services' : 'process components'} that are not running`}`,
    );
    const fleetStart = await startFleet(fleet, label);
    if (stopping) return;

    // A fresh admin token per start, added to any the operator configured; kept in MEND_HOME for curl and scripts.
    const adminToken = randomBytes(32).toString('base64url');
    const tokenFile = path.join(home, 'api-token');
    mkdirSync(home, { recursive: true });
    writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
    const tokens = [settings.MEND_TOKENS, `dev-admin=${adminToken}:admin`].filter(Boolean).join(' ');
    const env = {
      ...process.env,
      MEND_CONFIG: configFile,
      MEND_TEMPORAL_ADDRESS: server.address,
      MEND_HOME: home,
      MEND_UI_URL: server.uiUrl ?? settings.MEND_UI_URL,
      MEND_TOKENS: tokens,
    };
    // During start-up a child that exits is a broken setup: stop and say so. Once up, it is restarted.
    const common = {
      output: (line: string) => process.stdout.write(`${line}\n`),
      log: say,
      onFatalExit: (why: string) => void shutdown(`${why} during start-up`, 1),
    };
    // The stack reconciles schedules and starts backlog replays itself (below), and says what it did.
    children.push(
      new RestartingChild({ ...common, name: 'worker', script: 'workers/main.ts', env, onStart: (pid) => pids.set('worker', pid) }),
      new RestartingChild({
        ...common,
        name: 'api',
        script: 'api/main.ts',
        env: { ...env, MEND_SYNC_ON_START: 'false' },
        onStart: (pid) => pids.set('api', pid),
      }),
    );
    const apiUrl = `http://${settings.MEND_API_HOST}:${settings.MEND_API_PORT}`;
    await waitUntil('API', 60_000, async () => (await fetch(`${apiUrl}/readyz`)).ok);
    if (stopping) return;
    const watched = await watchFleet(config, { address: server.address, namespace: settings.MEND_NAMESPACE, taskQueue: settings.MEND_TASK_QUEUE });
    if (stopping) return;
    await startBacklogReplays(server.address, settings.MEND_NAMESPACE, settings.MEND_TASK_QUEUE, config.spools);
    if (stopping) return;
    for (const child of children) child.restarts = true;

    const exportsNeeded = cliExports(settings, configFile, home, server.address);
    say('');
    say('mend is up:');
    say(`  config           ${shown(configFile)}${demo ? '  (the demo config)' : ''}`);
    say(`  Temporal Web UI  ${server.uiUrl}`);
    say(`  API              ${apiUrl}  (docs: ${apiUrl}/docs)`);
    say(`  fleet page       ${apiUrl}/ui  (sign in with the token printed below)`);
    say(`  API admin token  ${adminToken}`);
    say(`                   (also in ${shown(tokenFile)}; curl -H "Authorization: Bearer $(cat ${shown(tokenFile)})" ${apiUrl}/v1/components)`);
    say(
      `  Temporal         ${server.address}  (namespace ${settings.MEND_NAMESPACE}); HTTP API http://127.0.0.1:${server.httpPort}, metrics http://127.0.0.1:${server.metricsPort}/metrics`,
    );
    const logs = `(logs in ${shown(path.join(home, 'log'))}/)`;
    if (demo) say(`  demo fleet       ${fleet.map((c) => c.id).join(', ')}  ${logs}`);
    else say(`  components       ${fleetSummary(fleet, fleetStart)}${fleet.length > 0 ? `  ${logs}` : ''}`);
    if (fleet.length > 0)
      say(
        `  at exit          ${leaveComponents ? 'process components are left running (MEND_COMPONENTS_ON_EXIT=leave)' : 'process components are stopped (MEND_COMPONENTS_ON_EXIT=leave keeps them running)'}`,
      );
    say(`  supervised       ${watched}`);
    if (config.spools.length > 0) say(`  backlog replay   ${config.spools.map((s) => s.name).join(', ')}  (mend backlog status)`);
    if (exportsNeeded.length > 0) say(`For mend commands in another shell: export ${exportsNeeded.join(' ')}`);
    if (demo) {
      say('Break a demo service and watch mend mend it:');
      say('  npm run demo:break -- api        # SIGKILL the api process: its supervisor restarts it');
      say('  npx mend stats                   # recoveries, MTTR, breakers; `npx mend schedules` lists the health checks');
      say('  npx mend run immediate api       # or recover by hand; watch the runs in the Web UI');
    } else if (config.components.length > 0) {
      const first = config.components[0]!.id;
      say('Try:');
      say('  npx mend components              # health, breaker and running recovery of each component');
      say(`  npx mend check ${first.padEnd(17)} # probe it now`);
      say(`  npx mend run immediate ${first.padEnd(9)} # recover it by hand; watch the run in the Web UI`);
      say('  npx mend stats                   # recoveries, MTTR, breakers');
    }
    say(`Ctrl-C stops ${leaveComponents ? 'the stack (the process components keep running)' : 'everything'}; a worker or API that dies is restarted.`);
  } catch (err) {
    say(`start-up failed: ${(err as Error).message}`);
    await shutdown('start-up failed', 1);
  }
}

void main().catch((err: Error) => {
  process.stderr.write(`mend: ${err.message}\n`);
  process.exit(1);
});
