/**
 * The agent of one host (`mend agent --host <id>`, `npm run agent -- --host <id>`): an activities-only
 * Temporal worker (no workflow bundle, so it stays small) polling `<queue>/host/<id>`. It runs the
 * host-bound activities of that host's components (core/hosts.ts says which) with its own MEND_HOME
 * for pid files, logs, checkpoints and spools. Stops on SIGINT/SIGTERM after draining.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { hostTaskQueue } from '../core/constants';
import { HostIdSchema } from '../core/schemas';
import { readSettings } from '../core/settings';
import { workerIdentity } from './identity';
import { installWorkerRuntime } from './logging';
import { handleStopSignals } from './stop-signals';

export interface AgentOptions {
  address: string;
  namespace: string;
  /** The main task queue (`mend`); the agent polls `<it>/host/<host>`. */
  taskQueue: string;
  host: string;
  /** This host's MEND_HOME. */
  stateDir: string;
  shutdown?: AbortSignal;
}

export async function createAgentWorker(opts: AgentOptions): Promise<{ worker: Worker; connection: NativeConnection; taskQueue: string; identity: string }> {
  const connection = await NativeConnection.connect({ address: opts.address });
  try {
    const taskQueue = hostTaskQueue(opts.taskQueue, opts.host);
    const identity = workerIdentity('agent', opts.host);
    const worker = await Worker.create({
      connection,
      namespace: opts.namespace,
      taskQueue,
      identity,
      activities: createActivities({ stateDir: opts.stateDir, shutdown: opts.shutdown }),
      shutdownGraceTime: '10s',
    });
    return { worker, connection, taskQueue, identity };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/** `--host <id>` (or `--host=<id>`) from argv. */
function hostArg(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--host' || a.startsWith('--host='));
  if (i < 0) return undefined;
  return argv[i]!.includes('=') ? argv[i]!.slice('--host='.length) : argv[i + 1];
}

async function main(): Promise<void> {
  const raw = hostArg(process.argv.slice(2));
  if (!raw) throw new Error("which host? give --host <id> (one of the config's hosts:)");
  const parsed = HostIdSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`--host: ${parsed.error.issues[0]?.message ?? 'invalid host id'}`);
  const settings = readSettings(process.env);
  installWorkerRuntime(settings);
  const stop = handleStopSignals();
  const { worker, connection, taskQueue, identity } = await createAgentWorker({
    address: settings.MEND_TEMPORAL_ADDRESS,
    namespace: settings.MEND_NAMESPACE,
    taskQueue: settings.MEND_TASK_QUEUE,
    host: parsed.data,
    stateDir: settings.MEND_HOME,
    shutdown: stop.signal,
  });
  try {
    stop.running();
    console.log(`agent polling task queue "${taskQueue}" on ${settings.MEND_TEMPORAL_ADDRESS} as ${identity}`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`agent: ${err.message}`);
    process.exit(1);
  });
}
