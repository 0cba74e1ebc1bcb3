/**
 * Replays one batch of a spool to its sink: deliver, verify, remove or count the attempt,
 * dead-letter. Safe to run twice: an item leaves pending/ only after the sink confirms it holds
 * it, and delivery asks the sink first (and sends the id as idempotency key), so a retry after a
 * crash finds it there instead of posting again. A retry counts a new attempt only for an item
 * that really failed again.
 */
import type { BatchResult } from '../../core/backlog';
import type { Spool } from '../../core/schemas';
import { deliver, SinkError, sinkHas } from './sink';
import { counts, deadLetter, listPending, readAttempts, recordAttempt, removeDelivered, type PendingEntry } from './spool';

export interface ReplayBatchInput {
  spool: Spool;
  /** Names the batch at the sink (x-mend-batch) and in logs. */
  batch: string;
  /** Pending files to leave for a later cycle (they failed earlier in this one). */
  skip?: string[];
}

export interface ReplayHooks {
  /** Called before each item (an activity heartbeats here). */
  onItem?: (file: string) => void;
  /** Once aborted, the batch stops before its next item. */
  signal?: AbortSignal;
}

/** Retryable failures in a row after which a batch stops: the sink is struggling, the rest can wait. */
const STOP_AFTER_FAILURES_IN_A_ROW = 3;

/** Delivers the oldest pending items one after another, oldest first. */
export async function replayBatch({ spool, batch, skip = [] }: ReplayBatchInput, hooks: ReplayHooks = {}): Promise<BatchResult> {
  const entries = await listPending(spool.dir, spool.batchSize, spool.maxItemBytes, new Set(skip));
  const result: BatchResult = {
    taken: entries.length,
    delivered: 0,
    already: 0,
    failedAttempts: 0,
    corrupt: 0,
    deadLettered: [],
    retry: [],
    sinkUnreachable: false,
    counts: { pending: 0, failed: 0 },
  };
  let failuresInARow = 0;
  for (const entry of entries) {
    hooks.onItem?.(entry.file);
    if (hooks.signal?.aborted) break;
    const outcome = await replayOne(spool, entry, batch);
    if (outcome.kind === 'delivered') result.delivered++;
    if (outcome.kind === 'already') result.already++;
    if (outcome.kind === 'dead-lettered') result.deadLettered.push(outcome.dead);
    if (outcome.kind === 'dead-lettered' && !outcome.counted) result.corrupt++;
    if (outcome.kind === 'attempt-failed' || (outcome.kind === 'dead-lettered' && outcome.counted)) {
      result.failedAttempts++;
      result.lastError = outcome.kind === 'attempt-failed' ? outcome.error.message : outcome.dead.reason;
    }
    if (outcome.kind === 'attempt-failed') {
      result.retry.push(entry.file);
      failuresInARow++;
      // The sink is not there at all, or keeps failing: stop before wearing down every item's attempts.
      if (outcome.error.failureClass === 'network' || outcome.error.failureClass === 'timeout') {
        result.sinkUnreachable = true;
        break;
      }
      if (failuresInARow >= STOP_AFTER_FAILURES_IN_A_ROW) break;
    } else {
      failuresInARow = 0;
    }
  }
  result.counts = await counts(spool.dir);
  return result;
}

type ItemOutcome =
  | { kind: 'delivered' | 'already' }
  | { kind: 'attempt-failed'; error: SinkError }
  | { kind: 'dead-lettered'; dead: BatchResult['deadLettered'][number]; counted: boolean };

async function replayOne(spool: Spool, entry: PendingEntry, batch: string): Promise<ItemOutcome> {
  if (!entry.ok) {
    // Unreadable, not an item or too large: trying again cannot help, and it must not block the queue.
    const id = entry.file.replace(/\.json$/, '');
    await deadLetter(spool.dir, entry.file, { failureClass: 'data', reason: entry.reason, attempts: 0 });
    return { kind: 'dead-lettered', dead: { id, failureClass: 'data', reason: entry.reason }, counted: false };
  }
  const { item, file } = entry;
  let sent: Awaited<ReturnType<typeof deliver>>;
  try {
    sent = await deliver(spool, item, { batch });
  } catch (err) {
    if (!(err instanceof SinkError)) throw err;
    if (!err.retryable) {
      // The sink refused this item (4xx other than 408/429): it did not take it, and will not.
      const attempts = (await readAttempts(spool.dir, item.id)).attempts + 1;
      await deadLetter(spool.dir, file, { failureClass: err.failureClass, reason: err.message, attempts });
      return { kind: 'dead-lettered', dead: { id: item.id, failureClass: err.failureClass, reason: err.message }, counted: true };
    }
    const attempts = await recordAttempt(spool.dir, item.id, err.message);
    return (attempts >= spool.maxAttempts && (await lastChance(spool, file, item.id, err, attempts))) || { kind: 'attempt-failed', error: err };
  }
  // Verify before forgetting: the item leaves the spool only once the sink says it holds it.
  let held: boolean;
  try {
    held = await sinkHas(spool, item.id);
  } catch (err) {
    if (!(err instanceof SinkError)) throw err;
    // Delivered but not confirmed: stays pending (not an attempt against it); the next try asks first.
    return { kind: 'attempt-failed', error: new SinkError(`verify after delivery: ${err.message}`, err.failureClass, true, err.status) };
  }
  if (!held) {
    const error = new SinkError(`the sink accepted ${item.id} but does not hold it`, 'data', true);
    const attempts = await recordAttempt(spool.dir, item.id, error.message);
    return (attempts >= spool.maxAttempts && (await lastChance(spool, file, item.id, error, attempts))) || { kind: 'attempt-failed', error };
  }
  await removeDelivered(spool.dir, file);
  return { kind: sent.delivered ? 'delivered' : 'already' };
}

/**
 * After the last allowed attempt: an item goes to failed/ only when the sink says it does not hold
 * it, so nothing ends both delivered and dead. Found there, it is removed as delivered; when the
 * sink cannot say, the item stays pending for the next cycle (undefined).
 */
async function lastChance(spool: Spool, file: string, id: string, error: SinkError, attempts: number): Promise<ItemOutcome | undefined> {
  let held: boolean;
  try {
    held = await sinkHas(spool, id);
  } catch {
    return undefined;
  }
  if (held) {
    await removeDelivered(spool.dir, file);
    return { kind: 'already' };
  }
  const reason = `${attempts} failed attempts; last: ${error.message}`;
  await deadLetter(spool.dir, file, { failureClass: error.failureClass, reason, attempts });
  return { kind: 'dead-lettered', dead: { id, failureClass: error.failureClass, reason }, counted: true };
}
