/** `mend backlog`: the replay entities of the configured spools: status, pause, resume, force, reset-failed, failed. */
import type { Command } from '@commander-js/extra-typings';
import { listFailed } from '../domain/backlog/spool';
import { loadConfigFile } from '../client/config';
import { selectSpool } from '../core/config';
import type { BacklogStatus, SpoolCounts } from '../core/backlog';
import { formatDuration } from '../core/duration';
import type { Settings } from '../core/settings';
import { CliError, EXIT } from './errors';
import { dim, green, red, table, yellow } from './format';
import { withOps } from './ops';

/** "in 9s" / "3s ago" from now. */
function relative(isoTime: string | undefined, now = Date.now()): string {
  if (!isoTime) return '-';
  const ms = Date.parse(isoTime) - now;
  return ms >= 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

function sinkLabel(status: BacklogStatus): string {
  if (status.sink.healthy === null) return 'unchecked';
  return status.sink.healthy ? 'up' : `down${status.sink.failureClass ? ` (${status.sink.failureClass})` : ''}`;
}

function rate(status: BacklogStatus): string {
  return status.lastHour.successRate === null ? '-' : `${Math.round(status.lastHour.successRate * 100)}%`;
}

/** The one-spool report. */
export function formatBacklogStatus(s: BacklogStatus, onDisk?: SpoolCounts): string {
  const state =
    s.state === 'paused'
      ? yellow(`paused until ${s.pausedUntil} (${relative(s.pausedUntil)})${s.pausedBy ? ` by ${s.pausedBy}` : ''}${s.pauseReason ? `: ${s.pauseReason}` : ''}`)
      : green('running');
  const sink =
    s.sink.healthy === null ? 'not checked yet' : `${s.sink.healthy ? green('up') : red('down')} — ${s.sink.detail} (checked ${relative(s.sink.checkedAt)})`;
  const lines = [
    `spool ${s.spool}: ${state}, ${s.activity}`,
    `  sink         ${sink}`,
    `  items        ${s.counts.pending} pending, ${s.counts.processing} processing, ${s.counts.failed} failed${s.counts.countedAt ? dim(` (counted ${relative(s.counts.countedAt)})`) : ''}`,
    ...(onDisk ? [`  on disk now  ${onDisk.pending} pending, ${onDisk.failed} failed`] : []),
    `  last hour    ${s.lastHour.delivered} delivered, ${s.lastHour.failed} failed, success rate ${rate(s)}`,
    `  since start  ${s.totals.delivered} delivered, ${s.totals.already} found already delivered, ${s.totals.failedAttempts} failed attempts, ${s.totals.deadLettered} dead-lettered`,
    `  cadence      every ${formatDuration(s.intervalMs)}; next cycle ${relative(s.nextCycleAt)}${s.backoffUntil ? yellow(` (sink backoff until ${s.backoffUntil})`) : ''}; ${s.cycles} cycles`,
  ];
  if (s.lastError) lines.push(dim(`  last error   ${s.lastError}`));
  return lines.join('\n');
}

export function addBacklogCommand(program: Command, settings: Settings): void {
  const backlog = program
    .command('backlog')
    .description('backlog replay: items spooled while a sink was down, delivered once each, in order')
    .addHelpText(
      'after',
      '\nExamples:\n  mend backlog status\n  mend backlog pause events --minutes 30 --reason "sink maintenance"\n  mend backlog failed events\n  mend backlog reset-failed events',
    );

  // With MEND_URL the API's config names the spools; this option is for the way straight to Temporal.
  const configHelp = settings.MEND_URL ? "components config (not used with MEND_URL: the API's config is)" : 'components config';

  backlog
    .command('status')
    .description('pending, processing and failed items, sink health, last hour, next cycle')
    .argument('[spool]', 'spool name (default: every configured spool)')
    .option('-c, --config <file>', configHelp, settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  mend backlog status\n  mend backlog status events --json')
    .action(async (name, opts) =>
      withOps(settings, opts.config, async (ops) => {
        const reports = await ops.backlogStatus(name);
        const statuses = reports.map((r) => r.status);
        if (opts.json) return console.log(JSON.stringify(name ? statuses[0] : statuses, null, 2));
        if (name) return console.log(formatBacklogStatus(statuses[0]!, reports[0]!.onDisk));
        const rows = [['SPOOL', 'STATE', 'SINK', 'PENDING', 'FAILED', 'LAST HOUR', 'RATE', 'NEXT CYCLE']];
        for (const s of statuses)
          rows.push([
            s.spool,
            s.state,
            sinkLabel(s),
            String(s.counts.pending),
            String(s.counts.failed),
            `${s.lastHour.delivered} ok / ${s.lastHour.failed} failed`,
            rate(s),
            relative(s.nextCycleAt),
          ]);
        console.log(table(rows));
      }),
    );

  backlog
    .command('start')
    .description('start the replay of a spool (or of every configured spool); a running one takes the current config')
    .argument('[spool]', 'spool name (default: every configured spool)')
    .option('-c, --config <file>', configHelp, settings.MEND_CONFIG)
    .addHelpText('after', '\nExample:\n  mend backlog start events')
    .action(async (name, opts) =>
      withOps(settings, opts.config, (ops) => ops.backlogStart(name, (spool, run) => console.log(`${spool}: replaying as ${run.workflowId} → ${run.url}`))),
    );

  backlog
    .command('pause')
    .description('hold replay for some minutes (the batch in flight finishes); resumes by itself after')
    .argument('<spool>', 'spool name')
    .option('--minutes <n>', 'how long', '15')
    .option('--reason <text>', 'why (shown in status)')
    .option('-c, --config <file>', configHelp, settings.MEND_CONFIG)
    .addHelpText('after', '\nExample:\n  mend backlog pause events --minutes 30 --reason "sink maintenance"')
    .action(async (name, opts) => {
      const minutes = Number(opts.minutes);
      if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 10_080)
        throw new CliError('--minutes: expected a number above 0 and at most 10080 (7 days)', EXIT.usage);
      await withOps(settings, opts.config, async (ops) => {
        const status = await ops.backlogPause(name, { minutes, reason: opts.reason });
        console.log(`${name}: paused until ${status.pausedUntil}`);
      });
    });

  for (const [verb, description, example] of [
    ['resume', 'end a pause now', 'mend backlog resume events'],
    ['force', 'run a replay cycle now (also cuts a sink backoff short)', 'mend backlog force events'],
    ['reset-failed', 'move every dead letter back to pending with fresh attempts, then replay', 'mend backlog reset-failed events'],
  ] as const) {
    backlog
      .command(verb)
      .description(description)
      .argument('<spool>', 'spool name')
      .option('-c, --config <file>', configHelp, settings.MEND_CONFIG)
      .addHelpText('after', `\nExample:\n  ${example}`)
      .action(async (spool, opts) =>
        withOps(settings, opts.config, async (ops) => {
          if (verb === 'resume') {
            const s = await ops.backlogControl(spool, 'resume');
            console.log(`${spool}: running; next cycle ${relative(s.nextCycleAt)}`);
          } else if (verb === 'force') {
            await ops.backlogControl(spool, 'force');
            console.log(`${spool}: replay cycle requested`);
          } else {
            const { moved, status } = await ops.backlogResetFailed(spool);
            console.log(`${spool}: ${moved} item${moved === 1 ? '' : 's'} moved back to pending (${status.counts.pending} pending now)`);
          }
        }),
      );
  }

  backlog
    .command('failed')
    .description(
      settings.MEND_URL
        ? 'list dead letters with their failure class and reason: reads the spool folder on this machine, from the local config (not through MEND_URL)'
        : 'list dead letters with their failure class and reason (reads the spool folder)',
    )
    .argument('<spool>', 'spool name')
    .option('-c, --config <file>', 'components config (read here, also with MEND_URL)', settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  mend backlog failed events')
    .action(async (name, opts) => {
      const spool = selectSpool(loadConfigFile(opts.config, { stateDir: settings.MEND_HOME }), name);
      const failed = await listFailed(spool.dir);
      if (opts.json) return console.log(JSON.stringify(failed, null, 2));
      if (failed.length === 0) return console.log(`${spool.name}: no failed items`);
      const rows = [['ITEM', 'CLASS', 'ATTEMPTS', 'FAILED AT', 'REASON']];
      for (const f of failed)
        rows.push([
          f.file,
          f.reason?.failureClass ?? '?',
          String(f.reason?.attempts ?? '?'),
          f.reason?.failedAt ?? '?',
          f.reason?.reason ?? '(no reason file)',
        ]);
      console.log(table(rows));
    });
}
