/**
 * Custom runbooks that act on a host (`targets: 'host'`) or on nothing (`targets: 'none'`), from a
 * runbooks folder bundled by a real worker process, on the shared dev server: a host runbook runs
 * its command on the host it was started for (a simulated host b with its own agent, when the
 * machine can simulate hosts; else the default host), an untargeted one runs with no target and
 * honours dry run, pause, status and cancel, and every wrong target is refused (CLI and API)
 * with nothing started. A policy naming either is a config error naming its path.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { DEFAULT_HOST, hostRunbookWorkflowId, hostTaskQueue, recoveryWorkflowId, runbookWorkflowId } from '../core/constants';
import type { RecoveryResult } from '../core/run';
import type { Config } from '../core/schemas';
import { bearer, makeTokens, testApp } from './api-fixtures';
import { ROOT, runCli, sharedServer, startWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type Spawned } from './helpers';
import { canSimulateHosts, startSimHost, type SimHost } from './sim-hosts';

const WHERE_AM_I = `import { defineRunbook } from 'mend/kit';
export default defineRunbook({
  name: 'where-am-i',
  description: 'say which MEND_HOME the host runs its commands with',
  targets: 'host',
  async run(ctx) {
    ctx.phase('execution');
    await ctx.command(['sh', '-c', 'echo "home=$MEND_HOME"'], { name: 'whoami' });
  },
});
`;
const SWEEP = `import { defineRunbook } from 'mend/kit';
export default defineRunbook({
  name: 'sweep',
  description: 'wait, then run a command on the default host',
  targets: 'none',
  async run(ctx) {
    ctx.phase('preparation');
    await ctx.sleep(Number(1500), 'settle');
    ctx.phase('execution');
    await ctx.command(['sh', '-c', 'echo swept ' + ctx.hosts.length + ' hosts'], { name: 'sweep', host: 'local' });
  },
});
`;

describe('runbooks that target a host or nothing', () => {
  const dir = tempDir('runbook-targets');
  const queue = uniqueQueue('runbook-targets');
  const s = Date.now().toString(36);
  const api = `api-${s}`;
  const centralHome = path.join(dir, 'central');
  const runbooks = path.join(dir, 'runbooks');
  // On a machine that cannot simulate hosts the host runbook runs on the default host.
  const host = canSimulateHosts ? 'b' : DEFAULT_HOST;
  let hostB: SimHost | undefined;
  let config: Config;
  let client: MendClient;
  let worker: Spawned | undefined;
  let app: FastifyInstance | undefined;
  const { tokens, table } = makeTokens(api);
  const env = () => ({
    MEND_TEMPORAL_ADDRESS: sharedServer().address,
    MEND_TASK_QUEUE: queue,
    MEND_HOME: centralHome,
    MEND_CONFIG: path.join(dir, 'mend.config.yaml'),
  });
  const exists = (workflowId: string) =>
    client.temporal.workflow
      .getHandle(workflowId)
      .describe()
      .then(
        () => true,
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        },
      );

  before(async () => {
    mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, path.join(dir, 'node_modules', 'mend'));
    mkdirSync(runbooks);
    writeFileSync(path.join(runbooks, 'where-am-i.ts'), WHERE_AM_I);
    writeFileSync(path.join(runbooks, 'sweep.ts'), SWEEP);
    const { file } = await writeDemoConfig(dir, [{ id: api }], 'hosts:\n  - { id: b, description: simulated host b }\n');
    config = loadConfigFile(file, { stateDir: centralHome });
    if (canSimulateHosts) {
      hostB = await startSimHost('b', queue, path.join(dir, 'home-b'));
      await hostB.startAgent();
    }
    worker = await startWorker(queue, { ...env(), MEND_WORKFLOW_BUNDLE: '' });
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
    app = await testApp(client, config, table);
  });

  after(async () => {
    await app?.close();
    await worker?.stop();
    await hostB?.stop();
    await client?.close();
  });

  test('mend runbooks lists what each runbook targets', async () => {
    const res = await runCli(['runbooks', '--json'], env());
    assert.equal(res.code, 0, res.stderr);
    const rows = JSON.parse(res.stdout) as Array<{ name: string; targets: string }>;
    assert.deepEqual(
      rows.filter((r) => ['where-am-i', 'sweep', 'immediate'].includes(r.name)).map((r) => `${r.name}:${r.targets}`),
      ['immediate:components', 'sweep:none', 'where-am-i:host'],
    );
  });

  test('a wrong target is refused on the command line with one line and exit 2, and nothing starts', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['run', 'where-am-i', api], /^mend: components: "where-am-i" acts on a host, not components: name one host instead \(known: b, local\)\n$/],
      [['run', 'where-am-i'], /^mend: --host: "where-am-i" acts on a host: name one \(known: b, local\)\n$/],
      [['run', 'where-am-i', '--host', 'nowhere'], /^mend: --host: unknown host "nowhere" \(known: b, local\)\n$/],
      [['run', 'immediate', api, '--host', 'b'], /^mend: --host: "immediate" acts on components, not a host: name its components instead\n$/],
      [['run', 'immediate'], /^mend: components: name at least one component \("immediate" acts on components\)\n$/],
      [['run', 'sweep', api], /^mend: components: "sweep" takes no target: start it without components\n$/],
      [['run', 'sweep', '--host', 'b'], /^mend: --host: "sweep" takes no target: start it without a host\n$/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli(args, env());
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stdout}${res.stderr}`);
      assert.match(res.stderr, message, args.join(' '));
    }
    for (const id of [hostRunbookWorkflowId('b'), hostRunbookWorkflowId('nowhere'), runbookWorkflowId('sweep'), recoveryWorkflowId(api)]) {
      assert.equal(await exists(id), false, `${id} was started`);
    }
  });

  test('a wrong target is refused by POST /v1/runs with a 4xx naming the field, and nothing starts', async () => {
    const cases: Array<[object, number, RegExp]> = [
      [{ strategy: 'where-am-i', components: [api] }, 400, /^components: "where-am-i" acts on a host, not components/],
      [{ strategy: 'where-am-i' }, 400, /^host: "where-am-i" acts on a host: name one \(known: b, local\)/],
      [{ strategy: 'where-am-i', host: 'nowhere' }, 404, /^host: unknown host "nowhere"/],
      [{ strategy: 'where-am-i', host: 'Not A Host' }, 400, /host/],
      [{ strategy: 'immediate', host: 'b' }, 400, /^host: "immediate" acts on components, not a host/],
      [{ strategy: 'immediate', components: [api], host: 'b' }, 400, /host.*name components or a host, not both/],
      [{ strategy: 'sweep', host: 'b' }, 400, /^host: "sweep" takes no target/],
    ];
    for (const [body, status, message] of cases) {
      const res = await app!.inject({ method: 'POST', url: '/v1/runs', headers: bearer(tokens.operator), payload: body });
      assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
      assert.match((res.json() as { message: string }).message, message, JSON.stringify(body));
    }
    // A token scoped to a component may not act on a host.
    const scoped = await app!.inject({ method: 'POST', url: '/v1/runs', headers: bearer(tokens.scoped), payload: { strategy: 'where-am-i', host } });
    assert.equal(scoped.statusCode, 403, scoped.body);
    for (const id of [hostRunbookWorkflowId('b'), hostRunbookWorkflowId(DEFAULT_HOST), runbookWorkflowId('sweep'), recoveryWorkflowId(api)]) {
      assert.equal(await exists(id), false, `${id} was started`);
    }
  });

  test(`a host runbook runs its command on the host it was started for (${host}), and its history shows where`, async () => {
    const res = await runCli(['run', 'where-am-i', '--host', host, '--json'], env());
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const [run] = JSON.parse(res.stdout) as Array<{ target: string; workflowId: string; runId: string; result: RecoveryResult }>;
    assert.equal(run!.workflowId, hostRunbookWorkflowId(host));
    assert.equal(run!.target, host);
    const { result } = run!;
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.deepEqual(result.components, []);
    const step = result.steps.find((st) => st.name === 'whoami')!;
    assert.equal(step.status, 'ok');
    assert.equal(step.summary, `run sh -c echo "home=$MEND_HOME" on ${host}`);
    // The command ran with the MEND_HOME of that host's agent.
    assert.equal(step.detail, `home=${hostB ? hostB.home : centralHome}`);
    const { events } = await client.temporal.workflow.getHandle(run!.workflowId, run!.runId).fetchHistory();
    const scheduled = (events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : []));
    assert.deepEqual(
      scheduled.map((a) => `${a.activityType?.name}@${a.taskQueue?.name}`),
      [`runCommand@${hostTaskQueue(queue, host)}`],
    );
    const picked = (events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.identity ?? ''] : []));
    if (hostB) assert.match(picked[0]!, /^mend-agent\/b@/);
    // Its search attributes: the runbook and trigger, no component.
    const desc = await client.temporal.workflow.getHandle(run!.workflowId).describe();
    assert.equal(desc.searchAttributes.MendStrategy?.[0], 'where-am-i');
    assert.equal(desc.searchAttributes.MendOutcome?.[0], 'recovered');
    assert.deepEqual(desc.searchAttributes.MendComponents ?? [], []);
    const listed = await runCli(['runs', '--strategy', 'where-am-i', '--json'], env());
    assert.ok(
      (JSON.parse(listed.stdout) as { runs: Array<{ workflowId: string }> }).runs.some((r) => r.workflowId === hostRunbookWorkflowId(host)),
      listed.stdout,
    );
  });

  test('an untargeted runbook plans in a dry run, then runs with no target; pause holds it, status shows it, cancel ends it', async () => {
    const plan = await runCli(['run', 'sweep', '--dry-run', '--json'], env());
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    const planned = (JSON.parse(plan.stdout) as Array<{ result: RecoveryResult }>)[0]!.result;
    assert.equal(planned.outcome, 'planned');
    assert.deepEqual(
      planned.steps.map((st) => `${st.name}:${st.status}`),
      ['sleep:planned', 'sweep:planned'],
    );

    const full = await runCli(['run', 'sweep', '--json'], env());
    assert.equal(full.code, 0, full.stdout + full.stderr);
    const done = (JSON.parse(full.stdout) as Array<{ workflowId: string; result: RecoveryResult }>)[0]!;
    assert.equal(done.workflowId, runbookWorkflowId('sweep'));
    assert.equal(done.result.outcome, 'recovered', done.result.reason);
    assert.equal(done.result.steps.find((st) => st.name === 'sweep')!.detail, 'swept 2 hosts');

    const started = await app!.inject({ method: 'POST', url: '/v1/runs', headers: bearer(tokens.operator), payload: { strategy: 'sweep' } });
    assert.equal(started.statusCode, 202, started.body);
    const { workflowId, runs } = started.json() as { workflowId: string; runs: Array<{ component?: string; host?: string }> };
    assert.equal(workflowId, runbookWorkflowId('sweep'));
    assert.deepEqual(
      runs.map((r) => [r.component, r.host]),
      [[undefined, undefined]],
    );
    // A second start while it runs is refused, naming the running run.
    const again = await runCli(['run', 'sweep', '--no-wait'], env());
    assert.equal(again.code, 1);
    assert.match(again.stderr, /sweep is already running as mend\/runbook\/sweep/);

    assert.equal((await runCli(['pause', workflowId], env())).code, 0);
    const held = await waitFor('the sweep to finish its wait and hold', 30_000, async () => {
      const p = await client.progress(workflowId);
      return p.paused && p.steps.some((st) => st.name === 'sleep' && st.status === 'ok') && p;
    });
    assert.ok(!held.steps.some((st) => st.name === 'sweep'), 'nothing ran after the pause');
    const status = await runCli(['status', workflowId], env());
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /RUNNING/);
    assert.match(status.stdout, /paused: resume with `mend resume mend\/runbook\/sweep`/);
    // A token scoped to a component may not control it.
    const scopedCancel = await app!.inject({
      method: 'POST',
      url: `/v1/runs/${encodeURIComponent(workflowId)}/cancel`,
      headers: bearer(tokens.scoped),
      payload: {},
    });
    assert.equal(scopedCancel.statusCode, 403, scopedCancel.body);
    assert.equal((await runCli(['cancel', workflowId], env())).code, 0);
    const result = await client.result(workflowId);
    assert.equal(result.outcome, 'cancelled');
    assert.ok(!result.steps.some((st) => st.name === 'sweep'), 'nothing ran after the cancel');
  });

  test('a policy naming a host or untargeted runbook is a config error naming its path', async () => {
    const text = readFileSync(path.join(dir, 'mend.config.yaml'), 'utf8');
    const bad = path.join(dir, 'bad.config.yaml');
    writeFileSync(bad, text.replace('"strategy":"immediate"', '"strategy":"where-am-i","escalation":["immediate","sweep"]'));
    const res = await runCli(['config', 'validate', bad], env());
    assert.equal(res.code, 2, res.stdout);
    assert.match(res.stderr, /components\[0\]\.policy\.strategy: runbook "where-am-i" acts on a host, not on a component/);
    assert.match(res.stderr, /components\[0\]\.policy\.escalation\[1\]: runbook "sweep" takes no target, not on a component/);
  });
});
