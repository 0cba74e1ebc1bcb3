/**
 * A supervisor whose component's host has no agent (nothing polls `<queue>/host/<id>`), on the real
 * dev server: its confirmation probe is not picked up within the host queue's schedule-to-start
 * timeout, and the supervisor holds naming the host instead of failing or counting a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { supervisorSpec } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { hostWorkflowId, supervisorWorkflowId } from '../core/constants';
import { hostWatchStateQuery, reportSignal } from '../core/messages';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { recordHistory, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('a host without an agent', () => {
  const dir = tempDir('host-unreachable');
  const queue = uniqueQueue('host-unreachable');
  const id = `gone-svc-${Date.now().toString(36)}`;
  const watched = `gone-watched-${Date.now().toString(36)}`;
  const hostWatch = () => suite.client.temporal.workflow.getHandle(hostWorkflowId(queue, 'gone'));
  const start = (component: string, report: { healthy: boolean; failureClass?: 'network'; detail: string }) =>
    suite.client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.supervisor, {
      workflowId: supervisorWorkflowId(component),
      taskQueue: queue,
      args: [
        {
          spec: supervisorSpec(
            suite.config.components.find((c) => c.id === component)!,
            suite.config,
          ),
        },
      ],
      signal: reportSignal,
      signalArgs: [{ ...report, checkedAt: new Date().toISOString(), source: 'sweep' }],
    });
  let suite: RunbookSuite;

  before(async () => {
    const supervision = { startupGrace: '0s', failuresBeforeRecovery: 2 };
    const { file } = await writeDemoConfig(
      dir,
      [
        { id, host: 'gone', supervision },
        { id: watched, host: 'gone', supervision },
      ],
      'hosts:\n  - { id: gone }\n',
    );
    suite = await startRunbookSuite(dir, queue, file);
  });

  after(async () => {
    for (const wf of [supervisorWorkflowId(id), supervisorWorkflowId(watched), hostWorkflowId(queue, 'gone')])
      await suite?.client.temporal.workflow
        .getHandle(wf)
        .terminate('test over')
        .catch(() => undefined);
    await suite?.stop();
  });

  test('a confirmation probe nobody picks up holds the supervisor with the host named: no failure counted, no recovery, the supervisor runs on', async () => {
    // What a sweep sends: one failed check, to be confirmed on the component's host.
    await start(id, { healthy: false, failureClass: 'network', detail: 'connection refused' });
    const held = await waitFor('held as unreachable', 60_000, async () => {
      const st = await supervisorState(suite.client, id);
      return st?.unreachableHost === 'gone' && st;
    });
    assert.equal(held.held, 'host gone unreachable: its agent did not pick up a probe in time');
    assert.equal(held.consecutiveFailures, 1);
    assert.equal(held.stats.attempted, 0);
    assert.equal(held.breaker.state, 'closed');
    const { status, runId } = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
    assert.equal(status.name, 'RUNNING');
    // The host's workflow heard of it (one event per outage).
    const outage = await waitFor('outage reported to mend/host/gone', 30_000, async () => {
      const st = await hostWatch()
        .query(hostWatchStateQuery)
        .catch(() => undefined);
      return st?.reportedBy.includes(`supervisor ${id}`) && st;
    });
    assert.equal(outage.status, 'unreachable');
    assert.ok(outage.affected.includes(id));
    // The patched branches (a pickup timeout held, not thrown; reported to the host) as a replay fixture.
    recordHistory(supervisorWorkflowId(id), runId, 'supervisor-held-host-unreachable-reported.json');
  });

  test('a pid watch nobody picks up holds for the host and is reported to it, and no new watch is queued there', async () => {
    // Healthy as far as it knows: its pid watch goes to the host's queue, where no agent polls.
    await start(watched, { healthy: true, detail: 'ok' });
    const handle = suite.client.temporal.workflow.getHandle(supervisorWorkflowId(watched));
    const held = await waitFor('held for the host, nothing pending', 90_000, async () => {
      const st = await supervisorState(suite.client, watched);
      const { raw } = await handle.describe();
      return st?.unreachableHost === 'gone' && (raw.pendingActivities ?? []).length === 0 && st;
    });
    assert.equal(held.held, 'host gone unreachable: its agent did not pick up the pid watch in time');
    assert.equal(held.stats.attempted, 0);
    await waitFor('watch reported to mend/host/gone', 30_000, async () =>
      (
        await hostWatch()
          .query(hostWatchStateQuery)
          .catch(() => undefined)
      )?.reportedBy.includes(`supervisor ${watched}`),
    );
    const { events } = await handle.fetchHistory();
    assert.equal(events?.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'watchProcess').length, 1, 'one watch, not renewed');
    recordHistory(supervisorWorkflowId(watched), (await handle.describe()).runId, 'supervisor-watch-host-unreachable.json');
  });
});
