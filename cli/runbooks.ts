/** `mend runbooks` (list), `mend runbook new <name>` (scaffold), `mend runbook replay` (the determinism guard for a user's CI). */
import type { Command } from '@commander-js/extra-typings';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runbooksDirOf } from '../client/config';
import { listRunbookFiles, loadRunbookMeta } from '../client/runbooks';
import { RUNBOOK_NAME_PATTERN, STRATEGIES } from '../core/schemas';
import type { Settings } from '../core/settings';
import { BUILTIN_RUNBOOKS } from '../kit/meta';
import { CliError, EXIT } from './errors';
import { bundleCacheDirOf, cachedWorkflowBundle } from '../workers/bundle-cache';
import type * as RunbookTester from './runbook-test';
import type * as TemporalWorker from '@temporalio/worker';

/** Where `mend runbook replay` finds recorded histories: `<runbooks>/fixtures/*.json`. */
export const FIXTURES = 'fixtures';

export function addRunbookCommands(program: Command, settings: Settings): void {
  program
    .command('runbooks')
    .description("list the runbooks: built-in and custom (the config's runbooks folder), with description, targets and source")
    .option('-c, --config <file>', 'components config (its runbooks: folder)', settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .action((opts) => {
      const custom = listRunbookFiles(runbooksDirOf(opts.config)).map((file) => ({
        ...loadRunbookMeta(file),
        source: path.relative(process.cwd(), file.file) || file.file,
      }));
      const rows = [...BUILTIN_RUNBOOKS.map((r) => ({ ...r, kind: 'built-in' })), ...custom.map((r) => ({ ...r, kind: 'custom' }))];
      if (opts.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      const width = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows)
        console.log(`${r.name.padEnd(width)}  ${r.kind.padEnd(8)}  ${r.targets.padEnd(10)}  ${r.source}\n${' '.repeat(width + 2)}${r.description}`);
    });

  const runbook = program.command('runbook').description('write and check custom runbooks');

  runbook
    .command('new')
    .description('scaffold a custom runbook (<runbooks>/<name>.ts) and a test for it (<name>.test.ts)')
    .argument('<name>', 'lowercase words joined by "-", e.g. drain-restart')
    .option('-c, --config <file>', 'components config (its runbooks: folder)', settings.MEND_CONFIG)
    .action((name, opts) => {
      if (!RUNBOOK_NAME_PATTERN.test(name) || name.length > 63)
        throw new CliError(`runbook name ${JSON.stringify(name)}: expected lowercase words joined by "-", e.g. drain-restart`, EXIT.usage);
      if ((STRATEGIES as readonly string[]).includes(name) || name === 'saga')
        throw new CliError(`runbook name "${name}" is a built-in name; choose another`, EXIT.usage);
      const dir = runbooksDirOf(opts.config);
      const file = path.join(dir, `${name}.ts`);
      const test = path.join(dir, `${name}.test.ts`);
      if (existsSync(file)) throw new CliError(`${file} exists already; nothing written`, EXIT.usage);
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, runbookTemplate(name));
      if (!existsSync(test)) writeFileSync(test, testTemplate(name));
      console.log(`wrote ${path.relative(process.cwd(), file)} and ${path.relative(process.cwd(), test)}`);
      console.log(`test it: mend runbook test ${name}   (an ephemeral Temporal, a worker and a demo service; records a replay fixture)`);
      console.log(`run it: mend run ${name} <component> --dry-run   (restart the worker first: it bundles the runbooks folder at start)`);
    });

  runbook
    .command('test')
    .description(
      "run a runbook's test (<runbooks>/<name>.test.ts; every runbook's without a name) against an ephemeral Temporal dev server, a worker with the runbooks folder and a real demo service (the component `demo`); a passing test's runs are recorded as replay fixtures in <runbooks>/fixtures/",
    )
    .argument('[name]', 'the runbook (default: every runbook with a test)')
    .option('-c, --config <file>', 'components config (its runbooks: folder)', settings.MEND_CONFIG)
    .addHelpText(
      'after',
      '\nExamples:\n  mend runbook test restart-twice\n  mend runbook test            # every runbook with a test\n  mend runbook replay          # then, e.g. in CI: the recorded runs still replay',
    )
    .action(async (name, opts) => {
      // Loaded here: the dev server, the bundler and the SDK's worker are heavy, and only this command needs them.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { testRunbooks } = require('./runbook-test') as typeof RunbookTester;
      const failed = await testRunbooks(runbooksDirOf(opts.config), name, (line) => console.log(line), bundleCacheDirOf(settings.MEND_HOME));
      if (failed > 0) throw new CliError(`${failed} runbook test${failed === 1 ? '' : 's'} failed`, EXIT.failed);
    });

  runbook
    .command('replay')
    .description('replay every recorded history in <runbooks>/fixtures against the current runbook code; fails naming the runbook and the problem')
    .option('-c, --config <file>', 'components config (its runbooks: folder)', settings.MEND_CONFIG)
    .action(async (opts) => {
      const dir = runbooksDirOf(opts.config);
      const fixturesDir = path.join(dir, FIXTURES);
      const fixtures = existsSync(fixturesDir)
        ? readdirSync(fixturesDir)
            .filter((f) => f.endsWith('.json'))
            .sort()
        : [];
      if (fixtures.length === 0) {
        console.log(`no recorded histories in ${path.relative(process.cwd(), fixturesDir) || fixturesDir}: nothing to replay`);
        return;
      }
      // Loaded here: the SDK's worker is heavy, and only this command needs it.
      /* eslint-disable @typescript-eslint/no-require-imports */
      const { Worker, Runtime, DefaultLogger } = require('@temporalio/worker') as typeof TemporalWorker;
      /* eslint-enable @typescript-eslint/no-require-imports */
      quietSdkLogs(Runtime, DefaultLogger);
      // From the bundle cache the worker and `mend runbook test` fill, while every file it was built from is unchanged;
      // else bundled now (a changed runbook is bundled again, so the replay is always of the current code).
      const { codePath } = await cachedWorkflowBundle(listRunbookFiles(dir), bundleCacheDirOf(settings.MEND_HOME), { inProcess: true });
      let failed = 0;
      for (const fixture of fixtures) {
        const { workflowId, ...history } = JSON.parse(readFileSync(path.join(fixturesDir, fixture), 'utf8')) as { workflowId?: string; events: unknown[] };
        const name = runbookOf(history);
        try {
          await Worker.runReplayHistory({ workflowBundle: { codePath }, replayName: fixture }, history, workflowId);
          console.log(`ok      ${fixture} (runbook ${name})`);
        } catch (err) {
          failed += 1;
          console.log(`FAILED  ${fixture} (runbook ${name}): ${(err as Error).message.split('\n')[0]}`);
        }
      }
      if (failed > 0)
        throw new CliError(
          `${failed} of ${fixtures.length} recorded histories no longer replay: a runbook changed what running runs would do; put the change behind patched('<name>')`,
          EXIT.failed,
        );
    });
}

/**
 * The SDK's own log at ERROR: its INFO and WARN lines (worker states, each activity, a queue with no
 * workflows) would bury the command's output, which says itself what failed. The runtime is installed once per process; one already installed (an embedding process) is kept.
 */
export function quietSdkLogs(runtime: typeof TemporalWorker.Runtime, logger: typeof TemporalWorker.DefaultLogger): void {
  try {
    runtime.install({ logger: new logger('ERROR') });
  } catch {
    // installed already: its logger stays
  }
}

/** The runbook a history ran: its workflow type, `runbook_<name>` for custom ones. */
function runbookOf(history: { events: unknown[] }): string {
  const first = history.events[0] as { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } } | undefined;
  const type = first?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
  return type.startsWith('runbook_') ? type.slice('runbook_'.length).replaceAll('_', '-') : type;
}

function runbookTemplate(name: string): string {
  return `/**
 * ${name}: say here what it does and when an operator should use it.
 * Runbook code is a deterministic workflow: do I/O only in steps (ctx.command, ctx.http, ...).
 */
import { defineRunbook } from 'mend/kit';

export default defineRunbook({
  name: '${name}',
  description: 'probe, restart and validate (edit me)',
  targets: 'components',
  async run(ctx) {
    ctx.phase('analysis');
    const before = await ctx.probe();
    const validated = await ctx.restartAndValidate({ before });
    if (!ctx.dryRun && !validated?.healthy) ctx.fail(ctx.notHealthyReason(validated), validated?.last.failureClass);
  },
});
`;
}

function testTemplate(name: string): string {
  return `/**
 * Tests of ${name}. Run: mend runbook test ${name}
 * (an ephemeral Temporal dev server, a worker with the runbooks folder and a real demo service, the
 * component \`demo\`; the runs of a passing test are recorded in fixtures/ for \`mend runbook replay\`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runRunbook } from 'mend/testing';
import runbook from './${name}';

test('${name} declares its name, a description and its targets', () => {
  assert.equal(runbook.runbook.name, '${name}');
  assert.ok(runbook.runbook.description.length > 0);
  assert.equal(runbook.runbook.targets, 'components');
});

test('${name} plans its steps in a dry run', async () => {
  const plan = await runRunbook('${name}', { dryRun: true });
  assert.equal(plan.outcome, 'planned', plan.reason);
  assert.deepEqual(
    plan.steps.map((s) => \`\${s.name}:\${s.status}\`),
    ['probe:ok', 'stop:planned', 'start:planned', 'validate:planned'],
  );
});

test('${name} restarts the demo service and ends recovered', async () => {
  const result = await runRunbook('${name}');
  assert.equal(result.outcome, 'recovered', result.reason);
  assert.deepEqual(
    result.steps.map((s) => \`\${s.name}:\${s.status}\`),
    ['probe:ok', 'stop:ok', 'start:ok', 'validate:ok'],
  );
});
`;
}
