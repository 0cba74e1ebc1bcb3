/**
 * backlogReplay: the long-running entity of one spool (`mend/backlog/<spool>`). Each cycle asks the
 * sink whether it is up (backing off, doubling to maxBackoff, while it is not), then replays the
 * oldest pending items in batches, one batch at a time, each item verified at the sink before it
 * leaves the spool. The wait between cycles follows the backlog. Continues as new to keep its
 * history small, carrying its counters and pause.
 */
import { allHandlersFinished, condition, continueAsNew, log, setHandler, workflowInfo } from '@temporalio/workflow';
import { onHost } from '../core/hosts';
import { hostActivities } from './lib/hosts';
import {
  addToMinutes,
  lastHour,
  replayInterval,
  sinkBackoff,
  type BacklogCarry,
  type BacklogInput,
  type BacklogStatus,
  type BatchResult,
} from '../core/backlog';
import type { FailureClass } from '../core/failure';
import {
  backlogForceUpdate,
  backlogPauseUpdate,
  backlogReconfigureSignal,
  backlogResetFailedUpdate,
  backlogResumeUpdate,
  backlogStatusQuery,
  type Requester,
} from '../core/messages';
import type { Spool } from '../core/schemas';

const DEFAULT_CONTINUE_AFTER_EVENTS = 4_000;

const MAX_PAUSE_MINUTES = 7 * 24 * 60;

const iso = (ms: number) => new Date(ms).toISOString();

function activitiesFor(spool: Spool) {
  // On the spool's host: its folder is on that host's disk.
  const quick = hostActivities(spool.host, {
    startToCloseTimeout: spool.sink.timeout + 5_000,
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
    summary: `check sink of ${spool.name}${onHost(spool)}`,
  });
  const batch = hostActivities(spool.host, {
    // Each item may take a lookup, a post, a verify and a last lookup.
    startToCloseTimeout: spool.batchSize * 4 * spool.sink.timeout + 30_000,
    heartbeatTimeout: '5s',
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10 },
    summary: `replay up to ${spool.batchSize} items of ${spool.name}${onHost(spool)}`,
  });
  return { checkSink: quick.checkSink, spoolCounts: quick.spoolCounts, resetFailedItems: quick.resetFailedItems, replayBatch: batch.replayBatch };
}

export async function backlogReplay(input: BacklogInput): Promise<void> {
  let spool = input.spool;
  let acts = activitiesFor(spool);
  const c: BacklogCarry = input.carried ?? { backoffMs: 0, totals: { delivered: 0, already: 0, failedAttempts: 0, deadLettered: 0 }, minutes: [], cycles: 0 };
  let activity: BacklogStatus['activity'] = 'idle';
  let processing = 0;
  let nextCycleAt: number | undefined;
  /** Set by force, resume, reset and reconfigure: the wait before the next cycle ends now. */
  let wake = false;

  const paused = () => c.pausedUntil !== undefined && c.pausedUntil > Date.now();
  const status = (): BacklogStatus => {
    const isPaused = paused();
    const pending = c.counts?.pending ?? 0;
    return {
      spool: spool.name,
      state: isPaused ? 'paused' : 'running',
      pausedUntil: isPaused ? iso(c.pausedUntil!) : undefined,
      pausedBy: isPaused ? c.pausedBy : undefined,
      pauseReason: isPaused ? c.pauseReason : undefined,
      activity,
      sink: c.sink ? { ...c.sink } : { healthy: null, detail: 'not checked yet' },
      counts: { pending, failed: c.counts?.failed ?? 0, processing, countedAt: c.countedAt === undefined ? undefined : iso(c.countedAt) },
      lastHour: lastHour(c.minutes, Date.now()),
      totals: { ...c.totals },
      intervalMs: c.backoffMs > 0 ? c.backoffMs : replayInterval(pending, spool.intervals),
      nextCycleAt: nextCycleAt === undefined ? undefined : iso(nextCycleAt),
      backoffUntil: c.backoffMs > 0 && nextCycleAt !== undefined ? iso(nextCycleAt) : undefined,
      cycles: c.cycles,
      lastError: c.lastError,
    };
  };

  setHandler(backlogStatusQuery, status);
  setHandler(
    backlogPauseUpdate,
    (req) => {
      c.pausedUntil = Date.now() + req.minutes * 60_000;
      c.pausedBy = req.by;
      c.pauseReason = req.reason;
      wake = true;
      log.info('backlog paused', { spool: spool.name, minutes: req.minutes, by: req.by });
      return status();
    },
    {
      validator: (req) => {
        const minutes = req?.minutes;
        if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes <= 0 || minutes > MAX_PAUSE_MINUTES) {
          throw new Error(`minutes: expected a number of minutes above 0 and at most ${MAX_PAUSE_MINUTES} (7 days)`);
        }
      },
    },
  );
  setHandler(backlogResumeUpdate, (req) => {
    if (paused()) log.info('backlog resumed', { spool: spool.name, by: req?.by });
    c.pausedUntil = undefined;
    c.pausedBy = undefined;
    c.pauseReason = undefined;
    wake = true;
    return status();
  });
  setHandler<BacklogStatus, [Requester], typeof backlogForceUpdate>(
    backlogForceUpdate,
    (req) => {
      log.info('backlog cycle forced', { spool: spool.name, by: req?.by });
      c.backoffMs = 0;
      wake = true;
      nextCycleAt = Date.now();
      return status();
    },
    {
      validator: () => {
        if (paused()) throw new Error(`${spool.name} is paused until ${iso(c.pausedUntil!)}; resume it first`);
      },
    },
  );
  setHandler(backlogResetFailedUpdate, async (req) => {
    const { moved, counts } = await acts.resetFailedItems({ spool });
    c.counts = counts;
    c.countedAt = Date.now();
    wake = true;
    log.info('backlog dead letters reset', { spool: spool.name, moved, by: req?.by });
    return { moved, status: status() };
  });
  setHandler(backlogReconfigureSignal, (next) => {
    spool = next;
    acts = activitiesFor(next);
    wake = true;
  });

  /** One batch's figures into the counters. */
  const count = (r: BatchResult) => {
    c.counts = r.counts;
    c.countedAt = Date.now();
    c.totals.delivered += r.delivered;
    c.totals.already += r.already;
    c.totals.failedAttempts += r.failedAttempts;
    c.totals.deadLettered += r.deadLettered.length;
    c.minutes = addToMinutes(c.minutes, Date.now(), r.delivered + r.already, r.failedAttempts + r.corrupt);
    if (r.lastError) c.lastError = r.lastError;
    for (const dead of r.deadLettered) log.warn('backlog item dead-lettered', { spool: spool.name, ...dead });
  };

  const sinkDown = (detail: string, failureClass: FailureClass | undefined) => {
    // Logged when it goes down (and at debug for each cycle it stays down), not at every backoff.
    const news = c.sink?.healthy !== false;
    c.sink = { healthy: false, checkedAt: iso(Date.now()), detail, failureClass };
    c.backoffMs = sinkBackoff(c.backoffMs, spool.intervals.busy, spool.maxBackoff);
    const fields = { spool: spool.name, detail, backoffMs: c.backoffMs };
    if (news) log.warn('backlog sink down; backing off', fields);
    else log.debug('backlog sink down; backing off', fields);
  };

  const cycle = async () => {
    c.cycles++;
    activity = 'checking-sink';
    const health = await acts.checkSink({ spool });
    if (!health.healthy) {
      sinkDown(health.detail, health.failureClass);
      c.counts = await acts.spoolCounts({ spool });
      c.countedAt = Date.now();
      return;
    }
    if (c.sink?.healthy === false) log.info('backlog sink up again', { spool: spool.name });
    c.sink = { healthy: true, checkedAt: iso(Date.now()), detail: health.detail };
    c.backoffMs = 0;
    activity = 'replaying';
    // Items that fail wait for the next cycle instead of being retried at once; newer ones go on.
    const retryLater: string[] = [];
    for (let n = 1; n <= spool.maxBatchesPerCycle && !paused(); n++) {
      processing = Math.min(spool.batchSize, Math.max(1, (c.counts?.pending ?? spool.batchSize) - retryLater.length));
      let r: BatchResult;
      try {
        r = await acts.replayBatch({ spool, batch: `${spool.name}-${c.cycles}.${n}`, skip: retryLater });
      } catch (err) {
        c.lastError = `replay batch failed: ${(err as Error).message}`;
        log.error('backlog batch failed', { spool: spool.name, error: c.lastError });
        return;
      } finally {
        processing = 0;
      }
      count(r);
      retryLater.push(...r.retry);
      if (r.sinkUnreachable) return sinkDown(r.lastError ?? 'the sink stopped answering', 'network');
      // Nothing settled in a whole batch, or many failed: the sink is struggling; the rest waits for the next cycle.
      const settled = r.delivered + r.already + r.deadLettered.length;
      if (r.taken === 0 || settled === 0 || r.counts.pending <= retryLater.length || retryLater.length >= 10 * spool.batchSize) return;
    }
  };

  for (;;) {
    if (paused()) {
      activity = 'idle';
      nextCycleAt = c.pausedUntil;
      await condition(() => !paused(), Math.max(1, c.pausedUntil! - Date.now()));
      continue;
    }
    wake = false;
    await cycle();
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > (input.continueAfterEvents ?? DEFAULT_CONTINUE_AFTER_EVENTS)) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof backlogReplay>({ spool, carried: c, continueAfterEvents: input.continueAfterEvents });
    }
    const waitMs = c.backoffMs > 0 ? c.backoffMs : replayInterval(c.counts?.pending ?? 0, spool.intervals);
    activity = c.backoffMs > 0 ? 'backing-off' : 'idle';
    nextCycleAt = Date.now() + waitMs;
    await condition(() => wake, Math.max(1, waitMs));
  }
}
