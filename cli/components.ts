/** `mend components` (the configured components, with their supervisors' health) and `mend check <component>` (probe now). */
import type { Command } from '@commander-js/extra-typings';
import { DEFAULT_HOST } from '../core/constants';
import type { Settings } from '../core/settings';
import { EXIT } from './errors';
import { dim, green, red, table, yellow } from './format';
import { withOps, type CheckAnswer } from './ops';

function healthCell(health: string): string {
  return health === 'healthy' ? green(health) : health === 'unhealthy' ? red(health) : health === 'recovering' ? yellow(health) : health;
}

function breakerCell(breaker: string): string {
  return breaker === 'closed' ? green(breaker) : breaker === 'open' ? red(breaker) : breaker === '-' ? breaker : yellow(breaker);
}

/** The one line of a check: `api: healthy (HTTP 200, 3ms)` / `api: unhealthy [network] ECONNREFUSED ... (2ms)`. */
export function checkLine(r: CheckAnswer): string {
  if (r.healthy) return green(`${r.component}: healthy`) + ` (${r.detail}, ${r.latencyMs}ms)`;
  return red(`${r.component}: unhealthy`) + ` [${r.failureClass ?? 'unknown'}] ${r.detail} (${r.latencyMs}ms)`;
}

export function addComponentCommands(program: Command, settings: Settings): void {
  program
    .command('components')
    .description('list the configured components: adapter, probe, dependencies, strategy, and health and breaker from their supervisors (when reachable)')
    .option('-c, --config <file>', "components config (not used with MEND_URL: the API's config is shown)", settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  mend components\n  mend components --json | jq \'.[] | select(.health != "healthy")\'\n  MEND_URL=http://127.0.0.1:3000 MEND_TOKEN=... mend components   # through the API',
    )
    .action(async (opts) => {
      const { rows, note } = await withOps(settings, opts.config, (ops) => ops.components());
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      // A HOST column once components are on several hosts; a one-host table stays as it was.
      const hosts = rows.some((r) => r.host !== DEFAULT_HOST) ? 1 : 0;
      const head = ['COMPONENT', ...(hosts ? ['HOST'] : []), 'ADAPTER', 'PROBE', 'DEPENDS ON', 'STRATEGY', 'HEALTH', 'BREAKER', 'RECOVERING'];
      const body = rows.map((r) => [
        r.id,
        ...(hosts ? [r.host] : []),
        r.adapter,
        r.probe,
        r.dependsOn.join(', ') || '-',
        (r.escalation[0] === r.strategy ? r.escalation : [r.strategy, ...r.escalation]).join(' → '),
        r.health,
        r.breaker,
        r.current ?? '-',
      ]);
      console.log(
        table([head, ...body], (cell, row, col) =>
          row === 0
            ? cell
            : col === 5 + hosts
              ? healthCell(cell.trim()) + cell.slice(cell.trim().length)
              : col === 6 + hosts
                ? breakerCell(cell.trim()) + cell.slice(cell.trim().length)
                : cell,
        ),
      );
      if (note) console.log(dim(note));
    });

  program
    .command('check')
    .description('probe a component now, on a worker; its supervisor gets the result (exit 0 healthy, 1 unhealthy)')
    .argument('<component>', 'component id from the config')
    .option('-c, --config <file>', 'components config (not used with MEND_URL)', settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  mend check api\n  mend check api --json\n  mend check api || mend run immediate api')
    .action(async (id, opts) => {
      const result = await withOps(settings, opts.config, (ops) => ops.check(id));
      console.log(opts.json ? JSON.stringify(result, null, 2) : checkLine(result));
      if (!result.healthy) process.exitCode = EXIT.failed;
    });
}
