/**
 * Flap control for real: a service killed again and again is recovered `maxRecoveries` times, then
 * its supervisor's circuit breaker opens (an alert goes to the webhook) and restarts stop; after
 * the cool-down one trial recovery runs, and once the service stays healthy the breaker closes.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { supervisorWorkflowId } from '../core/constants';
import type { SupervisorState } from '../core/supervision';
import { demoStarts, httpStatus, recordHistory, runCli, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('circuit breaker against restart storms', () => {
  const dir = tempDir('breaker');
  const queue = uniqueQueue('breaker');
  const suffix = Date.now().toString(36);
  const group = `breaker-${suffix}`;
  const id = `flappy-${suffix}`;
  const alerts: Array<{ text: string; kind: string; component: string }> = [];
  let hook: http.Server;
  let suite: RunbookSuite;
  let configFile: string;
  const state = async () => (await supervisorState(suite.client, id)) as SupervisorState;
  const url = () => {
    const c = suite.config.components[0]!;
    return c.probe.type === 'http' ? c.probe.url : '';
  };
  const killService = async () => process.kill((await runningProcess(processAdapter(suite.config.components[0]!)))!.pid, 'SIGKILL');

  before(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(body) as (typeof alerts)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    const { file } = await writeDemoConfig(
      dir,
      [
        {
          id,
          supervision: {
            group,
            interval: '1s',
            startupGrace: '0s',
            restartBackoff: { initial: '100ms' },
            breaker: { maxRecoveries: 2, window: '5m', coolDown: '8s', healthyToClose: '2s' },
          },
        },
      ],
      `supervision:\n  notify: { webhook: "${hookUrl}" }\n`,
    );
    configFile = file;
    suite = await startRunbookSuite(dir, queue, file);
    await startProcess(processAdapter(suite.config.components[0]!));
    await waitFor('service healthy', 15_000, async () => (await httpStatus(url())) === 200);
    await reconcileSchedules(suite.client, suite.config);
    await waitFor('supervisor sees it healthy', 30_000, async () => (await supervisorState(suite.client, id))?.health === 'healthy');
  });

  after(async () => {
    if (suite) {
      await deleteHealthSchedules(suite.client, queue, [`mend/health/${group}`]);
      await suite.client.temporal.workflow
        .getHandle(supervisorWorkflowId(id))
        .terminate('test over')
        .catch(() => undefined);
      await suite.stop();
    }
    hook?.close();
  });

  test('opens after maxRecoveries, keeps restarts bounded, alerts, and closes after a cool-down and a healthy period', async () => {
    for (const n of [1, 2]) {
      await killService();
      await waitFor(`recovery ${n}`, 60_000, async () => {
        const s = await state();
        return s.stats.succeeded >= n && s.current === undefined && (await httpStatus(url())) === 200;
      });
    }
    assert.equal(demoStarts(dir, id), 3, 'first start and two recoveries');

    await killService();
    const open = await waitFor('breaker open', 30_000, async () => {
      const s = await state();
      return s.breaker.state === 'open' && s;
    });
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

    // While open, nothing restarts it: the count of starts stays where it was.
    await new Promise((r) => setTimeout(r, 2_500));
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
