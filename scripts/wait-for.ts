/** Polling until a check holds: shared by the tests and the simulated hosts (scripts/sim-hosts.ts). */

/**
 * Calls `check` every `pollMs` until it returns something truthy (returned) or `timeoutMs` passes
 * (an error naming `what` and the check's last error). A check that throws is retried.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  pollMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
