/** The `mend` command. Bad usage exits 2, a failed run 1, Temporal not reachable 3. */
import os from 'node:os';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { AlreadyRunningError, MendClient, TemporalUnreachableError } from '../client';
import { loadConfigFile } from '../client/config';
import { selectComponents } from '../core/config';
import { ValidationError } from '../core/errors';
import { StrategySchema, type Strategy } from '../core/schemas';
import { readSettings, type Settings } from '../core/settings';
import { CliError, EXIT } from './errors';
import { formatResult } from './format';
import { configJsonSchema } from './schema';

function parseStrategy(text: string): Strategy {
  const parsed = StrategySchema.safeParse(text);
  if (!parsed.success) throw new CliError(parsed.error.issues[0]?.message ?? `unknown strategy ${text}`, EXIT.usage);
  return parsed.data;
}

async function connect(settings: Settings): Promise<MendClient> {
  return MendClient.connect({
    address: settings.MEND_TEMPORAL_ADDRESS,
    namespace: settings.MEND_NAMESPACE,
    taskQueue: settings.MEND_TASK_QUEUE,
    uiUrl: settings.MEND_UI_URL,
  });
}

export function buildProgram(settings: Settings): Command {
  const program = new Command('mend')
    .description('durable recovery runbooks on Temporal')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('run')
    .description('run a recovery strategy on one or more components (one run per component)')
    .argument('<strategy>', 'strategy to run, e.g. immediate')
    .argument('<components...>', 'component ids from the config')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .option('--reason <text>', 'why (shown in the Web UI)')
    .option('--dry-run', 'show the plan without acting')
    .option('--no-wait', 'print the run ids and return without waiting for the result')
    .option('--json', 'print results as JSON')
    .addHelpText('after', '\nExample:\n  mend run immediate api --reason "api stopped answering"')
    .action(async (strategyText, componentIds, opts) => {
      const strategy = parseStrategy(strategyText);
      const config = loadConfigFile(opts.config, { stateDir: settings.MEND_HOME });
      const components = selectComponents(config, componentIds);
      const client = await connect(settings);
      try {
        const requestedBy = `${os.userInfo().username}@cli`;
        const started = [];
        for (const component of components) {
          const run = await client.startRecovery({ strategy, component, trigger: 'manual', requestedBy, reason: opts.reason, dryRun: opts.dryRun, allComponents: config.components });
          started.push({ component: component.id, ...run });
          if (!opts.json) console.log(`started ${run.workflowId} (${strategy}) → ${run.url}`);
        }
        if (!opts.wait) {
          if (opts.json) console.log(JSON.stringify(started, null, 2));
          return;
        }
        const results = await Promise.all(started.map(async (run) => ({ ...run, result: await client.result(run.workflowId, run.runId) })));
        if (opts.json) console.log(JSON.stringify(results, null, 2));
        else for (const { component, result } of results) console.log(formatResult(component, result));
        const ok = results.every((r) => r.result.outcome === 'recovered' || r.result.outcome === 'planned');
        if (!ok) process.exitCode = EXIT.failed;
      } finally {
        await client.close();
      }
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
  return { code: EXIT.failed, message: err instanceof Error ? err.message : String(err) };
}

export async function main(argv: string[]): Promise<number> {
  try {
    const settings = readSettings(process.env);
    await buildProgram(settings).parseAsync(argv);
    return Number(process.exitCode ?? EXIT.ok);
  } catch (err) {
    const { code, message } = exitCodeFor(err);
    if (message) console.error(`mend: ${message.split('\n')[0]}`);
    if (process.env.MEND_DEBUG && err instanceof Error) console.error(err.stack);
    return code;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => process.exit(code));
}
