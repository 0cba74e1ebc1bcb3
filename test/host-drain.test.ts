/**
 * Draining a host through the API (and `mend hosts drain|undrain`) on the real dev server, with a
 * real agent for host `edge` and the central worker serving the default host: a drained host's
 * supervised component that dies is held (its supervisor names the host; nothing is restarted),
 * the other host's component is not; undrain lets its supervisor recover it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { withHomeDefaults } from '../core/config';
import { HostDrainResponseSchema } from '../core/api';
import { DEFAULT_HOST, supervisorWorkflowId } from '../core/constants';
import type { SupervisorState } from '../core/supervision';
import { processAdapter, runningProcess, startProcess } from '../domain/adapters/process';
import { bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import {
  demoStarts,
  httpStatus,
  recordHistory,
  runCli,
  startRunbookSuite,
  startSuiteAgent,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  type Spawned,
} from './helpers';

describe('draining a host holds its automatic recoveries until it is undrained', () => {
  const dir = tempDir('host-drain');
  const queue = uniqueQueue('host-drain');
  const s = Date.now().toString(36);
  const ids = { edge: `edge-svc-${s}`, central: `central-svc-${s}` };
  const group = `drain-${s}`;
  let suite: RunbookSuite;
  let agent: Spawned;
  let app: FastifyInstance;
  let tokens: TestTokens;
  const state = async (id: string) => (await supervisorState(suite.client, id)) as SupervisorState;
  // A host's component has its pid file under its agent's MEND_HOME (the suite's here).
  const component = (id: string) =>
    withHomeDefaults(
      suite.config.components.find((c) => c.id === id)!,
      suite.env.MEND_HOME!,
    );
  const post = (url: string, token: string, payload?: object) =>
    app.inject({ method: 'POST', url, headers: { ...bearer(token), ...(payload ? { 'content-type': 'application/json' } : {}) }, payload });
  const kill = async (id: string) => process.kill((await runningProcess(processAdapter(component(id))))!.pid, 'SIGKILL');

  before(async () => {
    const supervision = { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '100ms' } };
    const { file } = await writeDemoConfig(
      dir,
      [
        { id: ids.edge, host: 'edge', supervision },
        { id: ids.central, supervision },
      ],
      'hosts:\n  - { id: edge }\n',
    );
    suite = await startRunbookSuite(dir, queue, file);
    agent = await startSuiteAgent(suite, 'edge');
    for (const id of Object.values(ids)) await startProcess(processAdapter(component(id)));
    for (const id of Object.values(ids))
      await waitFor(`${id} healthy`, 15_000, async () => (await httpStatus((component(id).probe as { url: string }).url)) === 200);
    await reconcileSchedules(suite.client, suite.config);
    for (const id of Object.values(ids))
      await waitFor(`supervisor of ${id} healthy`, 30_000, async () => (await supervisorState(suite.client, id))?.health === 'healthy');
    let table;
    ({ tokens, table } = makeTokens(ids.central));
    app = await testApp(suite.client, suite.config, table);
  });

  after(async () => {
    await app?.close();
    if (suite) {
      await deleteHealthSchedules(suite.client, queue, [`mend/health/${group}`, `mend/health/${group}@edge`]);
      for (const id of Object.values(ids))
        await suite.client.temporal.workflow
          .getHandle(supervisorWorkflowId(id))
          .terminate('test over')
          .catch(() => undefined);
      await suite.stop();
    }
    await agent?.stop();
  });

  test('POST /v1/hosts/edge/drain: a killed component of edge is held naming the host, the other host recovers; undrain recovers it', async () => {
    const drained = await post('/v1/hosts/edge/drain', tokens.operator, { reason: 'disk swap' });
    assert.equal(drained.statusCode, 200, drained.body);
    assert.deepEqual(HostDrainResponseSchema.parse(drained.json()), { host: 'edge', action: 'drain', by: 'test-operator', components: [ids.edge] });
    await waitFor('drain applied', 10_000, async () => (await state(ids.edge)).drainedHost === 'edge');
    assert.equal((await state(ids.central)).drainedHost, undefined);

    const [edgeStarts, centralStarts] = [demoStarts(dir, ids.edge), demoStarts(dir, ids.central)];
    await kill(ids.edge);
    await kill(ids.central);
    const held = await waitFor('failure held by the drain', 30_000, async () => {
      const st = await state(ids.edge);
      return st.held === 'host edge drained (disk swap) by test-operator' && st;
    });
    // The failure was decided on (held): no recovery was started for it.
    assert.equal(held.stats.attempted, 0);
    assert.equal(held.current, undefined);
    // What the API shows of the component: its supervisor drained, naming the host.
    const shown = await app.inject({ method: 'GET', url: `/v1/components/${ids.edge}`, headers: bearer(tokens.viewer) });
    assert.equal(shown.statusCode, 200, shown.body);
    const supervisor = (shown.json() as { supervisor: { drainedHost?: string; held?: string; paused: boolean } }).supervisor;
    assert.deepEqual([supervisor.drainedHost, supervisor.paused, supervisor.held], ['edge', true, 'host edge drained (disk swap) by test-operator']);
    // The default host is not drained: its component is recovered meanwhile.
    await waitFor('central recovered', 30_000, async () => (await state(ids.central)).stats.succeeded === 1);
    assert.equal(demoStarts(dir, ids.central), centralStarts + 1);
    assert.equal((await state(ids.edge)).stats.attempted, 0);
    assert.equal(demoStarts(dir, ids.edge), edgeStarts, 'no restart while drained');

    const undrained = await post('/v1/hosts/edge/undrain', tokens.operator);
    assert.equal(undrained.statusCode, 200, undrained.body);
    assert.deepEqual(HostDrainResponseSchema.parse(undrained.json()), { host: 'edge', action: 'undrain', by: 'test-operator', components: [ids.edge] });
    const recovered = await waitFor('recovered after undrain', 30_000, async () => {
      const st = await state(ids.edge);
      return st.stats.succeeded === 1 && st.current === undefined && st;
    });
    assert.deepEqual([recovered.pausedUntil, recovered.drainedHost, recovered.health], [undefined, undefined, 'healthy']);
    assert.equal(demoStarts(dir, ids.edge), edgeStarts + 1);
  });

  test('undrain leaves a pause that is not the drain alone; bad input, scope and role are refused naming why', async () => {
    // An operator's own pause of the central component is not the drain of the default host: undrain skips it.
    const paused = await runCli(['pause', supervisorWorkflowId(ids.central)], suite.env);
    assert.equal(paused.code, 0, paused.stderr);
    await waitFor('pause applied', 10_000, async () => (await state(ids.central)).pausedUntil !== undefined);
    const undrained = await post(`/v1/hosts/${DEFAULT_HOST}/undrain`, tokens.operator);
    assert.equal(undrained.statusCode, 200, undrained.body);
    assert.deepEqual(HostDrainResponseSchema.parse(undrained.json()), {
      host: DEFAULT_HOST,
      action: 'undrain',
      by: 'test-operator',
      components: [],
      skipped: [ids.central],
    });
    assert.notEqual((await state(ids.central)).pausedUntil, undefined);
    assert.equal((await runCli(['resume', supervisorWorkflowId(ids.central)], suite.env)).code, 0);

    const junk = await post('/v1/hosts/edge/drain', tokens.operator, { reason: 'x', extra: 1 });
    assert.equal(junk.statusCode, 400, junk.body);
    assert.match(junk.body, /extra/);
    const emptyReason = await post('/v1/hosts/edge/drain', tokens.operator, { reason: '' });
    assert.equal(emptyReason.statusCode, 400, emptyReason.body);
    assert.match(emptyReason.body, /reason/);
    const unknown = await post('/v1/hosts/ghost/drain', tokens.operator);
    assert.equal(unknown.statusCode, 404, unknown.body);
    assert.match(unknown.body, /unknown host ghost \(known: edge, local\)/);
    // Scoped to the central component only: the edge host's components are out of its reach.
    const scoped = await post('/v1/hosts/edge/drain', tokens.scoped);
    assert.equal(scoped.statusCode, 403, scoped.body);
    assert.match(scoped.body, new RegExp(`may not act on ${ids.edge}`));
    assert.equal((await post('/v1/hosts/edge/undrain', tokens.viewer)).statusCode, 403);
    assert.equal((await state(ids.edge)).drainedHost, undefined, 'nothing refused was applied');
  });

  test('undrain leaves a supervisor that was paused by hand before the drain paused: the drain is lifted, the pause stays', async () => {
    const paused = await runCli(['pause', supervisorWorkflowId(ids.edge), '--reason', 'hands off'], suite.env);
    assert.equal(paused.code, 0, paused.stderr);
    await waitFor('pause applied', 10_000, async () => (await state(ids.edge)).pausedUntil !== undefined);
    assert.equal((await post('/v1/hosts/edge/drain', tokens.operator, { reason: 'disk swap' })).statusCode, 200);
    await waitFor('drain applied', 10_000, async () => (await state(ids.edge)).drainedHost === 'edge');
    const undrained = await post('/v1/hosts/edge/undrain', tokens.operator);
    assert.equal(undrained.statusCode, 200, undrained.body);
    assert.deepEqual(HostDrainResponseSchema.parse(undrained.json()), {
      host: 'edge',
      action: 'undrain',
      by: 'test-operator',
      components: [],
      skipped: [ids.edge],
    });
    const after = await waitFor('drain lifted', 10_000, async () => {
      const st = await state(ids.edge);
      return st.drainedHost === undefined && st;
    });
    assert.notEqual(after.pausedUntil, undefined, 'still paused by hand');
    const shown = await app.inject({ method: 'GET', url: `/v1/components/${ids.edge}`, headers: bearer(tokens.viewer) });
    assert.equal((shown.json() as { supervisor: { paused: boolean } }).supervisor.paused, true);
    assert.equal((await runCli(['resume', supervisorWorkflowId(ids.edge)], suite.env)).code, 0);
    await waitFor('resumed', 10_000, async () => (await state(ids.edge)).pausedUntil === undefined);
    const { runId } = await suite.client.temporal.workflow.getHandle(supervisorWorkflowId(ids.edge)).describe();
    recordHistory(supervisorWorkflowId(ids.edge), runId, 'supervisor-drain-kept-apart-from-pause.json');
  });

  test('mend hosts drain|undrain: the same through the CLI, one readable line for an unknown host (exit 2)', async () => {
    const env = { ...suite.env, MEND_CONFIG: `${dir}/mend.config.yaml` };
    const drained = await runCli(['hosts', 'drain', 'edge', '--reason', 'kernel update', '--json'], env);
    assert.equal(drained.code, 0, drained.stderr);
    const body = HostDrainResponseSchema.parse(JSON.parse(drained.stdout));
    assert.deepEqual([body.action, body.components], ['drain', [ids.edge]]);
    assert.match(body.by, /@cli$/);
    const held = await waitFor('drained by the CLI', 10_000, async () => {
      const st = await state(ids.edge);
      return st.drainedHost === 'edge' && st;
    });
    assert.equal(held.drainReason, 'kernel update');

    const undrained = await runCli(['hosts', 'undrain', 'edge'], env);
    assert.equal(undrained.code, 0, undrained.stderr);
    assert.equal(undrained.stdout.trim(), `host edge undrained: ${ids.edge} may be recovered again`);
    await waitFor('undrained by the CLI', 10_000, async () => (await state(ids.edge)).pausedUntil === undefined);

    const unknown = await runCli(['hosts', 'drain', 'ghost'], env);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.trim(), 'mend: host: unknown host "ghost" (known: edge, local)');
    // `mend hosts` itself still lists the hosts.
    const listed = await runCli(['hosts', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as Array<{ id: string }>).map((h) => h.id),
      ['edge', DEFAULT_HOST],
    );
  });
});
