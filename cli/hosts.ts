/** `mend hosts`: the hosts of the config, whether each one's agent polls, when it was last seen, its version and component count. */
import type { Command } from '@commander-js/extra-typings';
import { formatDuration } from '../core/duration';
import type { HostStatus } from '../core/host-status';
import type { Settings } from '../core/settings';
import { dim, green, red, table } from './format';
import { CliError, EXIT } from './errors';
import { withOps } from './ops';

function ago(iso: string | undefined, now: number): string {
  if (!iso) return 'never';
  return `${formatDuration(Math.max(0, Math.round((now - Date.parse(iso)) / 1000) * 1000))} ago`;
}

export function addHostsCommand(program: Command, settings: Settings): void {
  const hosts = program
    .command('hosts')
    .description("list the config's hosts: agent up or down (from Temporal's pollers on mend/host/<id>), last seen, version, components on it")
    .option('-c, --config <file>', "components config (not used with MEND_URL: the API's config is shown)", settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  mend hosts\n  mend hosts --json | jq \'.[] | select(.agent == "down") | .id\'\n  MEND_URL=http://127.0.0.1:3000 MEND_TOKEN=... mend hosts   # through the API',
    )
    .action(async (opts) => {
      const hosts: HostStatus[] = await withOps(settings, opts.config, (ops) => ops.hosts());
      if (opts.json) return console.log(JSON.stringify(hosts, null, 2));
      const now = Date.now();
      const head = ['HOST', 'AGENT', 'LAST SEEN', 'VERSION', 'COMPONENTS', 'LABELS'];
      const body = hosts.map((h) => [
        h.id + (h.default ? ' (default)' : ''),
        h.agent,
        ago(h.lastSeen, now),
        h.version ?? '-',
        String(h.components),
        Object.entries(h.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ') || '-',
      ]);
      console.log(table([head, ...body], (cell, row, col) => (row > 0 && col === 1 ? (cell.trim() === 'up' ? green(cell) : red(cell)) : cell)));
      const down = hosts.filter((h) => h.agent === 'down').map((h) => h.id);
      if (down.length > 0)
        console.log(
          dim(`no agent polling for ${down.join(', ')}: start one there with \`mend agent --host <id>\` (the default host is served by the central worker)`),
        );
    });

  for (const action of ['drain', 'undrain'] as const) {
    const cmd = hosts
      .command(`${action} <host>`)
      .description(
        action === 'drain'
          ? "hold the automatic recoveries of a host's components: their supervisors pause, naming the host, until `mend hosts undrain`"
          : "let a drained host's components be recovered again (a failure is acted on at its next check); a pause made by hand stays",
      )
      .option('-c, --config <file>', "components config (not used with MEND_URL: the API's config is used)", settings.MEND_CONFIG);
    if (action === 'drain') cmd.option('--reason <text>', 'why (shown in each supervisor as `held: host <id> drained (<reason>)`)');
    cmd
      .option('--json', 'print as JSON')
      .addHelpText('after', `\nExample:\n  mend hosts ${action} web-1${action === 'drain' ? " --reason 'disk swap'" : ''}`)
      .action(async (host, own: { config?: string; reason?: string; json?: boolean }) => {
        // Commander gives `--json` and `-c` after the subcommand to `hosts` itself, which has the same options: both count.
        const listing = hosts.opts();
        const opts = { ...own, json: own.json || listing.json, config: hosts.getOptionValueSource('config') === 'cli' ? listing.config : own.config };
        if (opts.reason !== undefined && opts.reason.trim() === '') throw new CliError('--reason must not be empty', EXIT.usage);
        const done = await withOps(settings, opts.config, (ops) => ops.drainHost(host, action, opts.reason));
        if (opts.json) return console.log(JSON.stringify(done, null, 2));
        const list = done.components.length > 0 ? done.components.join(', ') : 'no supervised components';
        console.log(action === 'drain' ? `host ${host} drained: recoveries held for ${list}` : `host ${host} undrained: ${list} may be recovered again`);
        if (done.skipped?.length)
          console.log(dim(`still paused by hand (not by this drain): ${done.skipped.join(', ')}; \`mend resume mend/supervisor/<component>\``));
      });
  }
}
