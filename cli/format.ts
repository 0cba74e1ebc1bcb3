import { formatDuration } from '../core/duration';
import type { RecoveryResult, StepRecord } from '../core/run';

const useColour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (useColour ? `\x1b[${code}m${text}\x1b[0m` : text);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);

function statusLabel(status: StepRecord['status']): string {
  const label = status.padEnd(7);
  if (status === 'ok') return green(label);
  if (status === 'failed') return red(label);
  return yellow(label);
}

export function formatStep(step: StepRecord): string {
  const took = step.durationMs !== undefined ? formatDuration(step.durationMs) : '';
  return `  ${statusLabel(step.status)} ${step.name.padEnd(9)} ${took.padStart(6)}  ${step.summary}${step.detail ? dim(` — ${step.detail}`) : ''}`;
}

/** The closing lines of a run: its steps (unless already shown by --watch), the ladder and the outcome. */
export function formatResult(component: string, result: RecoveryResult, opts: { stepsShown?: boolean } = {}): string {
  const lines = opts.stepsShown ? [] : result.steps.map(formatStep);
  if (result.approval && result.approval.state !== 'not-needed') {
    lines.push(
      dim(
        `  approval: ${result.approval.state}${result.approval.by ? ` by ${result.approval.by}` : ''}${result.approval.reason ? ` (${result.approval.reason})` : ''}`,
      ),
    );
  }
  for (const rung of result.ladder ?? []) {
    lines.push(dim(`  escalation: ${rung.strategy} ${rung.outcome}${rung.reason ? `: ${rung.reason}` : ''} (${rung.workflowId})`));
  }
  const took = formatDuration(result.durationMs);
  const head =
    result.outcome === 'recovered'
      ? green(`${component}: ${result.strategy === 'saga' ? 'completed' : 'recovered'} in ${took}`)
      : result.outcome === 'planned'
        ? `${component}: plan (dry run, nothing done)`
        : red(
            `${component}: ${result.outcome} after ${took}${result.failureClass ? ` [${result.failureClass}]` : ''}${result.reason ? `: ${result.reason}` : ''}`,
          );
  return [...lines, head].join('\n');
}

/** Left-aligned columns; `paint` colours a cell after padding, so escape codes do not skew them. */
export function table(rows: string[][], paint: (cell: string, row: number, col: number) => string = (cell) => cell): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows
    .map((row, r) =>
      row
        .map((cell, col) => paint(col === row.length - 1 ? cell : cell.padEnd(widths[col]!), r, col))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
