/**
 * `npm start`: the embedded default stack. Temporal dev server (SQLite under MEND_HOME, Web UI),
 * the demo fleet, a worker and the API. Ctrl-C (SIGINT) or SIGTERM stops everything it started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { MendClient } from '../client';
import { BacklogControl } from '../client/backlog';
import { loadConfigFile } from '../client/config';
import { reconcileSchedules } from '../client/schedules';
import { topologicalLevels } from '../core/graph';
import { readSettings } from '../core/settings';
import type { Component, Config, Spool } from '../core/schemas';
import { startProcess, stopProcess, processAdapter } from '../activities/adapters/process';
import { probeComponent } from '../activities/probes';
import { ensureTemporal } from './ensure-temporal';
import { startDevServer, type DevServer } from './temporal-server';
import { portInUse } from './ports';

const ROOT = path.resolve(__dirname, '..');

function say(line: string): void {
  process.stdout.write(`[mend] ${line}\n`);
}

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
}

function startChild(name: string, script: string, env: NodeJS.ProcessEnv): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [proc.stdout, proc.stderr]) {
    readline.createInterface({ input: stream! }).on('line', (line) => process.stdout.write(`[${name}] ${line}\n`));
  }
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { name, proc, exited };
}

async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 15_000);
  await child.exited;
  clearTimeout(timer);
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not ready after ${Math.round(timeoutMs / 1000)}s`);
}

async function startFleet(components: Component[]): Promise<void> {
  const byId = new Map(components.map((c) => [c.id, c]));
  for (const level of topologicalLevels(components)) {
    await Promise.all(
      level.map(async (id) => {
        const component = byId.get(id)!;
        const { started, pid } = await startProcess(processAdapter(component));
        await waitUntil(`demo component ${id}`, 20_000, async () => (await probeComponent(component)).healthy);
        say(`demo ${id.padEnd(8)} ${started ? 'started' : 'already running'} (pid ${pid}), healthy`);
      }),
    );
  }
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
    const changes = [`${result.created.length} created`, `${result.updated.length} updated`, `${result.deleted.length} deleted`, `${result.unchanged.length} unchanged`, `${result.retired.length} supervisor(s) retired`];
    say(`health schedules reconciled: ${changes.join(', ')}`);
    const watched = config.components.filter((c) => c.supervision.enabled);
    return watched.length > 0 ? `${watched.map((c) => c.id).join(', ')}  (health schedules: mend/health/<group>)` : 'nothing (supervision disabled for every component)';
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const home = path.resolve(settings.MEND_HOME);
  const config = loadConfigFile(settings.MEND_CONFIG, { stateDir: home });
  const fleet = config.components.filter((c) => c.adapter.type === 'process');

  for (const [port, variable] of [
    [settings.MEND_API_PORT, 'MEND_API_PORT'],
    [settings.MEND_TEMPORAL_PORT, 'MEND_TEMPORAL_PORT'],
    [settings.MEND_UI_PORT, 'MEND_UI_PORT'],
  ] as const) {
    if (await portInUse(port)) throw new Error(`port ${port} is already in use (is another mend stack running? set ${variable} to use another port)`);
  }

  let server: DevServer | undefined;
  const children: Child[] = [];
  let stopping: Promise<void> | undefined;
  const shutdown = (why: string, code: number) => {
    stopping ??= (async () => {
      say(`${why}: stopping ...`);
      // Worker and API first (so no supervisor restarts a demo service being stopped), then the
      // demo fleet; the Temporal server last, so the worker drains cleanly.
      await Promise.all(children.map(stopChild));
      await stopFleet(fleet);
      await server?.stop();
      say('stopped; nothing left running');
      process.exit(code);
    })();
    return stopping;
  };
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));

  try {
    const binary = await ensureTemporal({ log: (line) => say(line) });
    const dbFile = path.join(home, 'temporal.db');
    say(`starting Temporal dev server (${binary.version.replace(/^temporal version /, '')}), database ${path.relative(process.cwd(), dbFile)}`);
    server = await startDevServer({
      binary: binary.path,
      port: settings.MEND_TEMPORAL_PORT,
      uiPort: settings.MEND_UI_PORT,
      dbFile,
      logFile: path.join(home, 'log', 'temporal.log'),
      avoidPorts: [settings.MEND_API_PORT],
    });
    if (stopping) return;
    await startFleet(fleet);

    // A fresh admin token per start, added to any the operator configured; kept in MEND_HOME for curl and scripts.
    const adminToken = randomBytes(32).toString('base64url');
    const tokenFile = path.join(home, 'api-token');
    mkdirSync(home, { recursive: true });
    writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
    chmodSync(tokenFile, 0o600);
    const tokens = [settings.MEND_TOKENS, `dev-admin=${adminToken}:admin`].filter(Boolean).join(' ');
    const env = { ...process.env, MEND_TEMPORAL_ADDRESS: server.address, MEND_HOME: home, MEND_UI_URL: server.uiUrl ?? settings.MEND_UI_URL, MEND_TOKENS: tokens };
    // The stack reconciles schedules and starts backlog replays itself (below), and says what it did.
    children.push(startChild('worker', 'workers/main.ts', env), startChild('api', 'api/main.ts', { ...env, MEND_SYNC_ON_START: 'false' }));
    for (const child of children) {
      void child.exited.then(() => {
        if (!stopping) void shutdown(`${child.name} exited unexpectedly (code ${child.proc.exitCode ?? child.proc.signalCode})`, 1);
      });
    }
    const apiUrl = `http://${settings.MEND_API_HOST}:${settings.MEND_API_PORT}`;
    await waitUntil('API', 60_000, async () => (await fetch(`${apiUrl}/readyz`)).ok);
    if (stopping) return;
    const watched = await watchFleet(config, { address: server.address, namespace: settings.MEND_NAMESPACE, taskQueue: settings.MEND_TASK_QUEUE });
    if (stopping) return;
    await startBacklogReplays(server.address, settings.MEND_NAMESPACE, settings.MEND_TASK_QUEUE, config.spools);
    if (stopping) return;
    say('');
    say('mend is up:');
    say(`  Temporal Web UI  ${server.uiUrl}`);
    say(`  API              ${apiUrl}  (docs: ${apiUrl}/docs)`);
    say(`  API admin token  ${adminToken}`);
    say(`                   (also in ${path.relative(process.cwd(), tokenFile)}; curl -H "Authorization: Bearer $(cat ${path.relative(process.cwd(), tokenFile)})" ${apiUrl}/v1/components)`);
    say(`  Temporal         ${server.address}  (namespace ${settings.MEND_NAMESPACE})`);
    say(`  demo fleet       ${fleet.map((c) => c.id).join(', ')}  (logs in ${path.relative(process.cwd(), path.join(home, 'log'))}/)`);
    say(`  supervised       ${watched}`);
    if (config.spools.length > 0) say(`  backlog replay   ${config.spools.map((s) => s.name).join(', ')}  (mend backlog status)`);
    say('Break a demo service and watch mend mend it:');
    say('  npm run demo:break -- api        # SIGKILL the api process: its supervisor restarts it');
    say('  npx mend stats                   # recoveries, MTTR, breakers; `npx mend schedules` lists the health checks');
    say('  npx mend run immediate api       # or recover by hand; watch the runs in the Web UI');
    say('Ctrl-C stops everything.');
  } catch (err) {
    say(`start-up failed: ${(err as Error).message}`);
    await shutdown('start-up failed', 1);
  }
}

void main().catch((err: Error) => {
  process.stderr.write(`mend: ${err.message}\n`);
  process.exit(1);
});
