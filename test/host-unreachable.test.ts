/**
 * A supervisor whose component's host has no agent (nothing polls `<queue>/host/<id>`), on the real
 * dev server: its confirmation probe is not picked up within the host queue's schedule-to-start
 * timeout, and the supervisor holds naming the host instead of failing or counting a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { supervisorSpec } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { supervisorWorkflowId } from '../core/constants';
import { reportSignal } from '../core/messages';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { recordHistory, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('a host without an agent', () => {
  const dir = tempDir('host-unreachable');
  const queue = uniqueQueue('host-unreachable');
  const id = `gone-svc-${Date.now().toString(36)}`;
  let suite: RunbookSuite;

  before(async () => {
    const supervision = { startupGrace: '0s', failuresBeforeRecovery: 2 };
    const { file } = await writeDemoConfig(dir, [{ id, host: 'gone', supervision }], 'hosts:\n  - { id: gone }\n');
    suite = await startRunbookSuite(dir, queue, file);
  });

  after(async () => {
    await suite?.client.temporal.workflow
      .getHandle(supervisorWorkflowId(id))
      .terminate('test over')
      .catch(() => undefined);
    await suite?.stop();
  });

  test('a confirmation probe nobody picks up holds the supervisor with the host named: no failure counted, no recovery, the supervisor runs on', async () => {
    const component = suite.config.components[0]!;
    // What a sweep sends: one failed check, to be confirmed on the component's host.
    await suite.client.temporal.workflow.signalWithStart(WORKFLOW_TYPES.supervisor, {
      workflowId: supervisorWorkflowId(id),
      taskQueue: queue,
      args: [{ spec: supervisorSpec(component, suite.config) }],
      signal: reportSignal,
      signalArgs: [{ healthy: false, failureClass: 'network', detail: 'connection refused', checkedAt: new Date().toISOString(), source: 'sweep' }],
    });
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
    // The patched branch (a pickup timeout held, not thrown) as a replay fixture.
    recordHistory(supervisorWorkflowId(id), runId, 'supervisor-held-host-unreachable.json');
  });
});
