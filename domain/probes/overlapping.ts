/** Probing a component with overlapping probes: how a sweep confirms a hang in about one timeout. */
import type { ProbeResult } from '../../core/failure';
import type { Component } from '../../core/schemas';

/**
 * Probes a component; while no answer has come, starts another probe every `confirmInterval`, up
 * to `failuresBeforeRecovery` in all. A hang is so confirmed in about one probe timeout plus the
 * spacing, instead of one timeout per failure in turn. Healthy as soon as one probe is; otherwise
 * `failures` is how many probes failed.
 */
export async function probeOverlapping(
  component: Component,
  probe: (component: Component) => Promise<ProbeResult>,
): Promise<{ result: ProbeResult; failures: number }> {
  const max = Math.max(1, component.supervision.failuresBeforeRecovery);
  const spacing = component.supervision.confirmInterval;
  return new Promise((resolve) => {
    let started = 0;
    let failed = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (value: { result: ProbeResult; failures: number }) => {
      done = true;
      clearTimeout(timer);
      resolve(value);
    };
    const launch = () => {
      started++;
      void probe(component).then((result) => {
        if (done) return;
        if (result.healthy) return finish({ result, failures: 0 });
        failed++;
        // No probe outstanding: answer now (a fast failure is confirmed by the supervisor).
        if (failed === started) finish({ result, failures: failed });
      });
      if (started < max) {
        timer = setTimeout(() => {
          if (!done) launch();
        }, spacing);
      }
    };
    launch();
  });
}
