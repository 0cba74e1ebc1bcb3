/**
 * A host's outage workflow (`mend/host/<id>`) pauses the host's health schedules while it is away
 * and resumes them when it is back. Ended by hand while the host is away, it resumes nothing: the
 * schedules stayed paused with its note until the host's next outage (which nothing could notice,
 * with no sweep running) or `mend resume`. Reconcile resumes such a pause once no outage workflow
 * of that host runs, and leaves an operator's pause, and a running workflow's, alone.
 *
 * Host z has no agent: the workflow it starts for z probes for one in vain, as for a dead host. The
 * schedules fire hourly, so no sweep runs (and reports z again) while the test looks.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { healthHostScheduleId, hostWorkflowId } from '../core/constants';
import { pausedNote } from '../core/host-outage';
import { hostOutageSignal } from '../core/messages';
import type { Config } from '../core/schemas';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { sharedServer, startInProcessWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type TestWorker } from './helpers';

describe("a host's outage workflow ended by hand while the host is away", () => {
  const dir = tempDir('host-watch-ended');
  const queue = uniqueQueue('host-watch-ended');
  const s = Date.now().toString(36);
  const groups = { live: `z-live-${s}`, held: `z-held-${s}` };
  const schedules = { live: healthHostScheduleId(groups.live, 'z'), held: healthHostScheduleId(groups.held, 'z') };
  const operatorNote = 'operator: z-held is being rebuilt';
  let config: Config;
  let client: MendClient;
  let worker: TestWorker;
  const watch = () => client.temporal.workflow.getHandle(hostWorkflowId(queue, 'z'));
  const described = async (id: string) => {
    const { paused, note } = (await client.temporal.schedule.getHandle(id).describe()).state;
    return { paused, note };
  };

  before(async () => {
    const supervision = (group: string) => ({ group, interval: '1h', startupGrace: '0s' });
    const { file } = await writeDemoConfig(
      dir,
      [
        { id: `live-${s}`, host: 'z', supervision: supervision(groups.live) },
        { id: `held-${s}`, host: 'z', supervision: supervision(groups.held) },
      ],
      `hosts:\n  - { id: z }\n`,
    );
    config = loadConfigFile(file, { stateDir: path.join(dir, 'central') });
    worker = await startInProcessWorker(queue, path.join(dir, 'central'));
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
    await reconcileSchedules(client, config);
    await client.temporal.schedule.getHandle(schedules.held).pause(operatorNote);
    // The outage workflow finds the host's schedules by listing them (visibility lags a creation).
    await waitFor('both schedules listed', 30_000, async () => {
      const found = new Set<string>();
      for await (const x of client.temporal.schedule.list()) found.add(x.scheduleId);
      return found.has(schedules.live) && found.has(schedules.held);
    });
    // z's agent picks nothing up: reported as a sweep or a supervisor would.
    await client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.hostWatch, {
      workflowId: hostWorkflowId(queue, 'z'),
      taskQueue: queue,
      args: [{ host: 'z' }],
      signal: hostOutageSignal,
      signalArgs: [{ host: 'z', by: 'test', seenAt: new Date().toISOString(), components: [] }],
    });
    await waitFor("z's live schedule paused by its outage workflow", 60_000, async () => (await described(schedules.live)).note === pausedNote('z'));
  });

  after(async () => {
    if (client) {
      await watch()
        .terminate('test over')
        .catch(() => undefined);
      await deleteHealthSchedules(client, queue, Object.values(schedules));
      await client.close();
    }
    await worker?.stop();
  });

  test('reconcile leaves the pause alone while the outage workflow runs, and resumes it once that workflow was ended by hand; an operator pause stays', async () => {
    const running = await reconcileSchedules(client, config);
    assert.deepEqual(await described(schedules.live), { paused: true, note: pausedNote('z') }, 'the running outage workflow resumes its own pauses');
    assert.deepEqual(running.resumed ?? [], []);

    await watch().terminate('ended by hand');
    const ended = await reconcileSchedules(client, config);
    const live = await described(schedules.live);
    assert.equal(live.paused, false, 'the host checks run again');
    assert.match(live.note ?? '', /^mend: reconcile: paused for host z's outage, but .* no longer runs to resume it$/);
    assert.deepEqual(ended.resumed, [schedules.live]);
    assert.deepEqual(await described(schedules.held), { paused: true, note: operatorNote }, "the operator's pause and note are kept");

    // Nothing left to do: a second reconcile resumes nothing.
    assert.deepEqual((await reconcileSchedules(client, config)).resumed, []);
  });
});
