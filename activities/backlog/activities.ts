/**
 * Backlog replay activities: check the sink, replay one batch (deliver, verify, remove or count
 * the attempt, dead-letter), move dead letters back, count the spool.
 */
import { Context, log } from '@temporalio/activity';
import type { BatchResult, SpoolCounts } from '../../core/backlog';
import type { Spool } from '../../core/schemas';
import type { ProbeResult } from '../../core/failure';
import { whileBeating } from '../heartbeat';
import { replayBatch, type ReplayBatchInput } from '../../domain/backlog/replay';
import { sinkHealthy } from '../../domain/backlog/sink';
import { counts, resetFailed } from '../../domain/backlog/spool';

export interface SpoolRef {
  spool: Spool;
}

export function createBacklogActivities() {
  return {
    /** Read-only: asks the sink's health URL; asking twice changes nothing. */
    async checkSink({ spool }: SpoolRef): Promise<ProbeResult> {
      return sinkHealthy(spool);
    },

    /** Read-only: counts files. */
    async spoolCounts({ spool }: SpoolRef): Promise<SpoolCounts> {
      return counts(spool.dir);
    },

    /**
     * Delivers the oldest pending items, heartbeating per item. Safe to run twice: an item leaves
     * pending/ only once the sink confirms it holds it, and a retry asks the sink first (domain/backlog/replay).
     */
    async replayBatch(input: ReplayBatchInput): Promise<BatchResult> {
      const ctx = Context.current();
      const result = await whileBeating(() =>
        replayBatch(input, { onItem: (file) => ctx.heartbeat({ batch: input.batch, file }), signal: ctx.cancellationSignal }),
      );
      const { spool, batch } = input;
      // Every cycle's batches: debug (dead letters are logged by the workflow, one line each).
      log.debug('replay batch', {
        spool: spool.name,
        batch,
        taken: result.taken,
        delivered: result.delivered,
        already: result.already,
        failedAttempts: result.failedAttempts,
        deadLettered: result.deadLettered.length,
        pending: result.counts.pending,
      });
      return result;
    },

    /** Safe to run twice: a second run finds no dead letters left to move. */
    async resetFailedItems({ spool }: SpoolRef): Promise<{ moved: number; counts: SpoolCounts }> {
      const moved = await resetFailed(spool.dir);
      log.info('reset failed items', { spool: spool.name, moved });
      return { moved, counts: await counts(spool.dir) };
    },
  };
}
