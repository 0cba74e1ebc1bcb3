/**
 * Where a detection's time goes, from the failed component's supervisor history on the server's
 * clock: the failure (the target's clock, same machine) → the sweep's report reaching the
 * supervisor → its own confirmation probes done → the fleet permit's signal → its recovery run
 * started (after one more look when the evidence went stale while it waited). A stage the
 * supervisor skipped (no confirmation: the report already stood for enough failures; no fleet cap)
 * counts 0 ms, so the stages of one detection add up to it.
 */
import type { Client } from '@temporalio/client';
import { supervisorWorkflowId } from '../../core/constants';
import { summarize, type Summary } from './stats';
import { supervisorTimeline } from './timeline';

/** The activity of a supervisor's confirmation probes. */
const CONFIRM_ACTIVITY = 'confirmFailure';
/** The activities a supervisor's pass begins with once the failure is confirmed: the run lookup, and the fleet permit's request. */
const LOOKUP_ACTIVITIES = ['recoveryRun', 'requestFleetPermit'];

export const DETECTION_STAGES = [
  'failure → report at its supervisor',
  'report → failure confirmed by the supervisor',
  'confirmed → fleet permit granted',
  'permit → recovery run started',
] as const;
export type DetectionStage = (typeof DETECTION_STAGES)[number];

/** One detection split into its stages (ms), or undefined when its supervisor's history lacks the report or the run start. */
export async function detectionStages(client: Client, componentId: string, failedAtMs: number): Promise<Record<DetectionStage, number> | undefined> {
  const history = await client.workflow
    .getHandle(supervisorWorkflowId(componentId))
    .fetchHistory()
    .catch(() => undefined);
  if (!history) return undefined;
  const points = supervisorTimeline(history.events ?? []).filter((p) => p.at >= failedAtMs);
  const report = points.find((p) => p.what === 'signal report');
  const start = report && points.find((p) => p.at >= report.at && p.what === 'child start');
  if (!report || !start) return undefined;
  const between = points.filter((p) => p.at >= report.at && p.at <= start.at);
  // The pass after confirmation begins with the run lookup (and the permit request beside it).
  const passAt = between.find((p) => LOOKUP_ACTIVITIES.some((a) => p.what === `${a} scheduled`))?.at ?? start.at;
  // The supervisor's own confirmation probes, before that (none when the sweep's report stood for enough
  // failures); a look after the permit (the evidence went stale while waiting) belongs to the last stage.
  const confirmed = between.filter((p) => p.at <= passAt && p.what === `${CONFIRM_ACTIVITY} closed`).pop()?.at ?? report.at;
  const permitAt = between.find((p) => p.at >= confirmed && p.what === 'signal permit')?.at ?? confirmed;
  return {
    'failure → report at its supervisor': report.at - failedAtMs,
    'report → failure confirmed by the supervisor': confirmed - report.at,
    'confirmed → fleet permit granted': permitAt - confirmed,
    'permit → recovery run started': start.at - permitAt,
  };
}

/** Each stage's median and p95 (ms) over the detections that could be split. */
export function summarizeStages(all: Record<DetectionStage, number>[]): Record<DetectionStage, Summary> {
  return Object.fromEntries(DETECTION_STAGES.map((stage) => [stage, summarize(all.map((s) => s[stage]))])) as Record<DetectionStage, Summary>;
}

/** The stages as a markdown table (median and p95 over `n` detections), for a scenario's section. */
export function stagesMarkdown(stages: Record<DetectionStage, Summary>): string[] {
  const n = Math.max(...DETECTION_STAGES.map((st) => stages[st].n));
  return [
    `Where detection's time goes (${n} detections; stages from each failed component's supervisor history, on the same clock as the failure; a stage the supervisor skipped counts 0):`,
    '',
    '| stage | median | p95 |',
    '| --- | --- | --- |',
    ...DETECTION_STAGES.map((st) => `| ${st} | ${Math.round(stages[st].median)} ms | ${Math.round(stages[st].p95)} ms |`),
  ];
}
