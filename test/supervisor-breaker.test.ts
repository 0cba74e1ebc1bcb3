/**
 * Flap control for real: a service killed again and again is recovered `maxRecoveries` times, then
 * its supervisor's circuit breaker opens (an alert goes to the webhook) and restarts stop; after
 * the cool-down one trial recovery runs, and once the service stays healthy the breaker closes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { supervisorWorkflowId } from '../core/constants';
import { demoStarts, httpStatus, recordHistory, runCli, startBreakerSuite, waitFor, type BreakerSuite } from './helpers';

describe('circuit breaker against restart storms', () => {
  let b: BreakerSuite;

  before(async () => {
    b = await startBreakerSuite('flappy', { maxRecoveries: 2, window: '5m', coolDown: '8s', healthyToClose: '2s' });
  });

  after(() => b?.stop());

  test('opens after maxRecoveries, keeps restarts bounded, alerts, and closes after a cool-down and a healthy period', async () => {
    const { suite, id, dir, configFile, alerts, state, url } = b;
    const open = await b.tripBreaker(2, { settled: true });
    assert.equal(demoStarts(dir, id), 3, 'first start and two recoveries, none after the breaker opened');
    assert.equal(open.stats.attempted, 2);
    assert.equal(open.stats.breakerOpened, 1);
    assert.match(open.held ?? '', /circuit breaker open/);
    await waitFor('breaker-open alert', 10_000, () => alerts.some((a) => a.kind === 'breaker-open'));
    const alert = alerts.find((a) => a.kind === 'breaker-open')!;
    assert.equal(alert.component, id);
    assert.match(alert.text, /circuit breaker OPEN/);

    const stats = await runCli(['stats'], { ...suite.env, MEND_CONFIG: configFile });
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, new RegExp(`${id}\\s+unhealthy\\s+open\\s+2\\s+2\\s+0`));
    assert.match(stats.stdout, new RegExp(`${id}: not recovering: circuit breaker open`));

    // While open, nothing restarts it: the count of starts stays where it was (and at the end it is
    // one more, the trial: a restart while open would show there, no fixed wait needed here).
    assert.equal(demoStarts(dir, id), 3, 'no restart while the breaker is open');
    assert.equal(await httpStatus(url()), undefined, 'still down');
    assert.equal((await state()).stats.attempted, 2);

    // After the cool-down: one trial recovery (the service itself is fine now), then closed after 2s healthy.
    const closed = await waitFor('breaker closed again', 60_000, async () => {
      const s = await state();
      return s.breaker.state === 'closed' && s.stats.succeeded === 3 && s;
    });
    assert.equal(closed.stats.attempted, 3);
    assert.equal(demoStarts(dir, id), 4, 'exactly one trial restart');
    assert.equal(await httpStatus(url()), 200);
    await waitFor('breaker-closed alert', 10_000, () => alerts.some((a) => a.kind === 'breaker-closed'));
    const supervisorRun = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(id)).describe();
    recordHistory(supervisorWorkflowId(id), supervisorRun.runId, 'supervisor-breaker-opened-and-closed.json');
  });
});
