/**
 * Supervisor controls on the real dev server: `mend pause`/`mend resume` on a supervisor hold and
 * release auto-recovery; the API lists schedules and stats and lets only an admin act on them.
 * (What a supervisor decides on an auth failure, a failed recovery, a run started by hand or a long
 * history is unit-tested on its machine: test/core-supervisor-machine.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { supervisorWorkflowId } from '../core/constants';
import type { SupervisorState } from '../core/supervision';
import { bearer, makeTokens, testApp } from './api-fixtures';
import { demoStarts, httpStatus, runCli, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('supervisor controls', () => {
  const dir = tempDir('sup-controls');
  const queue = uniqueQueue('sup-controls');
  const suffix = Date.now().toString(36);
  const group = `controls-${suffix}`;
  const ids = { paused: `paused-${suffix}` };
  let suite: RunbookSuite;
  const state = async (id: string) => (await supervisorState(suite.client, id)) as SupervisorState;
  const component = (id: string) => suite.config.components.find((c) => c.id === id)!;

  before(async () => {
    const supervision = { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '100ms' } };
    const { file } = await writeDemoConfig(dir, [{ id: ids.paused, supervision }]);
    suite = await startRunbookSuite(dir, queue, file);
    await startProcess(processAdapter(component(ids.paused)));
    await waitFor('service healthy', 15_000, async () => (await httpStatus((component(ids.paused).probe as { url: string }).url)) === 200);
    await reconcileSchedules(suite.client, suite.config);
    await waitFor('supervisor sees it healthy', 30_000, async () => (await supervisorState(suite.client, ids.paused))?.health === 'healthy');
  });

  after(async () => {
    if (suite) {
      await deleteHealthSchedules(suite.client, queue, [`mend/health/${group}`]);
      for (const id of Object.values(ids))
        await suite.client.temporal.workflow
          .getHandle(supervisorWorkflowId(id))
          .terminate('test over')
          .catch(() => undefined);
      await suite.stop();
    }
  });

  test('`mend pause` on a supervisor holds auto-recovery; `mend resume` lets it recover', async () => {
    const id = ids.paused;
    const paused = await runCli(['pause', supervisorWorkflowId(id), '--reason', 'maintenance'], suite.env);
    assert.equal(paused.code, 0, paused.stderr);
    await waitFor('pause applied', 10_000, async () => (await state(id)).pausedUntil !== undefined);
    const starts = demoStarts(dir, id);
    process.kill((await runningProcess(processAdapter(component(id))))!.pid, 'SIGKILL');
    const held = await waitFor('failure held by the pause', 20_000, async () => {
      const s = await state(id);
      return s.held?.startsWith('paused') && s;
    });
    // The failure was decided on (held): no recovery was started for it.
    assert.equal(held.stats.attempted, 0);
    assert.equal(held.current, undefined);
    assert.equal(demoStarts(dir, id), starts, 'no restart while paused');

    const resumed = await runCli(['resume', supervisorWorkflowId(id)], suite.env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const recovered = await waitFor('recovered after resume', 30_000, async () => {
      const s = await state(id);
      return s.stats.succeeded === 1 && s.current === undefined && s;
    });
    assert.equal(recovered.pausedUntil, undefined);
    assert.equal(demoStarts(dir, id), starts + 1);
  });

  test('the API lists the schedule and the stats; only an admin pauses, resumes or triggers a schedule', async () => {
    const { tokens, table } = makeTokens(ids.paused);
    const app = await testApp(suite.client, suite.config, table);
    const call = (method: 'GET' | 'POST', url: string, token: string) => app.inject({ method, url, headers: bearer(token) });
    try {
      const listed = await call('GET', '/v1/schedules', tokens.viewer);
      assert.equal(listed.statusCode, 200, listed.body);
      const schedule = (listed.json() as { schedules: Array<{ scheduleId: string; paused: boolean; components: string[] }> }).schedules.find(
        (x) => x.scheduleId === `mend/health/${group}`,
      );
      assert.ok(schedule, 'the group schedule is listed');
      assert.ok(schedule.components.includes(ids.paused));

      const stats = await call('GET', '/v1/stats', tokens.viewer);
      assert.equal(stats.statusCode, 200, stats.body);
      const body = stats.json() as { components: Array<{ component: string; health: string }> };
      assert.equal(body.components.find((c) => c.component === ids.paused)?.health, 'healthy');

      assert.equal((await call('POST', `/v1/schedules/${group}/pause`, tokens.operator)).statusCode, 403);
      assert.equal((await call('POST', '/v1/schedules/not-a-group/pause', tokens.admin)).statusCode, 404);
      const paused = await call('POST', `/v1/schedules/${group}/pause`, tokens.admin);
      assert.equal(paused.statusCode, 200, paused.body);
      assert.equal((await suite.client.temporal.schedule.getHandle(`mend/health/${group}`).describe()).state.paused, true);
      assert.equal((await call('POST', `/v1/schedules/${group}/trigger`, tokens.admin)).statusCode, 200);
      assert.equal((await call('POST', `/v1/schedules/${group}/resume`, tokens.admin)).statusCode, 200);
      assert.equal((await suite.client.temporal.schedule.getHandle(`mend/health/${group}`).describe()).state.paused, false);
    } finally {
      await app.close();
    }
  });
});
