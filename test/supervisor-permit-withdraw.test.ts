/**
 * False alarms leave the fleet limiter's queue at once: with `maxConcurrentRecoveries: 1` and the one
 * permit held by a long recovery, three services that hang just long enough for their failure to be
 * confirmed queue for a permit; when they answer again, their supervisors wake on the healthy report
 * and withdraw the request (before, each waited for its permit only to give it back, one round trip
 * at a time), so a real failure queued behind them gets the permit as soon as the held one goes back.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import { supervisorState } from '../client/supervisors';
import { fleetLimiterWorkflowId, recoveryWorkflowId, supervisorWorkflowId } from '../core/constants';
import { fleetStateQuery } from '../core/messages';
import type { Component } from '../core/schemas';
import {
  httpStatus,
  recordHistory,
  ROOT,
  startRunbookSuite,
  superviseRunning,
  stopSupervisedSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
} from './helpers';

describe('a permit wait that turns out a false alarm', () => {
  const dir = tempDir('permit-withdraw');
  const queue = uniqueQueue('permit-withdraw');
  const suffix = Date.now().toString(36);
  const group = `withdraw-${suffix}`;
  const ids = { hold: `hold-${suffix}`, real: `real-${suffix}`, alarms: ['f1', 'f2', 'f3'].map((n) => `${n}-${suffix}`) };
  // The held permit's recovery starts its service only once this file exists.
  const gate = path.join(dir, 'gate');
  let suite: RunbookSuite;
  const component = (id: string) => suite.config.components.find((c) => c.id === id)!;
  const urlOf = (c: Component) => (c.probe.type === 'http' ? c.probe.url : '');
  const admin = async (id: string, what: 'hang' | 'unhang') => {
    const res = await fetch(urlOf(component(id)).replace('/healthz', `/admin/${what}`), { method: 'POST' });
    assert.equal(res.status, 200, `${what} ${id}`);
  };
  const limiter = () => suite.client.temporal.workflow.getHandle(fleetLimiterWorkflowId(queue)).query(fleetStateQuery);
  const kill = async (id: string) => process.kill((await runningProcess(processAdapter(component(id))))!.pid, 'SIGKILL');

  before(async () => {
    const supervision = { group, interval: '1s', startupGrace: '0s', restartInPlace: false };
    const gated = ['sh', '-c', `while [ ! -f ${JSON.stringify(gate)} ]; do sleep 0.1; done; exec node ${JSON.stringify(path.join(ROOT, 'demo/service.js'))}`];
    const { file } = await writeDemoConfig(
      dir,
      [
        // Its recovery waits for the gate well within its timeout: the one permit stays held until the test opens it.
        { id: ids.hold, command: gated, supervision, timeout: '240s' },
        ...[...ids.alarms, ids.real].map((id) => ({ id, supervision })),
      ],
      'supervision:\n  maxConcurrentRecoveries: 1\n',
    );
    writeFileSync(gate, '');
    suite = await startRunbookSuite(dir, queue, file);
    await superviseRunning(suite);
  });

  after(async () => {
    if (!existsSync(gate)) writeFileSync(gate, '');
    const all = [ids.hold, ids.real, ...ids.alarms];
    await stopSupervisedSuite(suite, queue, [group], [...all.map(supervisorWorkflowId), ...all.map(recoveryWorkflowId), fleetLimiterWorkflowId(queue)]);
  });

  test('false alarms withdraw their queued requests when healthy again; the real failure behind them gets the permit once the held one is back', async () => {
    // The one permit: held by a recovery that waits for the gate.
    rmSync(gate);
    await kill(ids.hold);
    await waitFor('the permit held by the gated recovery', 60_000, async () => {
      const st = await limiter().catch(() => undefined);
      return st?.holders.length === 1 && st.holders[0]!.component === ids.hold;
    });

    // Hung just long enough to be confirmed failed: queued for the permit.
    for (const id of ids.alarms) await admin(id, 'hang');
    await waitFor('the false alarms queued for the permit', 90_000, async () => {
      const waiting = (await limiter()).waiting.map((w) => w.component);
      return ids.alarms.every((id) => waiting.includes(id));
    });
    // A real failure, queued behind them.
    await kill(ids.real);
    await waitFor('the real failure queued behind them', 60_000, async () => (await limiter()).waiting.at(-1)?.component === ids.real);

    for (const id of ids.alarms) await admin(id, 'unhang');
    // They leave the queue while the permit is still held: none waits for it to give it back.
    const queued = await waitFor('only the real failure left in the queue', 60_000, async () => {
      const st = await limiter();
      return st.waiting.length === 1 && st.waiting[0]!.component === ids.real && st;
    });
    assert.deepEqual(
      queued.holders.map((h) => h.component),
      [ids.hold],
      'the held permit is still held',
    );
    assert.equal(queued.granted, 1, 'no permit went to a false alarm');
    for (const id of ids.alarms) {
      const st = await waitFor(`${id} healthy again`, 30_000, async () => {
        const s = await supervisorState(suite.client, id);
        return s?.health === 'healthy' && s;
      });
      assert.equal(st.stats.attempted, 0, `${id}: no recovery`);
      assert.equal(st.held, undefined);
    }

    // The held permit goes back: it goes to the real failure, not round the false alarms first.
    writeFileSync(gate, '');
    const [held, real] = await waitFor('both recovered', 120_000, async () => {
      const both = await Promise.all([supervisorState(suite.client, ids.hold), supervisorState(suite.client, ids.real)]);
      return both.every((s) => s?.stats.succeeded === 1 && s.current === undefined) && both;
    });
    assert.ok(Date.parse(real!.stats.recent[0]!.startedAt) >= Date.parse(held!.stats.recent[0]!.endedAt!), 'the real one started after the held one ended');
    assert.equal(await httpStatus(urlOf(component(ids.real))), 200);
    const end = await waitFor('every permit back', 30_000, async () => {
      const st = await limiter();
      return st.holders.length === 0 && st.waiting.length === 0 && st;
    });
    assert.equal(end.granted, 2, 'two permits in all: the held one, then the real failure');
    for (const id of ids.alarms) assert.equal((await supervisorState(suite.client, id))?.stats.attempted, 0);

    // The patched branch (a permit wait woken by a healthy report, the request withdrawn) as a replay fixture.
    const handle = suite.client.temporal.workflow.getHandle(supervisorWorkflowId(ids.alarms[0]!));
    recordHistory(handle.workflowId, (await handle.describe()).runId, 'supervisor-permit-withdrawn-when-healthy.json');
  });
});
