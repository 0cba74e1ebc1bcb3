/** `mend worker` and `mend api`: the central worker and the HTTP API in the foreground (same as `npm run worker` / `npm run api`). */
import type { Command } from '@commander-js/extra-typings';
import { runForeground } from './foreground';

export function addServeCommands(program: Command): void {
  program
    .command('worker')
    .description(
      "run the central worker: the workflow bundle (built-ins and the config's runbooks folder, bundled at start) and the default host's activities, on MEND_TASK_QUEUE",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  mend worker\n  MEND_CONFIG=./mend.config.yaml MEND_TEMPORAL_ADDRESS=temporal.internal:7233 mend worker\n\nA runbook that breaks the workflow sandbox stops the start with one line naming the file and the import.',
    )
    .action(async () => {
      process.exitCode = await runForeground('workers/main.ts');
    });

  program
    .command('api')
    .description('run the HTTP API (Fastify) on MEND_API_HOST:MEND_API_PORT, for the config of MEND_CONFIG')
    .addHelpText('after', '\nExamples:\n  mend api\n  MEND_TOKENS="ops-token:operator" MEND_API_PORT=3100 mend api')
    .action(async () => {
      process.exitCode = await runForeground('api/main.ts');
    });
}
