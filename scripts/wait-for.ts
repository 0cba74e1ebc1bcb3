/** Polling until a check holds: shared by the tests and the simulated hosts (scripts/sim-hosts.ts). */

/** Thrown by a check that knows the wait is hopeless (the process it waits for exited): ends the wait at once. */
export class GiveUp extends Error {}

/**
 * Calls `check` until it returns something truthy (returned) or `timeoutMs` passes (an error naming
 * `what` and the check's last error). A check that throws is retried, unless it throws `GiveUp`. Every `pollMs` at first; the
 * longer the wait, the further apart the checks, up to `maxPollMs` (a tenth of the time waited so
 * far): most checks query Temporal, and a test waiting half a minute for a recovery polled it 300
 * times, which on a loaded machine took CPU from the tests beside it.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  pollMs = 100,
  maxPollMs = 500,
): Promise<T> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    const gap = Math.max(pollMs, Math.min(maxPollMs, (Date.now() - started) / 10));
    await new Promise((r) => setTimeout(r, gap));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
