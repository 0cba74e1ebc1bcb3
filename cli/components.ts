/** `mend components` (the configured components, with their supervisors' health) and `mend check <component>` (probe now). */
import os from 'node:os';
import type { Command } from '@commander-js/extra-typings';
import { TemporalUnreachableError } from '../client';
import { checkComponent } from '../client/checks';
import { loadConfigFile } from '../client/config';
import { supervisorState, supervisorView, type SupervisorView } from '../client/supervisors';
import { componentView } from '../core/api';
import { DEFAULT_HOST } from '../core/constants';
import { selectComponents } from '../core/config';
import type { Settings } from '../core/settings';
import type { CheckResult } from '../core/supervision';
import { componentRow, type ComponentRow } from './component-row';
import { EXIT } from './errors';
import { dim, green, red, table, yellow } from './format';
import { ApiError } from './api-client';
import { backendOf, withApi, withTemporal } from './remote';

const SUPERVISOR_DEADLINE_MS = 10_000;

function healthCell(health: string): string {
  return health === 'healthy' ? green(health) : health === 'unhealthy' ? red(health) : health === 'recovering' ? yellow(health) : health;
}

function breakerCell(breaker: string): string {
  return breaker === 'closed' ? green(breaker) : breaker === 'open' ? red(breaker) : breaker === '-' ? breaker : yellow(breaker);
}

/** The one line of a check: `api: healthy (HTTP 200, 3ms)` / `api: unhealthy [network] ECONNREFUSED ... (2ms)`. */
export function checkLine(r: Omit<CheckResult, 'reported'> & { reported?: boolean }): string {
  if (r.healthy) return green(`${r.component}: healthy`) + ` (${r.detail}, ${r.latencyMs}ms)`;
  return red(`${r.component}: unhealthy`) + ` [${r.failureClass ?? 'unknown'}] ${r.detail} (${r.latencyMs}ms)`;
}

export function addComponentCommands(program: Command, settings: Settings): void {
  program
    .command('components')
    .description('list the configured components: adapter, probe, dependencies, strategy, and health and breaker from their supervisors (when reachable)')
    .option('-c, --config <file>', 'components config (not used with MEND_URL: the API\'s config is shown)', settings.MEND_CONFIG)
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  mend components\n  mend components --json | jq \'.[] | select(.health != "healthy")\'\n  MEND_URL=http://127.0.0.1:3000 MEND_TOKEN=... mend components   # through the API')
    .action(async (opts) => {
      const backend = backendOf(settings);
      let rows: ComponentRow[];
      let note: string | undefined;
      if (backend.kind === 'api') {
        rows = await withApi(backend.api, async (api) => {
          const { components } = await api.components();
          // A detail the API cannot read now (503: Temporal or the supervisor does not answer) shows health `?`.
          const details = await Promise.all(components.map((c) => api.component(c.id).catch((err: unknown) => (err instanceof ApiError && err.status === 503 ? undefined : Promise.reject(err)))));
          const unread = components.filter((_, i) => !details[i]).map((c) => c.id);
          if (unread.length > 0) note = `health unknown for ${unread.join(', ')}: the API could not read their supervisors now`;
          return components.map((c, i) => {
            const d = details[i];
            return d ? componentRow(d, d.supervisor ?? undefined, d.supervised ? 'none' : 'off') : componentRow(c, undefined, '?');
          });
        });
      } else {
        const config = loadConfigFile(opts.config, { stateDir: settings.MEND_HOME });
        const views = config.components.map(componentView);
        // The supervisors' health, when Temporal answers; the config alone otherwise.
        let states: Array<SupervisorView | undefined | 'unreadable'> = views.map(() => 'unreadable');
        try {
          // A supervisor answers through a worker: with none running, its health is `?` after a while, not a hang.
          states = await withTemporal(backend.connect, (client) =>
            client.connection.withDeadline(Date.now() + SUPERVISOR_DEADLINE_MS, () =>
              Promise.all(views.map(async (v) => (v.supervised ? await supervisorState(client, v.id).then((s) => (s ? supervisorView(s) : undefined)).catch(() => 'unreadable' as const) : undefined))),
            ),
          );
          const unread = views.filter((_, i) => states[i] === 'unreadable').map((v) => v.id);
          if (unread.length > 0) note = `health unknown for ${unread.join(', ')}: their supervisors did not answer (is a worker running on task queue ${settings.MEND_TASK_QUEUE}?)`;
        } catch (err) {
          if (!(err instanceof TemporalUnreachableError)) throw err;
          note = `health unknown: ${err.message.split('\n')[0]}`;
        }
        rows = views.map((v, i) => {
          const s = states[i];
          return componentRow(v, s === 'unreadable' ? undefined : s, s === 'unreadable' ? '?' : v.supervised ? 'none' : 'off');
        });
      }
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
      console.log(table([head, ...body], (cell, row, col) => (row === 0 ? cell : col === 5 + hosts ? healthCell(cell.trim()) + cell.slice(cell.trim().length) : col === 6 + hosts ? breakerCell(cell.trim()) + cell.slice(cell.trim().length) : cell)));
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
      const backend = backendOf(settings);
      let result: Omit<CheckResult, 'reported'> & { reported?: boolean };
      if (backend.kind === 'api') {
        result = await withApi(backend.api, (api) => api.check(id));
      } else {
        const [component] = selectComponents(loadConfigFile(opts.config, { stateDir: settings.MEND_HOME }), [id]);
        result = await withTemporal(backend.connect, (client) => checkComponent(client, component!, { trigger: 'manual', requestedBy: `${os.userInfo().username}@cli` }));
      }
      console.log(opts.json ? JSON.stringify(result, null, 2) : checkLine(result));
      if (!result.healthy) process.exitCode = EXIT.failed;
    });
}

