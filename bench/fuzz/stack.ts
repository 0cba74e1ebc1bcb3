/**
 * The fuzz run's own stack, the way the tests and `npm start` build theirs: a headless dev server
 * on a throwaway SQLite file, the config's demo processes, a worker process and an API process
 * (api/main.ts) with a tokens file, all on free ports in a temp folder. `stop()` ends every one of
 * them (process groups), and is safe to call twice (Ctrl-C during start-up).
 *
 * The config holds two sets of targets (see targets.ts): `fzv-*`, which clean requests may act on
 * (demo services that are fine to restart), and `fzj-*`, which only bad requests are sent at and
 * which must never change. Both have a live run waiting for an approval, a backlog entity, a
 * health schedule (1h, so it does not fire by itself during a run), a saga and a drill.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MendClient } from '../../client';
import { BacklogControl } from '../../client/backlog';
import { loadConfigFile } from '../../client/config';
import { reconcileSchedules } from '../../client/schedules';
import { generateToken } from '../../api/auth';
import { recoveryWorkflowId } from '../../core/constants';
import type { Config } from '../../core/schemas';
import { processAdapter, startProcess, stopProcess } from '../../domain/adapters/process';
import { probeComponent } from '../../domain/probes';
import { ensureTemporal } from '../../scripts/ensure-temporal';
import { freePort } from '../../scripts/ports';
import { startDevServer, type DevServer } from '../../scripts/temporal-server';
import { ROOT, sleep, stopGroup, waitUntil } from '../lib/util';
import type { HeapProbe } from './heap-probe';
import { T } from './targets';

export const TASK_QUEUE = 'fuzz';

export type TokenName = 'none' | 'viewer' | 'operator' | 'admin' | 'scoped';

export interface FuzzStack {
  dir: string;
  config: Config;
  client: MendClient;
  apiUrl: URL;
  apiPid: number;
  api: ChildProcess;
  tokens: Record<Exclude<TokenName, 'none'>, string>;
  temporalVersion: string;
  /** A full garbage collection in the API process, then its heap and RSS (heap-probe.ts). */
  probeHeap(): Promise<HeapProbe>;
  stop(): Promise<void>;
}

export interface FuzzStackOptions {
  /** A folder for a heap snapshot of the API process at every probe (for finding what a leak holds). */
  heapSnapshots?: string;
}

function configYaml(ports: Record<string, number>, sinkPort: number): string {
  const service = (id: string, extra: string[]) => [
    `  - id: ${id}`,
    `    adapter:`,
    `      type: process`,
    `      command: ${JSON.stringify(['node', path.join(ROOT, 'demo/service.js')])}`,
    `      env: ${JSON.stringify({ MEND_DEMO_NAME: id, PORT: String(ports[id]), STATE_FILE: `state/${id}.json` })}`,
    `      stopTimeout: 2s`,
    `    probe: { type: http, url: "http://127.0.0.1:${ports[id]}/healthz", timeout: 1s }`,
    ...extra,
  ];
  const spool = (name: string) => `  - ${JSON.stringify({ name, dir: `spool/${name}`, sink: { url: `http://127.0.0.1:${sinkPort}`, timeout: '1s' } })}`;
  const saga = (name: string, component: string) => [
    `  - name: ${name}`,
    `    steps:`,
    `      - name: check`,
    `        action: { type: component, component: ${component}, op: validate }`,
  ];
  return [
    'version: 1',
    // A host with no component: a clean drain of it holds nothing; `local` (both sets) is only sent bad requests.
    'hosts:',
    `  - { id: ${T.v.host} }`,
    `  - { id: local }`,
    'components:',
    ...service(T.v.svc, [`    policy: { strategy: immediate, timeout: 20s }`, `    supervision: { group: ${T.v.group}, interval: 1h }`]),
    ...service(T.v.gate, [`    policy: { strategy: emergency-reset, approvalTimeout: 1h, timeout: 20s }`, `    supervision: { enabled: false }`]),
    ...service(T.j.svc, [`    policy: { strategy: immediate, timeout: 20s }`, `    supervision: { group: ${T.j.group}, interval: 1h }`]),
    ...service(T.j.gate, [`    policy: { strategy: emergency-reset, approvalTimeout: 1h, timeout: 20s }`, `    supervision: { enabled: false }`]),
    'spools:',
    spool(T.v.spool),
    spool(T.j.spool),
    'sagas:',
    ...saga(T.v.saga, T.v.svc),
    ...saga(T.j.saga, T.j.svc),
    'drills:',
    `  - { name: ${T.v.drill}, component: ${T.v.svc}, fault: crash }`,
    `  - { name: ${T.j.drill}, component: ${T.j.svc}, fault: crash }`,
    '',
  ].join('\n');
}

/** Brings the stack up in `dir`; `log` gets one line per step. */
export async function startFuzzStack(dir: string, log: (line: string) => void, aborted: () => boolean, options: FuzzStackOptions = {}): Promise<FuzzStack> {
  const home = path.join(dir, '.mend');
  mkdirSync(home, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of cleanups.reverse()) await c().catch((err: Error) => log(`cleanup: ${err.message}`));
  };
  const step = () => {
    if (aborted()) throw new Error('interrupted');
  };
  try {
    const binary = await ensureTemporal({ log });
    step();
    const server: DevServer = await startDevServer({
      binary: binary.path,
      uiPort: false,
      dbFile: path.join(dir, 'temporal.db'),
      fastSqlite: true,
      logFile: path.join(dir, 'temporal.log'),
    });
    cleanups.push(() => server.stop());
    log(`dev server ${server.address} (pid ${server.pid})`);
    step();

    const ports: Record<string, number> = {};
    for (const id of [T.v.svc, T.v.gate, T.j.svc, T.j.gate]) ports[id] = await freePort();
    const configFile = path.join(dir, 'mend.config.yaml');
    writeFileSync(configFile, configYaml(ports, await freePort()));
    const config = loadConfigFile(configFile, { stateDir: home });
    for (const c of config.components) {
      const adapter = processAdapter(c);
      cleanups.push(() => stopProcess(adapter).then(() => undefined));
      await startProcess(adapter);
      await waitUntil(`${c.id} healthy`, 30_000, async () => (await probeComponent(c)).healthy, 200);
    }
    log(`demo services up: ${config.components.map((c) => c.id).join(', ')}`);
    step();

    const env = {
      ...process.env,
      MEND_TEMPORAL_ADDRESS: server.address,
      MEND_TASK_QUEUE: TASK_QUEUE,
      MEND_HOME: home,
      MEND_CONFIG: configFile,
      MEND_LOG_LEVEL: 'warn',
    };
    const worker = spawnLogged('workers/main.ts', env, path.join(dir, 'worker.log'));
    cleanups.push(() => stopGroup(worker));
    const client = await MendClient.connect({ address: server.address, taskQueue: TASK_QUEUE });
    cleanups.push(() => client.close());
    await waitUntil(
      'the worker to poll its task queue',
      120_000,
      async () => {
        if (worker.exitCode !== null) throw new Error(`worker exited (${worker.exitCode}); its log: ${path.join(dir, 'worker.log')}`);
        const res = await client.connection.workflowService.describeTaskQueue({
          namespace: client.namespace,
          taskQueue: { name: TASK_QUEUE },
          taskQueueType: 1,
        });
        return (res.pollers?.length ?? 0) > 0;
      },
      500,
    );
    log(`worker polling (pid ${worker.pid})`);
    step();

    // What the API would do at start (MEND_SYNC_ON_START), done here so the baseline is taken after it.
    await reconcileSchedules(client, config);
    const backlog = new BacklogControl(client);
    for (const spool of config.spools) await backlog.ensure(spool);
    for (const gate of [T.v.gate, T.j.gate]) {
      const component = config.components.find((c) => c.id === gate)!;
      await client.startRecovery({ strategy: 'emergency-reset', component, trigger: 'manual', requestedBy: 'fuzz-setup', allComponents: config.components });
    }
    await waitUntil(
      'the gate runs to wait for an approval',
      60_000,
      async () => {
        const states = await Promise.all([T.v.gate, T.j.gate].map(async (g) => (await client.progress(recoveryWorkflowId(g))).approval?.state));
        return states.every((s) => s === 'waiting');
      },
      500,
    );
    await waitUntil('the backlog entities to answer', 60_000, async () => {
      for (const s of config.spools) if ((await backlog.status(s.name)).spool !== s.name) return false;
      return true;
    });
    log('schedules reconciled, backlog entities and gate runs waiting');
    step();

    const tokens = { admin: generateToken(), operator: generateToken(), viewer: generateToken(), scoped: generateToken() };
    const tokensFile = path.join(dir, 'tokens.yaml');
    writeFileSync(
      tokensFile,
      [
        'tokens:',
        `  - { name: fuzz-admin, token: ${tokens.admin}, role: admin }`,
        `  - { name: fuzz-operator, token: ${tokens.operator}, role: operator }`,
        `  - { name: fuzz-viewer, token: ${tokens.viewer}, role: viewer }`,
        `  - { name: fuzz-scoped, token: ${tokens.scoped}, role: operator, components: [${T.v.svc}] }`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const apiPort = await freePort();
    const heapFile = path.join(dir, 'api-heap.jsonl');
    if (options.heapSnapshots) mkdirSync(options.heapSnapshots, { recursive: true });
    // The API logs a line per request: the log is where a 5xx's cause is found.
    const api = spawnLogged(
      'api/main.ts',
      {
        ...env,
        MEND_LOG_LEVEL: 'info',
        MEND_API_PORT: String(apiPort),
        MEND_TOKENS_FILE: tokensFile,
        MEND_SYNC_ON_START: 'false',
        MEND_FUZZ_HEAP_FILE: heapFile,
        ...(options.heapSnapshots ? { MEND_FUZZ_HEAP_SNAPSHOTS: options.heapSnapshots } : {}),
      },
      path.join(dir, 'api.log'),
      ['--expose-gc', '--import', path.join(ROOT, 'bench/fuzz/heap-probe.ts')],
    );
    cleanups.push(() => stopGroup(api, 'SIGTERM', 10_000));
    const apiUrl = new URL(`http://127.0.0.1:${apiPort}`);
    await waitUntil(
      'the API to be ready',
      120_000,
      async () => {
        if (api.exitCode !== null) throw new Error(`API exited (${api.exitCode}); its log: ${path.join(dir, 'api.log')}`);
        return (await fetch(new URL('/readyz', apiUrl)).catch(() => undefined))?.ok === true;
      },
      500,
    );
    log(`API ${apiUrl.origin} (pid ${api.pid})`);
    let probes = 0;
    const probeHeap = async (): Promise<HeapProbe> => {
      const seq = ++probes;
      process.kill(api.pid!, 'SIGWINCH');
      let found: HeapProbe | undefined;
      await waitUntil(`heap probe ${seq} of the API process`, 120_000, () => {
        if (api.exitCode !== null) throw new Error(`API exited (${api.exitCode}); its log: ${path.join(dir, 'api.log')}`);
        if (!existsSync(heapFile)) return false;
        // A line still being written does not parse yet: it is read again at the next poll.
        for (const line of readFileSync(heapFile, 'utf8').split('\n')) {
          try {
            const p = JSON.parse(line) as HeapProbe;
            if (p.seq === seq) found = p;
          } catch {
            // not a whole line (yet)
          }
        }
        return found !== undefined;
      });
      return found!;
    };
    await sleep(0);
    return {
      dir,
      config,
      client,
      apiUrl,
      apiPid: api.pid!,
      api,
      tokens,
      temporalVersion: binary.version.replace(/^temporal version /, ''),
      probeHeap,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `node --import tsx [nodeArgs] <script>` in its own process group, output to `logFile` (tsx first: nodeArgs may import .ts files). */
function spawnLogged(script: string, env: NodeJS.ProcessEnv, logFile: string, nodeArgs: string[] = []): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, path.join(ROOT, script)], { cwd: ROOT, env, stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
}
