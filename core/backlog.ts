/**
 * The backlog replay entity's contract: its input, its status report, the results of its
 * activities, and the pure rules for its cadence.
 * Shared by the workflow (types only), the activities, the client and the CLI.
 */
import type { BacklogStatus } from './api/backlog';
import type { FailureClass } from './failure';
import type { Spool } from './schemas';

/** What one replay batch did; the activity's answer. */
export interface BatchResult {
  /** Pending items taken into this batch. */
  taken: number;
  /** Handed to the sink and verified there, then removed from the spool. */
  delivered: number;
  /** Found already at the sink (an earlier attempt got through), verified, removed. */
  already: number;
  /** Delivery attempts that failed and were counted against their item. */
  failedAttempts: number;
  /** Unreadable, malformed or oversized items (dead-lettered at once, class data). */
  corrupt: number;
  /** Items moved to failed/ in this batch, with why. */
  deadLettered: Array<{ id: string; failureClass: FailureClass; reason: string }>;
  /** Files whose delivery failed and that stay pending for a later cycle. */
  retry: string[];
  /** True when the sink stopped answering mid-batch (network or timeout): the rest waits. */
  sinkUnreachable: boolean;
  /** The last sink error, if any. */
  lastError?: string;
  /** Spool counts after the batch. */
  counts: SpoolCounts;
}

export interface SpoolCounts {
  pending: number;
  failed: number;
}

/** Carried across continue-as-new: what the status must not forget. */
export interface BacklogCarry {
  pausedUntil?: number;
  pausedBy?: string;
  pauseReason?: string;
  backoffMs: number;
  sink?: SinkHealth;
  counts?: SpoolCounts;
  countedAt?: number;
  totals: BacklogTotals;
  /** Deliveries and failures per minute (epoch minute), the last hour only. */
  minutes: MinuteBucket[];
  cycles: number;
  lastError?: string;
}

export interface BacklogInput {
  spool: Spool;
  carried?: BacklogCarry;
  /** Continue as new past this many history events (default 4,000) even before the server suggests it. */
  continueAfterEvents?: number;
}

// The status is an API shape, inferred from its schema (a type only: the workflow imports this module).
export type { BacklogStatus };

export interface SinkHealth {
  healthy: boolean;
  checkedAt: string;
  detail: string;
  failureClass?: FailureClass;
}

export interface BacklogTotals {
  delivered: number;
  already: number;
  failedAttempts: number;
  deadLettered: number;
}

export interface MinuteBucket {
  minute: number;
  delivered: number;
  failed: number;
}

export interface PauseRequest {
  minutes: number;
  by?: string;
  reason?: string;
}

/** The wait before the next cycle when the sink is healthy: shorter the more is waiting. */
export function replayInterval(pending: number, intervals: Spool['intervals']): number {
  if (pending >= intervals.busyAt) return intervals.busy;
  if (pending > 0) return intervals.some;
  return intervals.idle;
}

/** The next wait while the sink stays down: the busy interval first, then doubling up to `max`. */
export function sinkBackoff(previousMs: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, previousMs > 0 ? previousMs * 2 : baseMs);
}

/** Adds a batch's figures to the per-minute buckets and drops those older than an hour. */
export function addToMinutes(buckets: MinuteBucket[], nowMs: number, delivered: number, failed: number): MinuteBucket[] {
  const minute = Math.floor(nowMs / 60_000);
  const kept = buckets.filter((b) => b.minute > minute - 60);
  const current = kept.find((b) => b.minute === minute);
  if (current) {
    current.delivered += delivered;
    current.failed += failed;
  } else if (delivered > 0 || failed > 0) {
    kept.push({ minute, delivered, failed });
  }
  return kept;
}

/** Deliveries and failures over the hour before `nowMs`, with the success rate (null when nothing happened). */
export function lastHour(buckets: MinuteBucket[], nowMs: number): BacklogStatus['lastHour'] {
  const minute = Math.floor(nowMs / 60_000);
  let delivered = 0;
  let failed = 0;
  for (const b of buckets) {
    if (b.minute <= minute - 60) continue;
    delivered += b.delivered;
    failed += b.failed;
  }
  const total = delivered + failed;
  return { delivered, failed, successRate: total === 0 ? null : Math.round((delivered / total) * 1000) / 1000 };
}
