/**
 * Aggregate reads that answer without a workflow that does not answer.
 *
 * The fleet page, `/v1/stats` and `/v1/backlog` read several supervisors or replay entities with one
 * workflow query each. Temporal hands a query to the worker as a task of its own, and on a worker
 * that is far behind (a loaded machine, `npm run fuzz`) one can wait well past the API's 10 s
 * deadline: the server holds a query on the workflow's sticky queue for the worker's sticky
 * schedule-to-start timeout whatever deadline the client set. So each of these reads waits
 * `READ_QUERY_WAIT_MS` per workflow and says which ones did not answer, instead of the whole read
 * waiting out the deadline and answering 503. A Temporal that is not reachable still fails the read
 * (`requireReachable`): to a client that cannot connect, a query also just runs out of time.
 */
import { isTimeout, TemporalUnreachableError, type MendClient } from './index';

/** How long an aggregate read waits for one workflow's answer (within the request's deadline). */
export const READ_QUERY_WAIT_MS = 4_000;

export const UNANSWERED: unique symbol = Symbol('unanswered');

/** The read's answer, or `UNANSWERED` when it did not come within its wait; any other failure is thrown. */
export async function orUnanswered<T>(read: Promise<T>): Promise<T | typeof UNANSWERED> {
  try {
    return await read;
  } catch (err) {
    if (isTimeout(err)) return UNANSWERED;
    throw err;
  }
}

/** What a partial answer says about a replay entity that did not answer. */
export const spoolUnanswered = (spool: string) =>
  `the replay of spool ${spool} did not answer within ${READ_QUERY_WAIT_MS / 1000} s (a busy worker); its status is left out, try again shortly`;

/** How long a read whose workflows all stayed silent gives Temporal itself to answer. */
const REACHABLE_PROBE_MS = 2_000;

/**
 * For a read in which no workflow answered: a partial answer only when Temporal itself answers (the
 * worker is what is slow); otherwise TemporalUnreachableError (the API's 503). A client that cannot
 * connect sees its queries run out of time like those of a busy worker, so the timeouts alone cannot tell.
 */
export async function requireReachable(mend: MendClient): Promise<void> {
  const probe = await mend.isReachable(REACHABLE_PROBE_MS);
  if (!probe.ok) throw new TemporalUnreachableError(`Temporal is not reachable: ${probe.detail}`);
}
