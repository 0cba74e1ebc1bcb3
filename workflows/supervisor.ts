/**
 * The supervisor of one component (`mend/supervisor/<component>`): turns probe reports (from health
 * sweeps and its own pid watch) into at most one recovery at a time. Every decision is made by the
 * pure machine of core/supervisor-machine.ts; its intents are carried out by workflows/lib/supervisor-io.ts;
 * this workflow holds the handlers, the feed and the loop.
 */
import { patched, setHandler } from '@temporalio/workflow';
import {
  decide,
  initialMachine,
  waitIntent,
  type MachineEvent,
  type Patch,
  type Patches,
  type SupervisorInput,
  type WaitIntent,
} from '../core/supervisor-machine';
import { permitSignal } from './fleet-limiter';
import { supervisorIo } from './lib/supervisor-io';

// Defined once in core/messages (the client and the sweep send them).
import { breakerResetUpdate, hostStatusSignal, pauseSupervisionSignal, reportSignal, resumeSupervisionSignal, supervisorStateQuery } from '../core/messages';
import { supervisorWorkflowId } from '../core/constants';
export { breakerResetUpdate, hostStatusSignal, pauseSupervisionSignal, reportSignal, resumeSupervisionSignal, supervisorStateQuery };
export type { SupervisorInput };

/** The machine's patch flags as the markers in supervisors' histories (see Patch in core/supervisor-machine). */
const PATCH_IDS: Record<Patch, string> = {
  breakerReset: 'supervisor-breaker-reset',
  holdForDependencies: 'supervisor-holds-for-dependencies',
  inboxEvidence: 'supervisor-inbox-failures-are-evidence',
  oneTrial: 'supervisor-breaker-one-trial',
  waitOutRuns: 'supervisor-waits-out-recovery-runs',
  hostOutage: 'supervisor-reports-host-outage',
  drainApart: 'supervisor-keeps-drain-apart-from-pause',
  pidExitNoLastLook: 'supervisor-pid-exit-skips-last-look',
  permitWithRunLookup: 'supervisor-asks-permit-with-run-lookup',
  hostOutageFree: 'supervisor-host-outage-takes-no-breaker-slot',
  permitWakesOnHealthy: 'supervisor-permit-wait-wakes-on-healthy',
  dependencyOutageFree: 'supervisor-dependency-host-outage-takes-no-breaker-slot',
  watchRestarts: 'supervisor-watch-restarts-in-place',
};

/**
 * Runs until terminated; reports arrive by `report` (signal-with-start from the sweep). Recoveries start as children
 * `mend/recover/<component>` (ABANDON: a supervisor's end never cancels one); a run it did not start is waited out.
 */
export async function supervisor(input: SupervisorInput): Promise<void> {
  let m = initialMachine(input, Date.now());
  /** Decides `ev`, answering each patch flag the machine asks for where it asks, and carries out its immediate intents. */
  const feed = (ev: MachineEvent): WaitIntent | undefined => {
    const patches: Patches = {};
    for (let done = 0; ;) {
      const out = decide(m, ev, patches);
      out.intents.slice(done).forEach(act);
      done = out.intents.length;
      if (!out.ask) {
        m = out.machine;
        return waitIntent(out.intents);
      }
      patches[out.ask] = patched(PATCH_IDS[out.ask]);
    }
  };
  const { act, io, start, granted } = supervisorIo(input, () => m, feed);
  setHandler(reportSignal, (report) => void feed({ kind: 'report', report }));
  setHandler(permitSignal, ({ component }) => granted(component));
  setHandler(supervisorStateQuery, () => m.state);
  setHandler(
    pauseSupervisionSignal,
    (req) => void feed({ kind: 'pause', now: Date.now(), by: req?.by, forMs: req?.forMs, reason: req?.reason, host: req?.host }),
  );
  setHandler(resumeSupervisionSignal, (req) => void feed(req?.host !== undefined ? { kind: 'resume', host: req.host } : { kind: 'resume' }));
  setHandler(hostStatusSignal, ({ host, reachable }) => void feed({ kind: 'host-status', now: Date.now(), host, reachable }));
  setHandler(breakerResetUpdate, ({ by, reason }) => {
    const previous = m.state.breaker.state;
    const at = Date.now();
    feed({ kind: 'breaker-reset', now: at, by, reason });
    const st = m.state;
    return {
      component: st.component,
      workflowId: supervisorWorkflowId(st.component),
      previous,
      state: st.breaker.state,
      by,
      reason,
      at: new Date(at).toISOString(),
      checking: m.checkDue === true || m.pass?.stage === 'reset-check',
    };
  });

  for (let ev = start(); ;) {
    const next = feed(ev);
    if (!next) throw new Error('supervisor: the machine decided nothing to wait on');
    ev = await io(next);
  }
}
