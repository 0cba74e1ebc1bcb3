/**
 * A flapper under a small breaker, for real: a demo service that dies two seconds after every
 * start "recovers" each time, then relapses. The breaker opens after maxRecoveries; once half-open
 * it admits one trial only, the trial's relapse reopens it with a breaker-open alert, and the
 * statistics count the relapses instead of a 100% success rate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import type { SupervisorState } from '../core/supervision';
import { startAlertSink, type AlertSink } from './alert-sink';
import {
  demoStarts,
  recordHistory,
  runCli,
  startRunbookSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  stopSupervisedSuite,
} from './helpers';

describe('a flapping service under the circuit breaker', () => {
  const dir = tempDir('flapper');
  const queue = uniqueQueue('flapper');
  const suffix = Date.now().toString(36);
  const group = `flap-${suffix}`;
  const id = `flapper-${suffix}`;
  let sink: AlertSink;
  let suite: RunbookSuite;
  let configFile: string;
  const state = async () => (await supervisorState(suite.client, id)) as SupervisorState;

  before(async () => {
    sink = await startAlertSink();
    const { file } = await writeDemoConfig(
      dir,
      [
        {
          id,
          env: { CRASH_AFTER_MS: '2000' },
          supervision: {
            group,
            interval: '1s',
            startupGrace: '0s',
            restartBackoff: { initial: '100ms', max: '200ms' },
            // A cool-down long enough that the reopened breaker can be looked at before the next trial.
            breaker: { maxRecoveries: 2, window: '5m', coolDown: '6s', healthyToClose: '4s' },
          },
        },
      ],
      `supervision:\n  notify: { webhook: "${sink.url}" }\n`,
    );
    configFile = file;
    suite = await startRunbookSuite(dir, queue, file);
    // Not started: the first sweep finds it down and its supervisor starts the first recovery.
    await reconcileSchedules(suite.client, suite.config);
  });

  after(async () => {
    await stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), recoveryWorkflowId(id)]);
    sink?.close();
  });

  test('half-open admits one trial; its relapse reopens the breaker with an alert; relapses are not successes', async () => {
    const first = await waitFor('breaker open', 90_000, async () => {
      const s = await state();
      return s?.breaker.state === 'open' && s;
    });
    assert.equal(first.stats.attempted, 2, 'maxRecoveries recoveries, then open');

    // After the cool-down: one trial, which "recovers" and dies again a second later. Whatever
    // happens next, the breaker must reopen (not let restart after restart through).
    const reopened = await waitFor('breaker reopened after the trial, or a second recovery while half-open', 90_000, async () => {
      const s = await state();
      return (s.stats.breakerOpened >= 2 || s.stats.attempted >= 4) && s;
    });
    assert.equal(reopened.stats.attempted, 3, 'exactly one trial while half-open');
    assert.equal(reopened.stats.breakerOpened, 2);
    assert.equal(reopened.breaker.state, 'open');
    assert.match(reopened.breaker.reason ?? '', /trial recovery relapsed/);
    assert.equal(demoStarts(dir, id), 3, 'two recoveries and one trial started the service');
    assert.deepEqual(
      reopened.stats.recent.map((r) => [r.outcome, r.relapsedAt !== undefined]),
      [
        ['recovered', true],
        ['recovered', true],
        ['recovered', true],
      ],
      'each run "recovered", and each relapsed',
    );
    assert.deepEqual([reopened.stats.succeeded, reopened.stats.failed, reopened.stats.relapsed], [0, 0, 3]);

    const relapseAlert = await waitFor('breaker-open alert for the relapse', 10_000, () =>
      sink.alerts.find((a) => a.kind === 'breaker-open' && /relapsed/.test(a.text)),
    );
    assert.equal(relapseAlert.component, id);
    assert.equal(sink.alerts.filter((a) => a.kind === 'breaker-open').length, 2);

    const json = await runCli(['stats', '--json'], { ...suite.env, MEND_CONFIG: configFile });
    assert.equal(json.code, 0, json.stderr);
    const mine = (
      JSON.parse(json.stdout) as { components: Array<{ component: string; relapsed: number; succeeded: number; successRate?: number }> }
    ).components.find((c) => c.component === id)!;
    assert.deepEqual([mine.succeeded, mine.relapsed, mine.successRate], [0, 3, 0]);
    const table = await runCli(['stats'], { ...suite.env, MEND_CONFIG: configFile });
    assert.match(table.stdout, /RELAPSED/);
    // The breaker's state was asserted above; by now its cool-down may have run out (half-open).
    assert.match(table.stdout, new RegExp(`${id}\\s+\\w+\\s+(?:open|half-open)\\s+3\\s+0\\s+0\\s+3\\s+0%`));
    const prom = await runCli(['stats', '--prometheus'], { ...suite.env, MEND_CONFIG: configFile });
    assert.ok(prom.stdout.includes(`mend_recoveries_total{component="${id}",strategy="immediate",outcome="relapsed"} 3`), prom.stdout);

    const run = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
    recordHistory(supervisorWorkflowId(id), run.runId, 'supervisor-breaker-trial-relapsed.json');
  });
});
