/** `mend schedules` (health-check schedules) and `mend stats` (what the supervisors recorded). */
import type { Command } from '@commander-js/extra-typings';
import { formatDuration } from '../core/duration';
import type { Settings } from '../core/settings';
import type { ComponentStats } from '../core/supervision';
import { renderSupervisionMetrics } from '../client/supervision-metrics';
import { green, red, table, yellow } from './format';
import { withOps } from './ops';

const ms = (value: number | undefined) => (value === undefined ? '-' : formatDuration(value));
const percent = (value: number | undefined) => (value === undefined ? '-' : `${Math.round(value * 100)}%`);

function breakerCell(state: ComponentStats['breaker']): string {
  return state === 'closed' ? green(state) : state === 'open' ? red(state) : yellow(state);
}

export function addSupervisionCommands(program: Command, settings: Settings): void {
  program
    .command('schedules')
    .description(
      'list the health-check schedules (mend/health/<group>, mend/health/<group>@<host> for a named host): host, interval, paused, components; --reconcile makes them match the config first',
    )
    .option('-c, --config <file>', "components config (for --reconcile; not used with MEND_URL: the API's config is)", settings.MEND_CONFIG)
    .option('--reconcile', 'create, update and delete schedules to match the config (idempotent; with MEND_URL an admin token)')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      "\nExamples:\n  mend schedules\n  mend schedules --reconcile --json\n  temporal schedule toggle --pause -s mend/health/default     # hold a group (of the default host)\n  temporal schedule toggle --pause -s mend/health/default@b   # hold host b's checks of the group",
    )
    .action(async (opts) =>
      withOps(settings, opts.config, async (ops) => {
        const { reconciled, schedules } = await ops.schedules({ reconcile: opts.reconcile === true });
        if (opts.json) return console.log(JSON.stringify(reconciled ? { reconciled, schedules } : schedules, null, 2));
        if (reconciled) {
          console.log(
            `reconciled: ${reconciled.created.length} created, ${reconciled.updated.length} updated, ${reconciled.deleted.length} deleted, ${reconciled.unchanged.length} unchanged, ${reconciled.retired.length} supervisor(s) retired${reconciled.resumed?.length ? `, ${reconciled.resumed.length} left paused by an ended host watch resumed` : ''}`,
          );
        }
        if (schedules.length === 0) return console.log('no health schedules (start the stack, or run `mend schedules --reconcile`)');
        const rows = schedules.map((s) => [
          s.scheduleId,
          s.group,
          s.host,
          ms(s.intervalMs),
          s.paused ? 'yes' : 'no',
          s.taskQueue ?? '-',
          s.components.join(', '),
        ]);
        console.log(table([['SCHEDULE', 'GROUP', 'HOST', 'EVERY', 'PAUSED', 'QUEUE', 'COMPONENTS'], ...rows]));
        // Why each paused one is paused, below the table (a note is a sentence, too long for a column).
        for (const s of schedules) if (s.paused && s.pauseNote) console.log(`${s.scheduleId} paused: ${s.pauseNote}`);
      }),
    );

  program
    .command('stats')
    .description(
      'recoveries per component and fleet-wide, from the supervisors: attempts, succeeded (stayed up for the relapse window), failed, relapsed, success rate, MTTR p50/p95, breaker state',
    )
    .option('-c, --config <file>', "components config (not used with MEND_URL: the API's config is)", settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .option('--prometheus', 'print Prometheus text (mend_recoveries_total, mend_recovery_mttr_seconds, mend_breaker_state, mend_component_healthy)')
    .addHelpText('after', '\nExamples:\n  mend stats\n  mend stats --json | jq .fleet\n  mend stats --prometheus > /var/lib/node_exporter/mend.prom')
    .action(async (opts) =>
      withOps(settings, opts.config, async (ops) => {
        const stats = await ops.stats();
        if (opts.json) return console.log(JSON.stringify(stats, null, 2));
        if (opts.prometheus) return void process.stdout.write(await renderSupervisionMetrics(stats));
        const head = ['COMPONENT', 'HEALTH', 'BREAKER', 'RECOVERIES', 'OK', 'FAILED', 'RELAPSED', 'SUCCESS', 'MTTR P50', 'MTTR P95', 'LAST MTTR'];
        const rows = stats.components.map((c) => [
          c.component,
          c.health,
          c.breaker,
          String(c.attempted),
          String(c.succeeded),
          String(c.failed),
          String(c.relapsed),
          percent(c.successRate),
          ms(c.mttrP50Ms),
          ms(c.mttrP95Ms),
          ms(c.lastMttrMs),
        ]);
        const f = stats.fleet;
        rows.push([
          '(fleet)',
          `${f.supervised} supervised`,
          `${f.breakersOpen} not closed`,
          String(f.attempted),
          String(f.succeeded),
          String(f.failed),
          String(f.relapsed),
          percent(f.successRate),
          ms(f.mttrP50Ms),
          ms(f.mttrP95Ms),
          '',
        ]);
        console.log(
          table([head, ...rows], (cell, r, col) =>
            r > 0 && r <= stats.components.length && col === 2
              ? breakerCell(cell.trim() as ComponentStats['breaker']) + ' '.repeat(cell.length - cell.trim().length)
              : cell,
          ),
        );
        for (const c of stats.components) {
          if (c.current) console.log(`${c.component}: recovering (${c.current})`);
          else if (c.held && c.health !== 'healthy') console.log(`${c.component}: not recovering: ${c.held}`);
        }
        if (stats.unsupervised.length > 0) console.log(`no supervisor yet: ${stats.unsupervised.join(', ')} (one starts at the first health sweep)`);
        if (stats.unanswered?.length)
          console.log(
            yellow(`partial: no answer in time from the supervisor of ${stats.unanswered.join(', ')} (a busy worker); left out above, try again shortly`),
          );
      }),
    );
}
