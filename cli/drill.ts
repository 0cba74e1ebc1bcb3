/** `mend drill <name>`: rehearse a component's recovery now: break it, let mend recover it, print the time it took. */
import os from 'node:os';
import type { Command } from '@commander-js/extra-typings';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { drillResult, startDrill } from '../client/drills';
import { selectDrill } from '../core/config';
import { formatDuration } from '../core/duration';
import type { Settings } from '../core/settings';
import { EXIT } from './errors';
import { green, red, yellow } from './format';

export function addDrillCommand(program: Command, settings: Settings): void {
  program
    .command('drill')
    .description('run a configured drill now: break its component on purpose, wait for mend to recover it, print the time to recovery')
    .argument('<name>', 'drill name from the config (drills:)')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .option('--no-wait', 'print the run id and return without waiting for the result')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  mend drill api-crash')
    .action(async (name, opts) => {
      const config = loadConfigFile(opts.config, { stateDir: settings.MEND_HOME });
      const drill = selectDrill(config, name);
      const client = await MendClient.connect({
        address: settings.MEND_TEMPORAL_ADDRESS,
        namespace: settings.MEND_NAMESPACE,
        taskQueue: settings.MEND_TASK_QUEUE,
        uiUrl: settings.MEND_UI_URL,
      });
      try {
        const run = await startDrill(client, config, drill, `${os.userInfo().username}@cli`);
        if (!opts.json) console.log(`started ${run.workflowId} → ${run.url}`);
        if (!opts.wait) return;
        const result = await drillResult(client, run);
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else if (result.outcome === 'recovered')
          console.log(green(`${drill.name}: ${drill.component} recovered ${formatDuration(result.mttrMs!)} after the fault (${result.detail})`));
        else if (result.outcome === 'skipped') console.log(yellow(`${drill.name}: skipped — ${result.detail}`));
        else console.log(red(`${drill.name}: failed — ${result.detail}`));
        if (result.outcome !== 'recovered') process.exitCode = EXIT.failed;
      } finally {
        await client.close();
      }
    });
}
