/** Probing a component with overlapping probes: how a sweep confirms a failure itself, a hang in about one timeout. */
import type { ProbeResult } from '../../core/failure';
import type { Component } from '../../core/schemas';

/**
 * Probes a component up to `failuresBeforeRecovery` times, `confirmInterval` apart: a new probe
 * starts every interval, whether or not the last one has answered. A fast failure (refused, an
 * error status) is so confirmed here, one interval later, and its report stands for every failure
 * needed: its supervisor goes straight to its recovery instead of a confirmation activity and two
 * workflow tasks more (about 0.15-0.3 s of a detection, seconds on a loaded box). A hang is confirmed
 * in about one probe timeout plus the spacing, instead of one timeout per failure in turn. Healthy
 * as soon as one probe is; otherwise `failures` is how many probes failed, and `result` the last.
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
        // Every probe launched has failed, and no more are due: that is the answer.
        if (failed === max) finish({ result, failures: failed });
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
