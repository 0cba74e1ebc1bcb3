/** A recovery run's history as points in time: where the run's wall time went, step by step. */
import type { temporal } from '@temporalio/proto';

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface TimelinePoint {
  /** `run started`, `<activity> scheduled|started|closed`, `run closed`. */
  what: string;
  /** Wall clock, ms since the epoch (the server's clock; the same machine as the bench). */
  at: number;
}

/** An event's server time in ms since the epoch. */
export function eventMs(e: HistoryEvent | undefined): number {
  const t = e?.eventTime;
  if (!t) throw new Error('bench: history event without a time');
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

export function recoveryTimeline(events: HistoryEvent[]): TimelinePoint[] {
  const names = new Map<number, string>();
  const points: TimelinePoint[] = [];
  for (const e of events) {
    const at = eventMs(e);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (e.workflowExecutionStartedEventAttributes) points.push({ what: 'run started', at });
    else if (scheduled) {
      const name = scheduled.activityType?.name ?? 'activity';
      names.set(Number(e.eventId), name);
      points.push({ what: `${name} scheduled`, at });
    } else if (e.activityTaskStartedEventAttributes)
      points.push({ what: `${names.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? 'activity'} started`, at });
    else {
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (done) points.push({ what: `${names.get(Number(done.scheduledEventId)) ?? 'activity'} closed`, at });
      else if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes) points.push({ what: 'run closed', at });
    }
  }
  return points;
}

/** A supervisor's history as points in time: signals by name, activities as in recoveryTimeline, child runs started and closed. */
export function supervisorTimeline(events: HistoryEvent[]): TimelinePoint[] {
  const points = recoveryTimeline(events).filter((p) => p.what !== 'run started' && p.what !== 'run closed');
  for (const e of events) {
    const at = eventMs(e);
    if (e.workflowExecutionSignaledEventAttributes) points.push({ what: `signal ${e.workflowExecutionSignaledEventAttributes.signalName ?? '?'}`, at });
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) points.push({ what: 'child start', at });
    else if (e.childWorkflowExecutionStartedEventAttributes) points.push({ what: 'child started', at });
    else if (e.childWorkflowExecutionCompletedEventAttributes || e.childWorkflowExecutionFailedEventAttributes) points.push({ what: 'child closed', at });
  }
  return points.sort((a, b) => a.at - b.at);
}
