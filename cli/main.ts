/** The `mend` command. Bad usage exits 2, a failed run 1, Temporal not reachable 3. */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { randomUUID } from 'node:crypto';
import { AlreadyRunningError, RunNotFoundError, RunRefusedError, TemporalUnreachableError, type StartedRun } from '../client';
import { loadConfigFile } from '../client/config';
import { recoveryWorkflowId } from '../core/constants';
import type { RecoveryResult } from '../core/run';
import { ValidationError } from '../core/errors';
import { RunRequestSchema, STRATEGIES, StrategySchema, type RunOptions, type Strategy } from '../core/schemas';
import { readSettings, type Settings } from '../core/settings';
import { addBacklogCommand } from './backlog';
import { addCheckpointCommand } from './checkpoint';
import { addDrillCommand } from './drill';
import { addComponentCommands } from './components';
import { addRunsCommand } from './runs';
import { addAgentCommand } from './agent';
import { addServeCommands } from './serve';
import { addHostsCommand } from './hosts';
import { addRunbookCommands } from './runbooks';
import { addBreakerCommand } from './breaker';
import { addUpCommand } from './up';
import { addSupervisionCommands } from './supervision';
import { CliError, EXIT } from './errors';
import { dim, formatResult } from './format';
import { newWatchState, progressLines, watchRun } from './watch';
import { withOps } from './ops';
import { configJsonSchema } from './schema';

function parseStrategy(text: string): Strategy {
  const parsed = StrategySchema.safeParse(text);
  if (!parsed.success) throw new CliError(parsed.error.issues[0]?.message ?? `unknown strategy ${text}`, EXIT.usage);
  return parsed.data;
}

/** A workflow id as given, or a bare component id meaning its recovery run. */
function runIdOf(text: string): string {
  return text.includes('/') ? text : recoveryWorkflowId(text);
}

function isSuccess(result: RecoveryResult): boolean {
  return result.outcome === 'recovered' || result.outcome === 'planned';
}

function parseRunOptions(raw: Record<string, unknown>): RunOptions {
  const parsed = RunRequestSchema.shape.options.safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`--${String(issue?.path[0] ?? 'option')}: ${issue?.message ?? 'invalid'}`, EXIT.usage);
  }
  return parsed.data;
}

function parseRequestId(text: string | undefined): string {
  if (text === undefined) return randomUUID();
  if (!/^[\w.-]{1,100}$/.test(text)) throw new CliError('--request-id: expected letters, digits, ".", "_" or "-" (max 100)', EXIT.usage);
  return text;
}

export function buildProgram(settings: Settings): Command {
  const program = new Command('mend').description('durable recovery runbooks on Temporal').showHelpAfterError('(run with --help for usage)').exitOverride();

  program
    .command('run')
    .description(
      'run a recovery strategy on components (one run per component), a custom runbook on what it targets (components, --host <id>, or nothing), or a configured saga by name',
    )
    .argument('<strategy>', `${STRATEGIES.join(', ')}, a custom runbook (mend runbooks), or saga`)
    .argument('[targets...]', 'component ids from the config (for saga: the saga name; none for a runbook on a host or on no target)')
    .option('--host <id>', 'the host a runbook with targets: host runs on (a host id from the config, or local)')
    .option('-c, --config <file>', "components config (not used with MEND_URL: the API's config is)", settings.MEND_CONFIG)
    .option('--reason <text>', 'why (shown in the Web UI)')
    .option('--dry-run', 'show the plan without acting')
    .option('--watch', 'show live progress (phase, steps, next retry, approvals) until the run ends')
    .option('--no-wait', 'print the run ids and return without waiting for the result')
    .option('--checkpoint <id>', 'state-recovery: restore this checkpoint')
    .option('--before <time>', 'state-recovery: restore the newest checkpoint created before this ISO time')
    .option('--no-escalation', "do not start the policy's escalation chain if this run fails")
    .option('--request-id <id>', 'saga: idempotency key; the same id never runs the saga twice (default: a new one)')
    .option('--json', 'print results as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  mend run immediate api --reason "api stopped answering" --watch\n  mend run state-recovery store --before 2026-11-23T10:00:00Z\n  mend run rotate-logs --host b        # a runbook with targets: host\n  mend run prune-checkpoints           # a runbook with targets: none\n  mend run saga rotate-store --dry-run',
    )
    .action(async (strategyText, targets, opts) => {
      // Checked before anything is reached: bad usage starts nothing, whichever way mend is reached.
      const saga = strategyText === 'saga';
      if (saga && targets.length !== 1) throw new CliError('saga: name exactly one saga', EXIT.usage);
      if (saga && opts.host !== undefined) throw new CliError('--host: a saga runs where its steps say; name no host', EXIT.usage);
      const requestId = saga ? parseRequestId(opts.requestId) : undefined;
      const strategy = saga ? undefined : parseStrategy(strategyText);
      const options = saga
        ? undefined
        : parseRunOptions({ checkpoint: opts.checkpoint, before: opts.before, noEscalation: opts.escalation === false ? true : undefined });
      await withOps(settings, opts.config, async (ops) => {
        const started: Array<StartedRun & { target: string }> = [];
        // Each run is recorded and printed as it starts: if a later one is refused, the earlier ones are known.
        const announce = (target: string, run: StartedRun) => {
          started.push({ target, ...run });
          if (!opts.json) console.log(`started ${run.workflowId} (${strategyText}) → ${run.url}`);
        };
        if (saga) announce(targets[0]!, await ops.startSaga({ name: targets[0]!, requestId: requestId!, reason: opts.reason, dryRun: opts.dryRun }));
        else
          await ops.startRecoveries({ strategy: strategy!, components: targets, host: opts.host, reason: opts.reason, dryRun: opts.dryRun, options }, announce);
        if (!opts.wait) {
          if (opts.json) console.log(JSON.stringify(started, null, 2));
          return;
        }
        const watching = opts.watch && !opts.json;
        const results = await Promise.all(
          started.map(async (run) => ({
            ...run,
            result: watching
              ? await watchRun(ops, run.workflowId, run.runId, (line) => console.log(started.length > 1 ? `[${run.target}] ${line}` : line))
              : await ops.result(run.workflowId, run.runId),
          })),
        );
        if (opts.json) console.log(JSON.stringify(results, null, 2));
        else for (const { target, result } of results) console.log(formatResult(target, result, { stepsShown: watching }));
        if (!results.every((r) => isSuccess(r.result))) process.exitCode = EXIT.failed;
      });
    });

  program
    .command('status')
    .description('show a run: status, phase, steps, approval, result')
    .argument('<run>', 'workflow id, e.g. mend/recover/api (a bare component id means its recovery run)')
    .option('--watch', 'follow the run live until it ends')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  mend status api\n  mend status mend/recover/api --watch')
    .action(async (runArg, opts) => {
      const workflowId = runIdOf(runArg);
      await withOps(settings, undefined, async (ops) => {
        const d = await ops.describe(workflowId);
        if (opts.json) {
          console.log(JSON.stringify(d, null, 2));
          return;
        }
        console.log(`${d.workflowId} (${d.type}) ${d.status} since ${d.startTime}${d.closeTime ? `, closed ${d.closeTime}` : ''}\n${dim(d.url)}`);
        if (d.result) {
          console.log(formatResult(d.workflowId, d.result));
          if (!isSuccess(d.result)) process.exitCode = EXIT.failed;
          return;
        }
        const state = newWatchState();
        if (d.progress) for (const line of progressLines(state, d.progress, workflowId)) console.log(line);
        // Over the API, a run that did not answer its progress query in time is described without it.
        if (d.unanswered) console.log(`partial: ${d.unanswered}`);
        if (d.status === 'RUNNING') {
          if (!opts.watch) return;
          const result = await watchRun(ops, workflowId, d.runId, (line) => console.log(line), state);
          console.log(formatResult(workflowId, result, { stepsShown: true }));
          if (!isSuccess(result)) process.exitCode = EXIT.failed;
          return;
        }
        // Closed without a result: terminated, cancelled from outside the run, timed out.
        process.exitCode = EXIT.failed;
      });
    });

  for (const [name, description] of [
    ['pause', 'hold a run before its next side effect (the step in progress finishes)'],
    ['resume', 'let a paused run go on'],
    ['cancel', 'stop a run: the step in progress is cancelled, nothing further runs (a saga compensates first)'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument('<run>', 'workflow id, e.g. mend/recover/api (a bare component id means its recovery run)')
      .option('--reason <text>', 'why (recorded with the signal)')
      .addHelpText('after', `\nExample:\n  mend ${name} mend/recover/api`)
      .action(async (runArg, opts) => {
        const workflowId = runIdOf(runArg);
        await withOps(settings, undefined, async (ops) => {
          await ops.control(workflowId, name, opts.reason);
          console.log(`${name === 'cancel' ? 'cancellation requested for' : `${name}d`} ${workflowId}`);
        });
      });
  }

  program
    .command('approve')
    .description('approve (or reject) a run waiting for an approval, e.g. an emergency reset')
    .argument('<run>', 'workflow id, e.g. mend/recover/store (a bare component id means its recovery run)')
    .option('--reason <text>', 'why (recorded in the run and shown in the Web UI)')
    .option('--reject', 'reject instead: the run ends without doing anything')
    .option('--by <who>', "who decides (default: your user name; with MEND_URL the token's name is recorded instead)")
    .addHelpText(
      'after',
      '\nExamples:\n  mend approve store --reason "disk replaced, reset is safe"\n  mend approve mend/recover/store --reject --reason "not during the sale"',
    )
    .action(async (runArg, opts) => {
      const workflowId = runIdOf(runArg);
      await withOps(settings, undefined, async (ops) => {
        const status = await ops.approve(workflowId, { approve: !opts.reject, by: opts.by, reason: opts.reason });
        console.log(`${status.workflowId}: ${status.state} by ${status.by}${status.reason ? ` (${status.reason})` : ''}`);
      });
    });

  const config = program.command('config').description('work with the components config');
  config
    .command('validate')
    .description('check a config file and name every problem')
    .argument('[file]', 'config file', settings.MEND_CONFIG)
    .addHelpText('after', '\nExample:\n  mend config validate mend.config.yaml')
    .action((file) => {
      const parsed = loadConfigFile(file, { stateDir: settings.MEND_HOME });
      console.log(`${file}: ok (${parsed.components.length} components: ${parsed.components.map((c) => c.id).join(', ')})`);
    });

  program
    .command('schema')
    .description('print the JSON Schema of the config file (for editors: yaml-language-server)')
    .addHelpText('after', '\nExample:\n  mend schema > mend.config.schema.json')
    .action(() => {
      console.log(JSON.stringify(configJsonSchema(), null, 2));
    });

  addCheckpointCommand(program, settings);
  addBacklogCommand(program, settings);
  addDrillCommand(program, settings);
  addSupervisionCommands(program, settings);
  addComponentCommands(program, settings);
  addRunsCommand(program, settings);
  addUpCommand(program);
  addAgentCommand(program);
  addServeCommands(program);
  addHostsCommand(program, settings);
  addRunbookCommands(program, settings);
  addBreakerCommand(program, settings);
  return program;
}

/** Maps any error to one readable line and an exit code; never prints a stack unless MEND_DEBUG is set. */
export function exitCodeFor(err: unknown): { code: number; message?: string } {
  if (err instanceof CommanderError) {
    // Commander already printed its message (or the help).
    return { code: err.exitCode === 0 ? EXIT.ok : EXIT.usage };
  }
  if (err instanceof CliError) return { code: err.exitCode, message: err.message };
  if (err instanceof ValidationError) return { code: EXIT.usage, message: err.message };
  if (err instanceof TemporalUnreachableError) return { code: EXIT.unreachable, message: err.message };
  if (err instanceof AlreadyRunningError) return { code: EXIT.failed, message: err.message };
  if (err instanceof RunNotFoundError) return { code: EXIT.usage, message: err.message };
  if (err instanceof RunRefusedError) return { code: EXIT.failed, message: err.message };
  return { code: EXIT.failed, message: err instanceof Error ? err.message : String(err) };
}

/**
 * Runs one command line with `env` (settings) and returns its exit code. It never exits the
 * process (bin/mend does, with this code), so tests can call it in-process.
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Commands report failure through process.exitCode: read this command's, give back the caller's.
  const callers = process.exitCode;
  process.exitCode = undefined;
  try {
    const settings = readSettings(env);
    await buildProgram(settings).parseAsync(argv);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (err) {
    const { code, message } = exitCodeFor(err);
    if (message) console.error(`mend: ${message.split('\n')[0]}`);
    if (env.MEND_DEBUG && err instanceof Error) console.error(err.stack);
    return code;
  } finally {
    process.exitCode = callers;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => process.exit(code));
}
