/**
 * The adaptive window of restarts one host's agent does on its own (a pid watch its supervisor
 * authorized to restart in place): at most `size` at once, the rest wait their turn in order. The
 * size moves by core/aimd.ts's rules as each restart ends: one more after a quick success, halved
 * after a slow or failed one, within [floor, ceiling]. It lives in the agent's process, so a mass
 * outage on one host is admitted by that host alone, without a round trip to the fleet limiter,
 * and does not slow recovery on another host.
 */
import { clampWindow, nextWindow, slowStartWindow, type AimdOutcome } from '../core/aimd';

export interface WindowSettings {
  ceiling: number;
  slowMs: number;
  /** The window never shrinks below this (the fleet's strict cap). */
  floor: number;
}

export interface AdaptiveWindow {
  /** Runs `work` once the window admits it; its outcome (`ok`) and duration move the window. */
  run<T>(settings: WindowSettings, work: () => Promise<T>, ok: (value: T) => boolean): Promise<{ value: T; waitedMs: number }>;
  /** The window now (for logs and tests). */
  state(): { size: number; running: number; waiting: number };
}

export function createAdaptiveWindow(now: () => number = Date.now): AdaptiveWindow {
  let size: number | undefined;
  let running = 0;
  const waiting: Array<{ settings: WindowSettings; resume: () => void }> = [];
  const admits = (settings: WindowSettings) => clampWindow(size ?? slowStartWindow(settings.floor, settings.ceiling), settings.ceiling, settings.floor);
  const wakeNext = () => {
    while (waiting.length > 0 && running < admits(waiting[0]!.settings)) {
      running++;
      waiting.shift()!.resume();
    }
  };
  return {
    async run(settings, work, ok) {
      const asked = now();
      // The newest settings win (a config change reaches the next restart).
      size = admits(settings);
      if (running < size && waiting.length === 0) running++;
      else await new Promise<void>((resume) => waiting.push({ settings, resume }));
      const started = now();
      let outcome: AimdOutcome = { ok: false, durationMs: 0 };
      try {
        const value = await work();
        outcome = { ok: ok(value), durationMs: now() - started };
        return { value, waitedMs: started - asked };
      } catch (err) {
        outcome = { ok: false, durationMs: now() - started };
        throw err;
      } finally {
        running--;
        size = nextWindow(admits(settings), outcome, settings);
        wakeNext();
      }
    },
    state: () => ({ size: size ?? 0, running, waiting: waiting.length }),
  };
}
