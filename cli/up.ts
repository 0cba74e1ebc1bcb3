/** `mend up`: the dev stack in the foreground (same as `npm start`). */
import type { Command } from '@commander-js/extra-typings';
import { runForeground } from './foreground';

export function addUpCommand(program: Command): void {
  program
    .command('up')
    .description(
      'run the dev stack in the foreground (same as `npm start`): Temporal dev server and Web UI, worker, API, the process components of the config, health schedules; a worker or API that dies is restarted; Ctrl-C stops it (and the process components, unless MEND_COMPONENTS_ON_EXIT=leave)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  mend up\n  MEND_CONFIG=./my.config.yaml MEND_API_PORT=3100 mend up\n\nSettings come from the environment (MEND_CONFIG, MEND_HOME, MEND_API_PORT, MEND_TEMPORAL_PORT, MEND_UI_PORT, MEND_TEMPORAL_HTTP_PORT, MEND_TEMPORAL_METRICS_PORT, MEND_COMPONENTS_ON_EXIT, ...); see the README.',
    )
    .action(async () => {
      // It runs from mend's folder, as `npm start` does; MEND_CONFIG and MEND_HOME (given or default) are the caller's.
      process.exitCode = await runForeground('scripts/dev-stack.ts');
    });
}
