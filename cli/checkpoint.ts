/** `mend checkpoint`: create, list, verify and prune checkpoints of a component's state, offline (no Temporal). */
import type { Command } from '@commander-js/extra-typings';
import { CheckpointError, createCheckpoint, listCheckpoints, pruneCheckpoints, verifyCheckpoint, type CheckpointInfo } from '../domain/state/checkpoint';
import { loadConfigFile } from '../client/config';
import { selectComponents } from '../core/config';
import { formatDuration, parseDuration } from '../core/duration';
import type { Component } from '../core/schemas';
import type { Settings } from '../core/settings';
import { CliError, EXIT } from './errors';
import { green, red, table } from './format';

/** 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${+value.toFixed(1)} ${units[unit]}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Whole days read as days ("7d"); anything else as core's formatDuration does. */
function formatAge(ms: number): string {
  return ms >= 86_400_000 && ms % 86_400_000 === 0 ? `${ms / 86_400_000}d` : formatDuration(ms);
}

function parseKeep(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new CliError(`--keep: expected a whole number of at least 1, got ${JSON.stringify(text)}`, EXIT.usage);
  return n;
}

function parseMaxAge(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliError(`--max-age: ${(err as Error).message}`, EXIT.usage);
  }
}

/** A failed checkpoint operation is a failed command (exit 1) with its one-line reason. */
async function guarded(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof CheckpointError) throw new CliError(err.message, EXIT.failed);
    throw err;
  }
}

export function addCheckpointCommand(program: Command, settings: Settings): void {
  const loadComponent = (file: string, id: string): Component => selectComponents(loadConfigFile(file, { stateDir: settings.MEND_HOME }), [id])[0]!;

  const checkpoint = program
    .command('checkpoint')
    .description("make, list, verify and prune checkpoints of a component's state (restoring goes through `mend run state-recovery`)")
    .addHelpText(
      'after',
      (settings.MEND_URL
        ? '\nMEND_URL is set, but checkpoint stays local: it reads and writes the state and checkpoint folders on this machine, with the local config (-c), not through the API.\n'
        : '') + '\nExample:\n  mend checkpoint create store && mend checkpoint list store --verify',
    );

  checkpoint
    .command('create')
    .description("copy a component's state paths into a new checkpoint with a sha256 manifest")
    .argument('<component>', 'component id from the config')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .option('--label <text>', 'a note kept with the checkpoint')
    .option('--json', 'print the checkpoint as JSON')
    .addHelpText('after', '\nExample:\n  mend checkpoint create store --label "before upgrade"')
    .action((componentId, opts) =>
      guarded(async () => {
        const component = loadComponent(opts.config, componentId);
        const info = await createCheckpoint(component, { label: opts.label });
        if (opts.json) console.log(JSON.stringify(info, null, 2));
        else console.log(`${component.id}: checkpoint ${info.id} (${plural(info.files, 'file')}, ${formatBytes(info.totalBytes)}) in ${info.dir}`);
      }),
    );

  checkpoint
    .command('list')
    .description("list a component's checkpoints, newest first")
    .argument('<component>', 'component id from the config')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .option('--verify', 're-hash every checkpoint and show whether it is intact')
    .option('--json', 'print the checkpoints as JSON')
    .addHelpText('after', '\nExample:\n  mend checkpoint list store --verify')
    .action((componentId, opts) =>
      guarded(async () => {
        const component = loadComponent(opts.config, componentId);
        const infos = await listCheckpoints(component);
        const rows: Array<CheckpointInfo & { ok?: boolean; problems?: string[] }> = [];
        for (const info of infos) rows.push(opts.verify ? { ...info, ...(await verifyCheckpoint(component, info.id)) } : info);
        if (opts.json) return console.log(JSON.stringify(rows, null, 2));
        if (rows.length === 0) return console.log(`${component.id}: no checkpoints in ${component.state.checkpointDir}`);
        const head = ['ID', 'CREATED', 'FILES', 'SIZE', ...(opts.verify ? ['STATUS'] : []), 'LABEL'];
        const body = rows.map((r) => [
          r.id,
          r.createdAt,
          String(r.files),
          formatBytes(r.totalBytes),
          ...(opts.verify ? [r.ok ? 'ok' : 'TAMPERED'] : []),
          r.label ?? '',
        ]);
        const statusCol = opts.verify ? 4 : -1;
        console.log(table([head, ...body], (cell, r, col) => (r > 0 && col === statusCol ? (rows[r - 1]!.ok ? green : red)(cell) : cell)));
      }),
    );

  checkpoint
    .command('verify')
    .description('re-hash a checkpoint against its manifest (the newest when no id is given); exit 1 when it does not verify')
    .argument('<component>', 'component id from the config')
    .argument('[id]', 'checkpoint id (default: the newest)')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  mend checkpoint verify store 20261123T101500123Z')
    .action((componentId, id, opts) =>
      guarded(async () => {
        const component = loadComponent(opts.config, componentId);
        const checkpointId = id ?? (await listCheckpoints(component))[0]?.id;
        if (!checkpointId) throw new CliError(`${component.id}: no checkpoints in ${component.state.checkpointDir}`, EXIT.failed);
        const { ok, problems } = await verifyCheckpoint(component, checkpointId);
        if (opts.json) console.log(JSON.stringify({ component: component.id, id: checkpointId, ok, problems }, null, 2));
        else if (ok) console.log(`${component.id}: checkpoint ${checkpointId} ${green('ok')}`);
        else console.log([`${component.id}: checkpoint ${checkpointId} ${red('does not verify')}:`, ...problems.map((p) => `  - ${p}`)].join('\n'));
        if (!ok)
          throw new CliError(
            `checkpoint ${checkpointId} of ${component.id} does not verify (${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems[0]})`,
            EXIT.failed,
          );
      }),
    );

  checkpoint
    .command('prune')
    .description('remove checkpoints beyond the newest N or older than a maximum age; the newest that verifies always stays')
    .argument('<component>', 'component id from the config')
    .option('-c, --config <file>', 'components config', settings.MEND_CONFIG)
    .option('--keep <n>', "how many of the newest to keep (default: the component's state.keep)")
    .option('--max-age <duration>', "remove checkpoints older than this, e.g. 7d (default: the component's state.maxAge)")
    .option('--json', 'print what was removed and kept as JSON')
    .addHelpText('after', '\nExample:\n  mend checkpoint prune store --keep 5 --max-age 7d')
    .action((componentId, opts) =>
      guarded(async () => {
        const keep = opts.keep === undefined ? undefined : parseKeep(opts.keep);
        const maxAgeMs = opts.maxAge === undefined ? undefined : parseMaxAge(opts.maxAge);
        const component = loadComponent(opts.config, componentId);
        const result = await pruneCheckpoints(component, { keep, maxAgeMs });
        if (opts.json) return console.log(JSON.stringify(result, null, 2));
        const rule = `keep ${keep ?? component.state.keep}, max age ${formatAge(maxAgeMs ?? component.state.maxAge)}`;
        const removed = `removed ${plural(result.removed.length, 'checkpoint')}${result.removed.length > 0 ? ` (${result.removed.join(', ')})` : ''}`;
        const temp = result.removedTemp.length > 0 ? `; removed ${plural(result.removedTemp.length, 'stale temp folder')}` : '';
        console.log(`${component.id}: ${removed}, kept ${result.kept.length} (${rule})${temp}`);
      }),
    );
}
