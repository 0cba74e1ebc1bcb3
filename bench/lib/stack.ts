/**
 * A throwaway mend stack for the overhead and scale scenarios: a headless dev server on a fast
 * SQLite file, one worker process on its own task queue, and a client. The pids are returned so
 * a scenario can sample their CPU and memory from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { MendClient } from '../../client';
import { ensureTemporal } from '../../scripts/ensure-temporal';
import { startDevServer, type DevServer } from '../../scripts/temporal-server';
import { ROOT, stopGroup, waitUntil } from './util';
import { TS_HOOK_ARGS } from '../../workers/node-args';

export interface BenchStack {
  server: DevServer;
  worker: ChildProcess;
  client: MendClient;
  taskQueue: string;
  temporalVersion: string;
  stop(): Promise<void>;
}

/** Starts server, worker and client in `dir`; the worker's extra env (e.g. its options) comes from `workerEnv`. */
export async function startStack(dir: string, opts: { taskQueue?: string; workerEnv?: Record<string, string> } = {}): Promise<BenchStack> {
  const taskQueue = opts.taskQueue ?? 'bench';
  const binary = await ensureTemporal();
  const server = await startDevServer({
    binary: binary.path,
    uiPort: false,
    dbFile: path.join(dir, 'temporal.db'),
    fastSqlite: true,
    logFile: path.join(dir, 'temporal.log'),
  });
  let worker: ChildProcess | undefined;
  let client: MendClient | undefined;
  // The worker's own output goes to a file in `dir`, read when something goes wrong.
  const workerLog = openSync(path.join(dir, 'worker.log'), 'a');
  try {
    worker = spawn(process.execPath, [...TS_HOOK_ARGS, path.join(ROOT, 'workers/main.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        MEND_TEMPORAL_ADDRESS: server.address,
        MEND_TASK_QUEUE: taskQueue,
        MEND_HOME: path.join(dir, '.mend'),
        MEND_LOG_LEVEL: 'warn',
        ...opts.workerEnv,
      },
      stdio: ['ignore', workerLog, workerLog],
      detached: true,
    });
    client = await MendClient.connect({ address: server.address, taskQueue });
    const c = client;
    // The worker is ready once it polls: the task queue then lists a poller.
    await waitUntil(
      'the bench worker to poll its task queue',
      60_000,
      async () => {
        const res = await c.connection.workflowService.describeTaskQueue({ namespace: c.namespace, taskQueue: { name: taskQueue }, taskQueueType: 1 });
        return (res.pollers?.length ?? 0) > 0;
      },
      250,
    );
  } catch (err) {
    await client?.close();
    if (worker) await stopGroup(worker);
    await server.stop();
    throw err;
  } finally {
    closeSync(workerLog);
  }
  const w = worker;
  const cl = client;
  return {
    server,
    worker: w,
    client: cl,
    taskQueue,
    temporalVersion: binary.version.replace(/^temporal version /, ''),
    async stop() {
      await cl.close().catch(() => undefined);
      await stopGroup(w);
      await server.stop();
    },
  };
}
