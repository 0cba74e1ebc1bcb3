/** `mend drill <name>`: rehearse a component's recovery now: break it, let mend recover it, print the time it took. */
import type { Command } from '@commander-js/extra-typings';
import { formatDuration } from '../core/duration';
import type { Settings } from '../core/settings';
import { EXIT } from './errors';
import { green, red, yellow } from './format';
import { withOps } from './ops';

export function addDrillCommand(program: Command, settings: Settings): void {
  program
    .command('drill')
    .description('run a configured drill now: break its component on purpose, wait for mend to recover it, print the time to recovery')
    .argument('<name>', 'drill name from the config (drills:)')
    .option('-c, --config <file>', "components config (not used with MEND_URL: the API's config is)", settings.MEND_CONFIG)
    .option('--no-wait', 'print the run id and return without waiting for the result')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  mend drill api-crash')
    .action(async (name, opts) =>
      withOps(settings, opts.config, async (ops) => {
        const run = await ops.startDrill(name);
        if (!opts.json) console.log(`started ${run.workflowId} → ${run.url}`);
        if (!opts.wait) return;
        const result = await ops.drillResult(run);
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else if (result.outcome === 'recovered')
          console.log(green(`${result.drill}: ${result.component} recovered ${formatDuration(result.mttrMs!)} after the fault (${result.detail})`));
        else if (result.outcome === 'skipped') console.log(yellow(`${result.drill}: skipped — ${result.detail}`));
        else console.log(red(`${result.drill}: failed — ${result.detail}`));
        if (result.outcome !== 'recovered') process.exitCode = EXIT.failed;
      }),
    );
}
