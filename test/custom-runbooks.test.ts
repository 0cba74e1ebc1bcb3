/**
 * Custom runbooks from a config's runbooks folder, on the shared dev server with real demo
 * services and a real worker process that bundles the folder at start: the demo's own
 * drain-restart runbook end to end (phases, summaries, dry run), pause and cancel of a kit
 * runbook, escalation built-in → custom and custom → built-in, a sandbox break refused at the
 * worker's start, and `mend runbook replay` catching a nondeterministic change.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { startAdapter } from '../domain/adapters';
import { processAdapter, stopProcess } from '../domain/adapters/process';
import type { RecoveryResult } from '../core/run';
import type { Component, Config } from '../core/schemas';
import { ROOT, runCli, sharedServer, spawnTs, startWorker, tempDir, uniqueQueue, waitFor, writeDemoConfig, type Spawned } from './helpers';

// Its settle wait outlasts a pause sent right after the start even on a loaded box (1.5 s did not, in the full suite).
const SLOW = `import { defineRunbook } from 'mend/kit';
export default defineRunbook({
  name: 'slow-restart',
  description: 'wait, then restart and validate',
  async run(ctx) {
    ctx.phase('preparation');
    await ctx.sleep(4000, 'settle before acting');
    ctx.phase('execution');
    await ctx.stop();
    await ctx.start();
    const v = await ctx.waitHealthy();
    if (!ctx.dryRun && !v?.healthy) ctx.fail(ctx.notHealthyReason(v));
  },
});
`;
const ALWAYS_FAILS = `import { defineRunbook } from 'mend/kit';
export default defineRunbook({
  name: 'always-fails',
  description: 'probes, then gives up',
  async run(ctx) {
    ctx.phase('analysis');
    await ctx.probe();
    ctx.fail('always-fails gives up on ' + ctx.component.id);
  },
});
`;

describe('custom runbooks from the runbooks folder', () => {
  const dir = tempDir('custom-runbooks');
  const queue = uniqueQueue('custom-runbooks');
  const s = Date.now().toString(36);
  const runbooks = path.join(dir, 'runbooks');
  let config: Config;
  let client: MendClient;
  let worker: Spawned | undefined;
  const env = () => ({
    MEND_TEMPORAL_ADDRESS: sharedServer().address,
    MEND_TASK_QUEUE: queue,
    MEND_HOME: path.join(dir, '.mend'),
    MEND_CONFIG: path.join(dir, 'mend.config.yaml'),
  });
  const c = (id: string): Component => config.components.find((x) => x.id === `${id}-${s}`)!;
  const start = (strategy: string, component: Component) =>
    client.startRecovery({ strategy, component, trigger: 'manual', requestedBy: 'test', allComponents: config.components });
  const names = (r: RecoveryResult) => r.steps.map((st) => `${st.name}:${st.status}`);
  const health = async (component: Component) => {
    const url = component.probe.type === 'http' ? component.probe.url : '';
    return (await (await fetch(url)).json()) as { draining: boolean; drains: number };
  };

  before(async () => {
    mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    // What installing mend gives a user's repository: `mend/kit` resolves to this checkout.
    symlinkSync(ROOT, path.join(dir, 'node_modules', 'mend'));
    mkdirSync(runbooks);
    copyFileSync(path.join(ROOT, 'runbooks', 'drain-restart.ts'), path.join(runbooks, 'drain-restart.ts'));
    writeFileSync(path.join(runbooks, 'slow-restart.ts'), SLOW);
    writeFileSync(path.join(runbooks, 'always-fails.ts'), ALWAYS_FAILS);
    const { file } = await writeDemoConfig(dir, [
      { id: `store-${s}`, state: { paths: [`state/store-${s}.json`] } },
      { id: `api-${s}`, dependsOn: [`store-${s}`] },
      { id: `web-${s}`, dependsOn: [`api-${s}`] },
      { id: `slow-${s}`, policy: { strategy: 'slow-restart' } },
      { id: `flaky-${s}`, env: { FAIL_FIRST_STARTS: '1' }, timeout: '3s', policy: { strategy: 'immediate', escalation: ['immediate', 'slow-restart'] } },
      { id: `doomed-${s}`, policy: { strategy: 'always-fails', escalation: ['always-fails', 'immediate'] } },
    ]);
    config = loadConfigFile(file, { stateDir: path.join(dir, '.mend') });
    // The worker bundles the runbooks folder itself: no prebuilt bundle.
    worker = await startWorker(queue, { ...env(), MEND_WORKFLOW_BUNDLE: '' });
    client = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
    // The fleet drain-restart acts on, running before the test (started in dependency order).
    for (const id of ['store', 'api', 'web']) await startAdapter(c(id));
  });

  after(async () => {
    for (const comp of config?.components ?? []) await stopProcess(processAdapter(comp)).catch(() => undefined);
    await worker?.stop();
    await client?.close();
  });

  test('the worker names the custom runbooks it bundled', () => {
    assert.ok(
      worker!.output.some((l) => l.includes('custom runbooks: always-fails, drain-restart, slow-restart')),
      worker!.output.join('\n'),
    );
  });

  test('a config naming a runbook that is not in the folder is refused, naming the field and the known ones', async () => {
    const bad = path.join(dir, 'bad.config.yaml');
    writeFileSync(bad, readFileSync(path.join(dir, 'mend.config.yaml'), 'utf8').replace('"strategy":"slow-restart"', '"strategy":"slow-restarts"'));
    const res = await runCli(['config', 'validate', bad], env());
    assert.equal(res.code, 2);
    assert.match(
      res.stderr,
      /components\[3\]\.policy\.strategy: unknown strategy "slow-restarts" \(available: immediate, .*, always-fails, drain-restart, slow-restart\)/,
    );
  });

  test('drain-restart from the demo runbooks folder plans in a dry run, then drains, checkpoints, restarts, smoke-tests and undrains', async () => {
    const api = c('api');
    const web = c('web');
    await waitFor('the demo fleet to be healthy', 30_000, async () => (await fetch(web.probe.type === 'http' ? web.probe.url : '')).ok);
    const plan = await runCli(['run', 'drain-restart', api.id, '--dry-run', '--json'], env());
    assert.equal(plan.code, 0, plan.stderr);
    const planned = (JSON.parse(plan.stdout) as Array<{ result: RecoveryResult }>)[0]!.result;
    assert.equal(planned.outcome, 'planned');
    assert.equal(planned.strategy, 'drain-restart');
    assert.deepEqual(names(planned), [
      'probe:ok',
      'drain:planned',
      'checkpoint:planned',
      'stop:planned',
      'start:planned',
      'validate:planned',
      'smoke:planned',
      'undrain:planned',
    ]);
    assert.equal((await health(web)).drains, 0, 'a dry run drains nothing');

    const run = await start('drain-restart', api);
    const result = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.deepEqual(names(result), ['probe:ok', 'drain:ok', 'checkpoint:ok', 'stop:ok', 'start:ok', 'validate:ok', 'smoke:ok', 'undrain:ok']);
    assert.ok(result.steps.find((st) => st.name === 'drain')!.summary.endsWith(`/admin/drain`));
    assert.match(result.steps.find((st) => st.name === 'checkpoint')!.summary, new RegExp(`checkpoint store-${s} as before-restart-of-api-${s}`));
    const webNow = await health(web);
    assert.deepEqual([webNow.drains, webNow.draining], [1, false], 'web drained once and undrained');
    // The phases went up as search attributes and the history carries each step's summary.
    const history = await client.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const summaries = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.userMetadata?.summary?.data] : [])).filter(Boolean);
    assert.ok(summaries.length >= 7, `activities carry summaries (${summaries.length})`);
    const phases = (history.events ?? []).flatMap((e) => {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
      const phase = fields.MendPhase?.data;
      return phase ? [JSON.parse(Buffer.from(phase).toString())] : [];
    });
    assert.deepEqual(phases, ['detection', 'analysis', 'preparation', 'execution', 'validation', 'completion']);
    // Recorded as the user's replay fixture (the replay test below uses it).
    mkdirSync(path.join(runbooks, 'fixtures'), { recursive: true });
    const { address, temporalCli } = sharedServer();
    const json = execFileSync(temporalCli, ['workflow', 'show', '-w', run.workflowId, '-r', run.runId, '--address', address, '--output', 'json'], {
      encoding: 'utf8',
    });
    writeFileSync(
      path.join(runbooks, 'fixtures', 'drain-restart-recovered.json'),
      JSON.stringify({ workflowId: run.workflowId, ...(JSON.parse(json) as object) }),
    );
  });

  test('mend run drain-restart --watch prints every phase and every step once, in the order they happened', async () => {
    const res = await runCli(['run', 'drain-restart', c('api').id, '--watch'], env());
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const lines = res.stdout.split('\n');
    // Phases and ended steps, in printed order; a running step is announced at most once, before it ends.
    const shown = lines.flatMap((l) => {
      const phase = /^phase: (\w+)$/.exec(l);
      if (phase) return [`phase:${phase[1]}`];
      const step = /^ {2}(ok|failed|skipped|planned) +(\w+) /.exec(l);
      return step ? [step[2]!] : [];
    });
    assert.deepEqual(
      shown,
      [
        'phase:detection',
        'phase:analysis',
        'probe',
        'phase:preparation',
        'drain',
        'checkpoint',
        'phase:execution',
        'stop',
        'start',
        'phase:validation',
        'validate',
        'smoke',
        'undrain',
        'phase:completion',
      ],
      res.stdout,
    );
    const running = lines.flatMap((l) => /^ {2}running +(\w+) /.exec(l)?.[1] ?? []);
    assert.equal(new Set(running).size, running.length, `a step announced twice:\n${res.stdout}`);
    for (const name of running)
      assert.ok(
        lines.findIndex((l) => l.startsWith('  running') && l.includes(` ${name} `)) < lines.findIndex((l) => new RegExp(`^  ok +${name} `).test(l)),
        name,
      );
  });

  test('a kit runbook holds while paused and ends cancelled when cancelled', async () => {
    const slow = c('slow');
    const paused = await start('slow-restart', slow);
    await client.pause(paused.workflowId, 'test');
    // Held at the next step boundary: after its 4 s wait, or before it when the pause lands before
    // the run's first workflow task (on a loaded machine); either way paused with no step running.
    const held = await waitFor('the run to hold at a step boundary', 30_000, async () => {
      const p = await client.progress(paused.workflowId);
      return p.paused && !p.steps.some((st) => st.status === 'running') && p;
    });
    assert.ok(!held.steps.some((st) => st.name === 'stop'), 'no step after the pause');
    await client.resume(paused.workflowId, 'test');
    assert.equal((await client.result(paused.workflowId, paused.runId)).outcome, 'recovered');

    const cancelled = await start('slow-restart', slow);
    await waitFor('the wait to start', 30_000, async () => (await client.progress(cancelled.workflowId)).steps.some((st) => st.name === 'sleep'));
    await client.cancel(cancelled.workflowId);
    const result = await client.result(cancelled.workflowId, cancelled.runId);
    assert.equal(result.outcome, 'cancelled');
    assert.ok(!result.steps.some((st) => st.name === 'stop'), 'nothing acted after the cancel');
  });

  test('escalation goes from a built-in to a custom runbook, and from a custom runbook to a built-in', async () => {
    const up = await start('immediate', c('flaky'));
    const ladder = await client.result(up.workflowId, up.runId);
    assert.deepEqual(
      ladder.ladder?.map((r) => `${r.strategy}:${r.outcome}`),
      ['immediate:failed', 'slow-restart:recovered'],
    );
    assert.equal(ladder.outcome, 'recovered');

    const down = await start('always-fails', c('doomed'));
    const back = await client.result(down.workflowId, down.runId);
    assert.deepEqual(
      back.ladder?.map((r) => `${r.strategy}:${r.outcome}`),
      ['always-fails:failed', 'immediate:recovered'],
    );
  });

  test('mend runbook replay passes on the recorded history, and fails naming the runbook after a nondeterministic change', async () => {
    const ok = await runCli(['runbook', 'replay'], env());
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /ok {6}drain-restart-recovered\.json \(runbook drain-restart\)/);
    const file = path.join(runbooks, 'drain-restart.ts');
    const original = readFileSync(file, 'utf8');
    // A new step before the drains: running runs would now issue another command first.
    writeFileSync(file, original.replace("ctx.phase('preparation');", "ctx.phase('preparation');\n    await ctx.sleep(10, 'settle');"));
    try {
      const bad = await runCli(['runbook', 'replay'], env());
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /FAILED {2}drain-restart-recovered\.json \(runbook drain-restart\): /);
      assert.match(bad.stderr, /1 of 1 recorded histories no longer replay/);
    } finally {
      writeFileSync(file, original);
    }
  });
});

describe('a runbook that breaks the workflow sandbox', () => {
  test('fails the worker start with one error naming the file and the import; nothing polls', async () => {
    const dir = tempDir('bad-runbook');
    mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, path.join(dir, 'node_modules', 'mend'));
    mkdirSync(path.join(dir, 'runbooks'));
    writeFileSync(path.join(dir, 'runbooks', 'fine.ts'), ALWAYS_FAILS.replaceAll('always-fails', 'fine'));
    writeFileSync(
      path.join(dir, 'runbooks', 'reads-disk.ts'),
      `import { readFileSync } from 'fs';\nimport { defineRunbook } from 'mend/kit';\nexport default defineRunbook({ name: 'reads-disk', description: 'x', async run(ctx) { ctx.note(readFileSync('/etc/hostname', 'utf8')); } });\n`,
    );
    writeFileSync(path.join(dir, 'mend.config.yaml'), 'version: 1\ncomponents: []\n');
    const proc = spawnTs('workers/main.ts', {
      ...process.env,
      MEND_TEMPORAL_ADDRESS: sharedServer().address,
      MEND_TASK_QUEUE: uniqueQueue('bad-runbook'),
      MEND_WORKFLOW_BUNDLE: '',
      MEND_CONFIG: path.join(dir, 'mend.config.yaml'),
    });
    const code = await proc.exited;
    assert.equal(code, 1);
    const errors = proc.output.filter((l) => l.startsWith('worker: '));
    assert.equal(errors.length, 1, proc.output.join('\n'));
    assert.match(errors[0]!, new RegExp(`${path.join(dir, 'runbooks', 'reads-disk.ts').replaceAll('/', '\\/')} imports "fs", which runbook code cannot use`));
    assert.ok(!proc.output.some((l) => l.includes('worker polling')), 'no worker polled');
  });
});
