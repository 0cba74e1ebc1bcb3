/** Builds the mend worker: its own NativeConnection, the workflow bundle and the activities. */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';

export interface MendWorkerOptions {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Path of a prebuilt bundle (bundleWorkflowCode output); otherwise workflows are bundled now. */
  workflowBundlePath?: string;
  activityDeps?: ActivityDeps;
  /** Extra Worker options (tests shorten shutdown grace, etc.). */
  overrides?: Partial<WorkerOptions>;
}

export async function createMendWorker(opts: MendWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: opts.address });
  try {
    const worker = await Worker.create({
      connection,
      namespace: opts.namespace,
      taskQueue: opts.taskQueue,
      ...(opts.workflowBundlePath ? { workflowBundle: { codePath: opts.workflowBundlePath } } : { workflowsPath: require.resolve('../workflows') }),
      activities: createActivities(opts.activityDeps),
      shutdownGraceTime: '10s',
      ...opts.overrides,
    });
    return { worker, connection };
  } catch (err) {
    await connection.close();
    throw err;
  }
}
