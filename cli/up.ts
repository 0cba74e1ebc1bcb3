/** `mend up`: the dev stack in the foreground (same as `npm start`). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Command } from '@commander-js/extra-typings';

const ROOT = path.resolve(__dirname, '..');

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
      // It runs from the checkout, as `npm start` does; paths the caller gave stay relative to where they are.
      const env = { ...process.env };
      for (const name of ['MEND_CONFIG', 'MEND_HOME'] as const) if (env[name]) env[name] = path.resolve(env[name]);
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/dev-stack.ts')], { cwd: ROOT, stdio: 'inherit', env });
      // The stack stops on these itself (a terminal's Ctrl-C reaches the whole group): pass them on when sent to mend alone.
      const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward(signal));
      const code = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
      process.exitCode = code;
    });
}
