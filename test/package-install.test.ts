// Concurrent lane is fine: packs mend and npm-installs the tarball into a fresh project (a minute of npm and disk), then bundles a worker from it
/**
 * mend as a package in a user's own repository: `npm pack` of this checkout, installed into a fresh
 * temporary project outside the repo. From the installed package only: `mend runbook new` scaffolds
 * a runbook, `mend runbook test` passes it (recording fixtures `mend runbook replay` replays), and a worker started with `mend worker` bundles the project's
 * runbooks folder (mend's own TypeScript compiled from node_modules) and runs the new runbook on a
 * real demo service, started by `mend run` from the installed bin.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { processAdapter, stopProcess } from '../domain/adapters/process';
import { loadConfigFile } from '../client/config';
import type { RecoveryResult } from '../core/run';
import type { Config } from '../core/schemas';
import { ROOT, sharedServer, demoStarts, tempDir, uniqueQueue, GiveUp, waitFor, writeDemoConfig, type CliResult } from './helpers';

/** Runs a command to its end in `cwd`, collecting its output. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    // Without the runner's NODE_TEST_CONTEXT: a `node --test` child would report to this runner, not print.
    const proc = spawn(command, args, { cwd, env: { ...process.env, NODE_TEST_CONTEXT: undefined, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('mend installed from npm pack into a fresh project', () => {
  const work = tempDir('package');
  const project = path.join(work, 'ops');
  const queue = uniqueQueue('package');
  const mendBin = path.join(project, 'node_modules', '.bin', 'mend');
  let config: Config;
  let worker: { proc: ReturnType<typeof spawn>; output: string[]; exited: Promise<number | null> } | undefined;
  const env = () => ({
    MEND_TEMPORAL_ADDRESS: sharedServer().address,
    MEND_TASK_QUEUE: queue,
    // The runner's prebuilt bundle is this checkout's: the installed worker bundles its own.
    MEND_WORKFLOW_BUNDLE: '',
  });

  before(async () => {
    const packed = await run('npm', ['pack', '--pack-destination', work, '--loglevel=error'], ROOT);
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = path.join(work, packed.stdout.trim().split('\n').pop()!);
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'ops', version: '1.0.0', private: true }));
    // mend's dependencies are in npm's cache already: prefer it over the registry.
    const installed = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], project);
    assert.equal(installed.code, 0, installed.stderr);
  });

  after(async () => {
    for (const comp of config?.components ?? []) await stopProcess(processAdapter(comp)).catch(() => undefined);
    if (worker && worker.proc.exitCode === null) {
      worker.proc.kill('SIGTERM');
      await worker.exited;
    }
  });

  test('the package holds mend, not a link to this checkout, and no tests or benchmarks', () => {
    const installed = path.join(project, 'node_modules', 'mend');
    assert.equal(realpathSync(installed), installed);
    assert.ok(existsSync(path.join(installed, 'kit', 'index.ts')));
    assert.ok(existsSync(path.join(installed, 'demo', 'service.js')));
    for (const absent of ['test', 'bench', 'chaos', 'runbooks']) assert.ok(!readdirSync(installed).includes(absent), absent);
  });

  test('mend runbook new scaffolds a runbook that imports mend/kit; mend runbook test passes it and records fixtures that replay', async () => {
    const made = await run(mendBin, ['runbook', 'new', 'restart-twice'], project, env());
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /wrote runbooks\/restart-twice\.ts and runbooks\/restart-twice\.test\.ts/);
    const listed = await run(mendBin, ['runbooks', '--json'], project, env());
    assert.equal(listed.code, 0, listed.stderr);
    const custom = (JSON.parse(listed.stdout) as Array<{ name: string; kind: string; source: string }>).filter((r) => r.kind === 'custom');
    assert.deepEqual(custom, [
      {
        name: 'restart-twice',
        description: 'probe, restart and validate (edit me)',
        targets: 'components',
        kind: 'custom',
        source: 'runbooks/restart-twice.ts',
      },
    ]);
    // Its test against mend's own ephemeral dev server and demo service, from the installed package; its runs become fixtures.
    const tested = await run(mendBin, ['runbook', 'test', 'restart-twice'], project);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 3\n# fail 0/);
    assert.match(tested.stdout, /recorded runbooks\/fixtures\/restart-twice\.json/);
    const replayed = await run(mendBin, ['runbook', 'replay'], project);
    assert.equal(replayed.code, 0, replayed.stdout + replayed.stderr);
    assert.match(replayed.stdout, /^ok {6}restart-twice\.json \(runbook restart-twice\)$/m);
  });

  test('a worker started from the installed package runs the new runbook on a real service', async () => {
    const { file } = await writeDemoConfig(project, [
      // The demo service as the package ships it.
      { id: 'demo', command: ['node', path.join(project, 'node_modules', 'mend', 'demo', 'service.js')], policy: { strategy: 'restart-twice' } },
    ]);
    config = loadConfigFile(file, { stateDir: path.join(project, '.mend') });
    const proc = spawn(mendBin, ['worker'], { cwd: project, env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    for (const stream of [proc.stdout!, proc.stderr!]) readline.createInterface({ input: stream }).on('line', (line) => output.push(line));
    worker = { proc, output, exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) };
    await waitFor(
      'the installed worker to poll',
      180_000,
      () => output.some((l) => l.includes('worker polling')) || (proc.exitCode !== null && Promise.reject(new GiveUp(`worker exited: ${output.join('\n')}`))),
    );
    assert.ok(
      output.some((l) => l === 'custom runbooks: restart-twice'),
      output.join('\n'),
    );

    const ran = await run(mendBin, ['run', 'restart-twice', 'demo', '--json'], project, env());
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    const result = (JSON.parse(ran.stdout) as Array<{ result: RecoveryResult }>)[0]!.result;
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.equal(result.strategy, 'restart-twice');
    assert.deepEqual(
      result.steps.map((s) => `${s.name}:${s.status}`),
      ['probe:ok', 'stop:ok', 'start:ok', 'validate:ok'],
    );
    assert.equal(demoStarts(project, 'demo'), 1, 'the runbook started the demo service once');
  });
});
