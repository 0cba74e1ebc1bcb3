/** `mend agent --host <id>`: this host's agent in the foreground (same as `npm run agent -- --host <id>`). */
import type { Command } from '@commander-js/extra-typings';
import { HostIdSchema } from '../core/schemas';
import { CliError, EXIT } from './errors';
import { AGENT_NODE_ARGS } from '../workers/node-args';
import { runForeground } from './foreground';

export function addAgentCommand(program: Command): void {
  program
    .command('agent')
    .description(
      "run this host's agent: an activities-only worker polling mend/host/<id>, acting on the components the config puts on that host (start, stop, probes, checkpoints, spools)",
    )
    .requiredOption('--host <id>', "the host id, as in the config's hosts:")
    .addHelpText(
      'after',
      "\nExamples:\n  mend agent --host web-1\n  MEND_TEMPORAL_ADDRESS=temporal.internal:7233 MEND_HOME=/var/lib/mend mend agent --host db-1\n\nOne agent per host; Temporal, the central worker and the API run once. MEND_HOME holds this host's pid files, logs and checkpoints.",
    )
    .action(async (opts) => {
      const parsed = HostIdSchema.safeParse(opts.host);
      if (!parsed.success) throw new CliError(`--host: ${parsed.error.issues[0]?.message ?? 'invalid host id'}`, EXIT.usage);
      process.exitCode = await runForeground('workers/agent.ts', ['--host', parsed.data], AGENT_NODE_ARGS);
    });
}
