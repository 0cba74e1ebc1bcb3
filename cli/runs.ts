/** `mend runs`: recent runs from Temporal visibility, filtered by mend's search attributes. */
import type { Command } from '@commander-js/extra-typings';
import { RunListQuerySchema, type RunListQuery } from '../core/api';
import type { Settings } from '../core/settings';
import { CliError, EXIT } from './errors';
import { dim, green, red, table, yellow } from './format';
import { withOps } from './ops';

const FILTERS = ['component', 'strategy', 'phase', 'outcome', 'trigger', 'status', 'since', 'limit'] as const;

/** The options as the API's query schema reads them; a bad one is bad usage naming the option. */
export function parseRunFilter(opts: Partial<Record<(typeof FILTERS)[number], string>>): RunListQuery {
  const raw = Object.fromEntries(FILTERS.flatMap((k) => (opts[k] === undefined ? [] : [[k, opts[k]]])));
  const parsed = RunListQuerySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`--${String(issue?.path[0] ?? 'filter')}: ${issue?.message ?? 'invalid'}`, EXIT.usage);
  }
  return parsed.data;
}

function statusCell(status: string): string {
  const s = status.trim();
  const painted =
    s === 'COMPLETED' ? green(s) : s === 'RUNNING' ? yellow(s) : s === 'FAILED' || s === 'TERMINATED' || s === 'TIMED_OUT' || s === 'CANCELED' ? red(s) : s;
  return painted + status.slice(s.length);
}

export function addRunsCommand(program: Command, settings: Settings): void {
  program
    .command('runs')
    .description("list recent runs, newest first (recoveries, sagas, supervisors, checks), filtered by mend's search attributes")
    .option('--component <id>', 'runs acting on this component')
    .option('--strategy <name>', 'immediate, progressive, dependency-aware, state-recovery, emergency-reset or saga')
    .option('--phase <phase>', 'detection, analysis, preparation, execution, validation, completion or failure')
    .option('--outcome <outcome>', 'e.g. recovered, failed, cancelled')
    .option('--trigger <trigger>', 'manual, api, schedule, alert, escalation or drill')
    .option('--status <status>', 'running or closed')
    .option('--since <time>', 'started at or after this ISO time, e.g. 2026-11-23T10:00:00Z')
    .option('--limit <n>', 'at most this many (1-500)', '50')
    .option('--json', 'print as JSON (with the visibility query used)')
    .addHelpText(
      'after',
      '\nExamples:\n  mend runs\n  mend runs --component api --status running\n  mend runs --strategy immediate --outcome failed --since 2026-11-23T00:00:00Z --json',
    )
    .action(async (opts) => {
      const filter = parseRunFilter(opts);
      const list = await withOps(settings, undefined, (ops) => ops.listRuns(filter));
      if (opts.json) return console.log(JSON.stringify(list, null, 2));
      if (list.runs.length === 0) return console.log(`no runs match${dim(` (${list.query})`)}`);
      const head = ['RUN', 'STATUS', 'STRATEGY', 'PHASE', 'OUTCOME', 'TRIGGER', 'STARTED', 'COMPONENTS'];
      const rows = list.runs.map((r) => [
        r.workflowId,
        r.status,
        r.strategy ?? r.type,
        r.phase ?? '-',
        r.outcome ?? '-',
        r.trigger ?? '-',
        r.startTime.replace(/\.\d+Z$/, 'Z'),
        r.components.join(', ') || '-',
      ]);
      console.log(table([head, ...rows], (cell, row, col) => (row > 0 && col === 1 ? statusCell(cell) : cell)));
    });
}
