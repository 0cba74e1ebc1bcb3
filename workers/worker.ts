/**
 * Builds the workers of one process: the central worker (workflow bundle + every activity, on the
 * main queue) and, embedded, the default host's activities-only worker on `<queue>/host/local`, so a
 * one-machine setup needs no agent. Each owns one NativeConnection, shared.
 */
import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { DEFAULT_HOST, hostTaskQueue } from '../core/constants';
import { workerIdentity } from './identity';
import { bundleCacheDirOf, cachedWorkflowBundle } from './bundle-cache';
import type { RunbookFile } from '../core/runbooks';
import type { RunbookMeta } from '../kit/meta';

/**
 * Workflows the central worker keeps in memory (the SDK's `maxCachedWorkflows`, MEND_WORKFLOW_CACHE
 * overrides it). The SDK's default follows the heap limit (about 2,300 on a 24 GiB machine), and a
 * kept idle supervisor costs about 0.24 MiB. One not kept replays its short (continue-as-new'd)
 * history when a report wakes it: healthy ones are woken rarely (a change, or every 10 min).
 * Measured with the scale bench at 1,000 supervisors (2 cores, shared, load 10-20): worker RSS
 * 612-692 MiB at the SDK's default, 498-575 at 500, 454-515 at 250, with CPU and detection
 * unchanged within the noise of the load.
 */
export const DEFAULT_WORKFLOW_CACHE = 250;

export interface MendWorkerOptions {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Path of a prebuilt bundle (bundleWorkflowCode output); otherwise workflows are bundled (in a child process) or taken from the bundle cache. */
  workflowBundlePath?: string;
  /** Where bundles are kept between starts (default `<activityDeps.stateDir or .mend>/cache/workflows`). */
  bundleCacheDir?: string;
  /** Custom runbooks to bundle with the built-ins (not with a prebuilt bundle); a bad one fails the start before any connection. */
  runbooks?: RunbookFile[];
  activityDeps?: ActivityDeps;
  /**
   * Also serve the default host's queue (default true); false when an agent runs for it. Then connect
   * the clients that start runs with `defaultHostEmbedded: false`, so runs keep the default host's
   * activities on its queue instead of this worker's own (see DEFAULT_HOST_EMBEDDED_MEMO).
   */
  embeddedHost?: boolean;
  /** Extra Worker options (tests shorten shutdown grace, etc.). */
  overrides?: Partial<WorkerOptions>;
}

export interface MendWorkers {
  workers: Worker[];
  connection: NativeConnection;
  /** The custom runbooks bundled in. */
  runbooks: RunbookMeta[];
  /** The workflow bundle it runs; `built` false: prebuilt, or from the cache (its sources unchanged). */
  bundle: { codePath: string; built: boolean };
  /** Runs every worker until all stop (SIGINT/SIGTERM shut them all down); one failing stops the others. */
  run(): Promise<void>;
}

export async function createMendWorker(opts: MendWorkerOptions): Promise<MendWorkers> {
  // Bundled first: a runbook that breaks the sandbox stops the start here, with nothing connected or polling.
  const { workflowBundle, runbooks, built } = await workflowCode(opts);
  const connection = await NativeConnection.connect({ address: opts.address });
  try {
    // One set of activities for both: in-flight work scheduled on the main queue before host routing
    // (and host-free work) still finds every activity there.
    // A central worker that serves the default host says so to the supervisors its sweeps start.
    const activities = createActivities({ ...opts.activityDeps, defaultHostEmbedded: opts.embeddedHost !== false });
    const central = await Worker.create({
      connection,
      namespace: opts.namespace,
      taskQueue: opts.taskQueue,
      identity: workerIdentity('worker', DEFAULT_HOST),
      workflowBundle,
      activities,
      shutdownGraceTime: '10s',
      maxCachedWorkflows: DEFAULT_WORKFLOW_CACHE,
      ...opts.overrides,
    });
    const workers = [central];
    if (opts.embeddedHost !== false) {
      workers.push(
        await Worker.create({
          connection,
          namespace: opts.namespace,
          taskQueue: hostTaskQueue(opts.taskQueue, DEFAULT_HOST),
          identity: workerIdentity('worker', DEFAULT_HOST),
          activities,
          shutdownGraceTime: '10s',
          ...opts.overrides,
        }),
      );
    }
    return { workers, connection, runbooks, bundle: { codePath: workflowBundle.codePath, built }, run: () => runAll(workers) };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/**
 * The prebuilt bundle, or the built-ins with the custom runbooks: from the bundle cache while its
 * sources are unchanged, else bundled in a child process (webpack's memory is not this process's).
 * Always through bundleRunbooks, custom runbooks or not: it also compiles mend's own TypeScript when
 * mend is an installed package (under node_modules, which Temporal's default bundling leaves uncompiled).
 */
async function workflowCode(opts: MendWorkerOptions): Promise<{ workflowBundle: { codePath: string }; runbooks: RunbookMeta[]; built: boolean }> {
  if (opts.workflowBundlePath) return { workflowBundle: { codePath: opts.workflowBundlePath }, runbooks: [], built: false };
  const dir = opts.bundleCacheDir ?? bundleCacheDirOf(opts.activityDeps?.stateDir ?? '.mend');
  const { codePath, runbooks, built } = await cachedWorkflowBundle(opts.runbooks ?? [], path.resolve(dir));
  return { workflowBundle: { codePath }, runbooks, built };
}

/** Runs workers together: when one ends (or fails), the others are shut down too. */
export async function runAll(workers: Worker[]): Promise<void> {
  const runs = workers.map((w) =>
    w.run().finally(() => {
      for (const other of workers) if (other !== w && other.getState() === 'RUNNING') other.shutdown();
    }),
  );
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}
