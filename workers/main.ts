/** The central worker process: polls the mend task queue (and the default host's) until SIGINT/SIGTERM, then drains and exits. */
import v8 from 'node:v8';
import { DEFAULT_HOST, hostTaskQueue } from '../core/constants';
import { readSettings } from '../core/settings';
import { installWorkerRuntime } from './logging';
import { handleStopSignals } from './stop-signals';
import { createMendWorker } from './worker';
import { HEAP_GROWING_FLAG } from './node-args';
import { runbooksDirOf } from '../client/config';
import { listRunbookFiles } from '../client/runbooks';

async function main(): Promise<void> {
  // The old generation is collected at 1.2 × its live size instead of V8's few times (its garbage is
  // mostly reports, sweeps and workflow activations that outlive the young generation). Set before
  // the workflow thread starts, so its heap (the cached workflows) grows the same way. Measured with
  // the scale bench at 1,000 supervisors and a 250-workflow cache: 381-392 MiB RSS against 454-515
  // without it, CPU unchanged within the load's noise (the agent's own flags: workers/node-args.ts).
  v8.setFlagsFromString(HEAP_GROWING_FLAG);
  const settings = readSettings(process.env);
  const stop = handleStopSignals();

  // One line per log entry at MEND_LOG_LEVEL, and the SDK's own metrics (task latencies, slots,
  // polls, ...) in Prometheus format when asked for; must precede any connection.
  const bindAddress = settings.MEND_WORKER_METRICS_PORT ? `${settings.MEND_API_HOST}:${settings.MEND_WORKER_METRICS_PORT}` : undefined;
  installWorkerRuntime(settings, bindAddress ? { bindAddress } : undefined);
  if (bindAddress) console.log(`worker metrics on http://${bindAddress}/metrics`);
  // The config's runbooks folder: its custom runbooks are bundled with the built-ins (a prebuilt bundle is used as built).
  const runbooks = settings.MEND_WORKFLOW_BUNDLE ? [] : listRunbookFiles(runbooksDirOf(settings.MEND_CONFIG));
  const {
    run,
    connection,
    runbooks: loaded,
    bundle,
  } = await createMendWorker({
    address: settings.MEND_TEMPORAL_ADDRESS,
    namespace: settings.MEND_NAMESPACE,
    taskQueue: settings.MEND_TASK_QUEUE,
    workflowBundlePath: settings.MEND_WORKFLOW_BUNDLE,
    runbooks,
    activityDeps: { stateDir: settings.MEND_HOME, shutdown: stop.signal },
    ...(settings.MEND_WORKFLOW_CACHE === undefined ? {} : { overrides: { maxCachedWorkflows: settings.MEND_WORKFLOW_CACHE } }),
  });
  try {
    stop.running();
    if (!settings.MEND_WORKFLOW_BUNDLE) console.log(`workflow bundle: ${bundle.codePath} (${bundle.built ? 'built now' : 'cached, its sources unchanged'})`);
    if (loaded.length > 0) console.log(`custom runbooks: ${loaded.map((r) => r.name).join(', ')}`);
    // Also the default host's queue: components that name no host run their host-bound activities here.
    console.log(
      `worker polling task queue "${settings.MEND_TASK_QUEUE}" (and "${hostTaskQueue(settings.MEND_TASK_QUEUE, DEFAULT_HOST)}") on ${settings.MEND_TEMPORAL_ADDRESS}`,
    );
    await run();
  } finally {
    await connection.close();
  }
}

main().catch((err: Error) => {
  console.error(`worker: ${err.message}`);
  process.exit(1);
});
