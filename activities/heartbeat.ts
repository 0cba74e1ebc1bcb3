/** Heartbeats for activities whose work gives no natural progress points (an HTTP call, a move). */
import { Context } from '@temporalio/activity';

/** Runs `fn`, heartbeating every second meanwhile, so a heartbeat timeout means a dead worker, not slow work. */
export async function whileBeating<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 1_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
