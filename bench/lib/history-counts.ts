/**
 * What a mass outage cost in orchestration, counted from histories (bench/mass-profile.ts --counts):
 * per workflow, from a point in time, its workflow tasks (and the worker's wall time in them, started
 * to completed), activities by type, signals received and sent by name, and child workflows started.
 * Counts do not depend on the machine's load, so they compare two commits on a shared machine.
 */
import { eventMs, type HistoryEvent } from './timeline';

export interface HistoryCounts {
  events: number;
  workflowTasks: number;
  /** Workflow task started → completed, summed (the worker's side of each task, plus its queueing for a slot). */
  workflowTaskMs: number;
  activities: Record<string, number>;
  signalsIn: Record<string, number>;
  signalsOut: number;
  children: number;
}

export const emptyCounts = (): HistoryCounts => ({ events: 0, workflowTasks: 0, workflowTaskMs: 0, activities: {}, signalsIn: {}, signalsOut: 0, children: 0 });

const bump = (r: Record<string, number>, k: string, by = 1) => (r[k] = (r[k] ?? 0) + by);

/** Adds the events of `events` at or after `since` (ms since the epoch) to `into`. */
export function countHistory(events: HistoryEvent[], since: number, into: HistoryCounts = emptyCounts()): HistoryCounts {
  const started = new Map<number, number>();
  for (const e of events) {
    const at = eventMs(e);
    if (at < since) continue;
    into.events += 1;
    if (e.workflowTaskStartedEventAttributes) started.set(Number(e.eventId), at);
    else if (e.workflowTaskCompletedEventAttributes) {
      into.workflowTasks += 1;
      const from = started.get(Number(e.workflowTaskCompletedEventAttributes.startedEventId));
      if (from !== undefined) into.workflowTaskMs += at - from;
    } else if (e.activityTaskScheduledEventAttributes) bump(into.activities, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    else if (e.workflowExecutionSignaledEventAttributes) bump(into.signalsIn, e.workflowExecutionSignaledEventAttributes.signalName ?? '?');
    else if (e.signalExternalWorkflowExecutionInitiatedEventAttributes) into.signalsOut += 1;
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) into.children += 1;
  }
  return into;
}

/** `into` plus `c`, field by field. */
export function addCounts(into: HistoryCounts, c: HistoryCounts): HistoryCounts {
  into.events += c.events;
  into.workflowTasks += c.workflowTasks;
  into.workflowTaskMs += c.workflowTaskMs;
  for (const [k, v] of Object.entries(c.activities)) bump(into.activities, k, v);
  for (const [k, v] of Object.entries(c.signalsIn)) bump(into.signalsIn, k, v);
  into.signalsOut += c.signalsOut;
  into.children += c.children;
  return into;
}

/** Each count divided by `n` (per recovery), to two places. */
export function perEach(c: HistoryCounts, n: number): HistoryCounts {
  const d = (x: number) => Math.round((x / n) * 100) / 100;
  const each = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, d(v)]));
  return {
    events: d(c.events),
    workflowTasks: d(c.workflowTasks),
    workflowTaskMs: d(c.workflowTaskMs),
    activities: each(c.activities),
    signalsIn: each(c.signalsIn),
    signalsOut: d(c.signalsOut),
    children: d(c.children),
  };
}

/** A process's CPU time so far (user + system), ms; undefined when it is gone. */
export async function cpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  // Fields after the command (which may hold spaces) start at state; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}
