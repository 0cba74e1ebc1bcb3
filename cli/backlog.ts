/** `mend backlog`: the replay entities of the configured spools: status, pause, resume, force, reset-failed, failed. */
import os from 'node:os';
import type { Command } from '@commander-js/extra-typings';
import { counts, listFailed } from '../domain/backlog/spool';
import { MendClient } from '../client';
import { BacklogControl } from '../client/backlog';
import { loadConfigFile } from '../client/config';
import { selectSpool } from '../core/config';
import type { BacklogStatus, SpoolCounts } from '../core/backlog';
import { formatDuration } from '../core/duration';
import type { Config, Spool } from '../core/schemas';
import type { Settings } from '../core/settings';
import { CliError, EXIT } from './errors';
import { dim, green, red, table, yellow } from './format';

const who = () => `${os.userInfo().username}@cli`;

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

function spoolsOf(config: Config, name: string | undefined): Spool[] {
  if (name !== undefined) return [selectSpool(config, name)];
  if (config.spools.length === 0) throw new CliError('no spools in the config (add a `spools:` section; see the README)', EXIT.usage);
  return config.spools;
}

export function addBacklogCommand(program: Command, settings: Settings): void {
  const backlog = program
    .command('backlog')
    .description('backlog replay: items spooled while a sink was down, delivered once each, in order')
    .addHelpText(
      'after',
      '\nExamples:\n  mend backlog status\n  mend backlog pause events --minutes 30 --reason "sink maintenance"\n  mend backlog failed events\n  mend backlog reset-failed events',
    );

  const withControl = async (fn: (control: BacklogControl, config: Config) => Promise<void>, configFile: string) => {
    const config = loadConfigFile(configFile, { stateDir: settings.MEND_HOME });
    const client = await MendClient.connect({
      address: settings.MEND_TEMPORAL_ADDRESS,
      namespace: settings.MEND_NAMESPACE,
      taskQueue: settings.MEND_TASK_QUEUE,
      uiUrl: settings.MEND_UI_URL,
    });
    try {
      await fn(new BacklogControl(client), config);
    } finally {
      await client.close();
    }
  };

  backlog
    .command('status')
    .description('pending, processing and failed items, sink health, last hour, next cycle')
    .argument('[spool]', 'spool name (default: every configured spool)')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  mend backlog status\n  mend backlog status events --json')
    .action(async (name, opts) =>
      withControl(async (control, config) => {
        const spools = spoolsOf(config, name);
        const statuses = await Promise.all(spools.map((s) => control.status(s.name)));
        if (opts.json) return console.log(JSON.stringify(name ? statuses[0] : statuses, null, 2));
        // The folder itself, when this machine can see it: items spooled since the last cycle show up here.
        if (name) return console.log(formatBacklogStatus(statuses[0]!, await counts(spools[0]!.dir).catch(() => undefined)));
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
      }, opts.config),
    );

  backlog
    .command('start')
    .description('start the replay of a spool (or of every configured spool); a running one takes the current config')
    .argument('[spool]', 'spool name (default: every configured spool)')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .addHelpText('after', '\nExample:\n  mend backlog start events')
    .action(async (name, opts) =>
      withControl(async (control, config) => {
        for (const spool of spoolsOf(config, name)) {
          const run = await control.ensure(spool);
          console.log(`${spool.name}: replaying as ${run.workflowId} → ${run.url}`);
        }
      }, opts.config),
    );

  backlog
    .command('pause')
    .description('hold replay for some minutes (the batch in flight finishes); resumes by itself after')
    .argument('<spool>', 'spool name')
    .option('--minutes <n>', 'how long', '15')
    .option('--reason <text>', 'why (shown in status)')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .addHelpText('after', '\nExample:\n  mend backlog pause events --minutes 30 --reason "sink maintenance"')
    .action(async (name, opts) => {
      const minutes = Number(opts.minutes);
      if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 10_080)
        throw new CliError('--minutes: expected a number above 0 and at most 10080 (7 days)', EXIT.usage);
      await withControl(async (control, config) => {
        const status = await control.pause(selectSpool(config, name).name, { minutes, by: who(), reason: opts.reason });
        console.log(`${name}: paused until ${status.pausedUntil}`);
      }, opts.config);
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
      .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
      .addHelpText('after', `\nExample:\n  ${example}`)
      .action(async (name, opts) =>
        withControl(async (control, config) => {
          const spool = selectSpool(config, name).name;
          if (verb === 'resume') {
            const s = await control.resume(spool, who());
            console.log(`${spool}: running; next cycle ${relative(s.nextCycleAt)}`);
          } else if (verb === 'force') {
            await control.force(spool, who());
            console.log(`${spool}: replay cycle requested`);
          } else {
            const { moved, status } = await control.resetFailed(spool, who());
            console.log(`${spool}: ${moved} item${moved === 1 ? '' : 's'} moved back to pending (${status.counts.pending} pending now)`);
          }
        }, opts.config),
      );
  }

  backlog
    .command('failed')
    .description('list dead letters with their failure class and reason (reads the spool folder)')
    .argument('<spool>', 'spool name')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
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
