/**
 * One CLI path, the rest of the commands: stats, schedules, backlog, drill and a supervisor's
 * pause/resume run straight to Temporal, then with MEND_URL and MEND_TOKEN through an API on a free
 * port (Temporal unreachable from the CLI, so nothing slips past the API), against the same worker,
 * supervisor, schedule and spool. Both sessions must print the same lines and exit with the same
 * codes, once run ids, times, durations and who acted are masked. The routes the API gained for
 * them (drills, backlog start, schedules reconcile) keep their roles.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { BacklogControl } from '../client/backlog';
import { deleteHealthSchedules, reconcileSchedules } from '../client/schedules';
import { supervisorState } from '../client/supervisors';
import { backlogWorkflowId, supervisorWorkflowId } from '../core/constants';
import { processAdapter, startProcess } from '../domain/adapters/process';
import { bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import { recorder } from './both-ways';
import { freePort } from '../scripts/ports';
import { httpStatus, runCli, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('stats, schedules, backlog, drill and supervisor pause/resume give the same output and exit codes through the API', () => {
  const dir = tempDir('cli-both-ways-ops');
  const queue = uniqueQueue('cli-both-ways-ops');
  const suffix = Date.now().toString(36);
  const C = `bw-${suffix}`;
  /** Never started: a drill of it is skipped (it must be healthy first), so the drill ends at once and breaks nothing. */
  const down = `bw-down-${suffix}`;
  const group = `bw-${suffix}`;
  const spool = `bw-spool-${suffix}`;
  const drill = `bw-drill-${suffix}`;
  let suite: RunbookSuite;
  let configFile: string;
  let app: FastifyInstance;
  let apiUrl: string;
  let tokens: TestTokens;
  const pausedUntil = async () => (await supervisorState(suite.client, C))?.pausedUntil;
  /** Waits for the replay to have run `cycles` cycles and to be between them, so the next status reads the same either way. */
  const settled = (cycles: number) =>
    waitFor(`the replay to finish cycle ${cycles}`, 30_000, async () => {
      const s = await new BacklogControl(suite.client).status(spool);
      return s.cycles >= cycles && s.activity !== 'checking-sink' && s.activity !== 'replaying' && s.cycles;
    });

  before(async () => {
    const supervision = { group, interval: '1s', startupGrace: '0s' };
    // A sink nobody listens on, and a replay that waits 10 minutes between cycles: its status holds still between the sessions.
    const spoolYaml = {
      name: spool,
      dir: 'spool/bw',
      sink: { url: `http://127.0.0.1:${await freePort()}`, timeout: '1s' },
      intervals: { busy: '10m', some: '10m', idle: '10m' },
      maxBackoff: '10m',
    };
    const { file } = await writeDemoConfig(
      dir,
      [
        { id: C, supervision },
        { id: down, supervision: { enabled: false } },
      ],
      `spools:\n  - ${JSON.stringify(spoolYaml)}\ndrills: ${JSON.stringify([{ name: drill, component: down, fault: 'crash' }])}\n`,
    );
    configFile = file;
    suite = await startRunbookSuite(dir, queue, file);
    const component = suite.config.components.find((c) => c.id === C)!;
    await startProcess(processAdapter(component));
    await waitFor(`${C} healthy`, 15_000, async () => (await httpStatus(component.probe.type === 'http' ? component.probe.url : '')) === 200);
    await reconcileSchedules(suite.client, suite.config);
    await waitFor('the supervisor to see it healthy', 30_000, async () => (await supervisorState(suite.client, C))?.health === 'healthy');
    await new BacklogControl(suite.client).ensure(suite.config.spools[0]!);
    await settled(1);
    const made = makeTokens(C);
    tokens = made.tokens;
    app = await testApp(suite.client, suite.config, made.table);
    apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await app?.close();
    if (suite) {
      await deleteHealthSchedules(suite.client, queue, []);
      for (const id of [supervisorWorkflowId(C), backlogWorkflowId(spool)])
        await suite.client.temporal.workflow
          .getHandle(id)
          .terminate('test over')
          .catch(() => undefined);
      await suite.stop();
    }
  });

  /** The same commands, in the same order, waiting on the supervisor (read from Temporal by the test) between them. */
  async function session(env: NodeJS.ProcessEnv, who: string) {
    const { steps, mend } = recorder(env, who);
    await mend('stats');
    await mend('stats', '--json');
    await mend('schedules');
    await mend('schedules', '--reconcile');
    await mend('backlog', 'status');
    await mend('backlog', 'status', spool);
    await mend('backlog', 'pause', spool, '--minutes', '5', '--reason', 'both ways');
    const cycles = await settled(1);
    await mend('backlog', 'resume', spool);
    // Resuming runs a cycle: the next status is read once it is over.
    await settled(cycles + 1);
    await mend('pause', supervisorWorkflowId(C), '--reason', 'both ways');
    await waitFor('the supervisor to be paused', 15_000, async () => (await pausedUntil()) !== undefined);
    await mend('resume', supervisorWorkflowId(C));
    await waitFor('the supervisor to be resumed', 15_000, async () => (await pausedUntil()) === undefined);
    // A closed breaker may be reset too (its window's count forgotten): the same line either way.
    await mend('breaker', 'reset', C, '--reason', 'both ways');
    await mend('breaker', 'reset', C, '--reason', ' ');
    await mend('drill', drill);
    // Refusals: names neither config knows.
    await mend('backlog', 'status', 'nope');
    await mend('backlog', 'force', 'nope');
    await mend('drill', 'nope');
    // `backlog resume` runs a cycle: the next session's status counts one more. Nothing else in it moves.
    return steps.map((s) => ({ ...s, stdout: s.stdout.replace(/; \d+ cycles\n/, '; <n> cycles\n') }));
  }

  test('stats, stats --json, schedules, backlog status/pause/resume, pause/resume of a supervisor, drill and their refusals', async () => {
    const direct = await session({ ...suite.env, MEND_CONFIG: configFile }, `${os.userInfo().username}@cli`);
    // Temporal unreachable for the CLI itself: only the API can answer these.
    const viaApi = await session(
      { ...suite.env, MEND_CONFIG: configFile, MEND_URL: apiUrl, MEND_TOKEN: tokens.admin, MEND_TEMPORAL_ADDRESS: '127.0.0.1:1' },
      'test-admin',
    );

    assert.deepEqual(
      direct.map((s) => [s.command, s.code]),
      [
        ['stats', 0],
        ['stats --json', 0],
        ['schedules', 0],
        ['schedules --reconcile', 0],
        ['backlog status', 0],
        [`backlog status ${spool}`, 0],
        [`backlog pause ${spool} --minutes 5 --reason both ways`, 0],
        [`backlog resume ${spool}`, 0],
        [`pause ${supervisorWorkflowId(C)} --reason both ways`, 0],
        [`resume ${supervisorWorkflowId(C)}`, 0],
        [`breaker reset ${C} --reason both ways`, 0],
        [`breaker reset ${C} --reason  `, 2],
        [`drill ${drill}`, 1],
        ['backlog status nope', 2],
        ['backlog force nope', 2],
        ['drill nope', 2],
      ],
      JSON.stringify(direct, null, 2),
    );
    assert.match(direct[0]!.stdout, new RegExp(`^COMPONENT .*\\n${C} +healthy +closed +0 `, 'm'));
    assert.ok(JSON.parse(direct[1]!.stdout).components.some((c: { component: string }) => c.component === C));
    assert.match(direct[2]!.stdout, new RegExp(`mend/health/${group} +${group} +local +<dur> +no +${queue} +${C}\\n`));
    // The test reconciled this config before: nothing to change, either way.
    assert.match(direct[3]!.stdout, /^reconciled: 0 created, 0 updated, 0 deleted, 1 unchanged, 0 supervisor\(s\) retired\n/);
    assert.match(direct[5]!.stdout, new RegExp(`^spool ${spool}: running, `));
    assert.equal(direct[10]!.stdout, `${C}: breaker closed (was closed), reset by <who>: both ways; checking it now\n`);
    assert.equal(direct[11]!.stderr, 'mend: --reason: required: say why the breaker is reset\n');
    assert.match(direct[12]!.stdout, new RegExp(`^started mend/drill/${drill}/<run> → <url>\\n${drill}: skipped — `));
    assert.match(direct[13]!.stderr, /^mend: spools: unknown spool "nope" \(known: bw-spool-\w+\)\n$/);
    for (const [i, step] of viaApi.entries()) assert.deepEqual(step, direct[i], `${step.command}: through the API it differs`);
  });

  test('the new routes keep their roles: drills need an operator in scope, backlog start an operator, schedules reconcile an admin', async () => {
    const call = (method: 'GET' | 'POST', url: string, token: string) => app.inject({ method, url, headers: bearer(token) });
    assert.equal((await call('POST', `/v1/drills/${drill}/runs`, tokens.viewer)).statusCode, 403);
    // The scoped operator may act on C only; the drill breaks `down`.
    const outOfScope = await call('POST', `/v1/drills/${drill}/runs`, tokens.scoped);
    assert.equal(outOfScope.statusCode, 403, outOfScope.body);
    assert.match(outOfScope.json<{ message: string }>().message, new RegExp(`may not act on ${down}`));
    const unknown = await call('POST', '/v1/drills/nope/runs', tokens.operator);
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json<{ message: string }>().message, /^drills: unknown drill "nope"/);
    const junk = await app.inject({ method: 'POST', url: `/v1/drills/${drill}/runs`, headers: bearer(tokens.operator), payload: { fault: 'hang' } });
    assert.equal(junk.statusCode, 400, junk.body);
    assert.equal((await call('GET', `/v1/drills/${drill}/runs/not-a-run`, tokens.viewer)).statusCode, 400);
    assert.equal((await call('GET', `/v1/drills/${drill}/runs/00000000`, tokens.viewer)).statusCode, 404);

    assert.equal((await call('POST', `/v1/backlog/${spool}/start`, tokens.viewer)).statusCode, 403);
    const started = await call('POST', `/v1/backlog/${spool}/start`, tokens.operator);
    assert.equal(started.statusCode, 200, started.body);
    assert.equal(started.json<{ workflowId: string }>().workflowId, backlogWorkflowId(spool));
    // The CLI's way to it: `mend backlog start` with MEND_URL and no Temporal of its own.
    const viaCli = await runCli(['backlog', 'start', spool], {
      ...suite.env,
      MEND_URL: apiUrl,
      MEND_TOKEN: tokens.operator,
      MEND_TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal(viaCli.stdout, `${spool}: replaying as ${backlogWorkflowId(spool)} → ${suite.client.runUrl(backlogWorkflowId(spool))}\n`);

    assert.equal((await call('POST', '/v1/schedules/reconcile', tokens.operator)).statusCode, 403);
    const reconciled = await call('POST', '/v1/schedules/reconcile', tokens.admin);
    assert.equal(reconciled.statusCode, 200, reconciled.body);
    // The test reconciled this config already: nothing to change.
    assert.deepEqual(reconciled.json<{ created: string[]; unchanged: string[] }>().created, []);
    assert.ok(reconciled.json<{ unchanged: string[] }>().unchanged.includes(`mend/health/${group}`));
  });
});
