/**
 * `--watch`: live progress of a run (phases and steps in the order they happened, next retry,
 * approval) until it ends. The progress query lists every phase entered with where it fell among
 * the steps, so a phase that began and ended between two polls is printed too, in its place.
 */
import type { RecoveryResult, RunProgress, StepRecord } from '../core/run';
import { dim, formatStep, yellow } from './format';
import type { MendOps } from './ops';

const POLL_MS = 400;

/** What has been printed so far, so a watch can continue from a status already shown. */
export interface WatchState {
  last?: RunProgress;
  /** Phase entries printed (a prefix of the run's phase log). */
  phasesShown: number;
  /** Ended steps printed (a prefix of the run's steps). */
  stepsShown: number;
  /** Running steps announced, by identity (an index moves when a compound step is replaced by its parts). */
  announced: Set<string>;
}

export function newWatchState(): WatchState {
  return { phasesShown: 0, stepsShown: 0, announced: new Set() };
}

/** Prints what changed since the last poll; returns the run's result once it ends. */
export async function watchRun(
  client: Pick<MendOps, 'result' | 'progress' | 'waitingRung'>,
  workflowId: string,
  runId: string | undefined,
  print: (line: string) => void,
  state: WatchState = newWatchState(),
): Promise<RecoveryResult> {
  let ended = false;
  const result = client.result(workflowId, runId).finally(() => (ended = true));
  result.catch(() => undefined); // handled below; never an unhandled rejection while polling
  let polls = 0;
  let rungAnnounced = false;
  while (!ended) {
    const now = await client.progress(workflowId, runId).catch(() => undefined);
    if (now) {
      for (const line of progressLines(state, now, workflowId)) print(line);
      // An escalation rung waiting for approval (an emergency reset) is a child run: look now and then.
      if (!rungAnnounced && polls++ % 5 === 0 && now.steps.some((s) => s.name === 'escalate' && s.status === 'running')) {
        const rung = await client.waitingRung(workflowId).catch(() => undefined);
        if (rung) {
          rungAnnounced = true;
          print(yellow(`${rung} is waiting for approval: \`mend approve ${workflowId} --reason "..."\` or \`--reject\``));
        }
      }
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, POLL_MS))]);
  }
  const final = await result;
  // What happened after the last poll: the ended run still answers its progress query (phases included).
  const last = await client.progress(workflowId, runId).catch(() => undefined);
  if (last && last.steps.length === final.steps.length) for (const line of timelineLines(state, last, true)) print(line);
  else final.steps.slice(state.stepsShown).forEach((step) => print(formatStep(step)));
  return final;
}

/**
 * Lines describing what is new in `now` since `state` (which it updates): phases and ended steps in
 * the order they happened, each once, a running step announced once; then a pause, a next attempt
 * or an approval wait when those changed.
 */
export function progressLines(state: WatchState, now: RunProgress, run = '<run>'): string[] {
  const before = state.last;
  const lines = timelineLines(state, now, false);
  if (now.nextAttemptAt && now.nextAttemptAt !== before?.nextAttemptAt) lines.push(dim(`next attempt (${now.attempt + 1}) at ${now.nextAttemptAt}`));
  if (now.paused !== (before?.paused ?? false)) lines.push(yellow(now.paused ? `paused: resume with \`mend resume ${run}\`` : 'resumed'));
  if (now.approval?.state === 'waiting' && before?.approval?.state !== 'waiting') {
    lines.push(yellow(`waiting for approval until ${now.approval.deadline}: \`mend approve ${run} --reason "..."\` or \`--reject\``));
  }
  state.last = now;
  return lines;
}

/**
 * Phases and steps in order from where `state` left off. Output stops at the first step still
 * running (announced once; later running ones too): what comes after it is printed once it ends,
 * so the lines keep the run's order. `ended`: the run is over, print everything left.
 */
function timelineLines(state: WatchState, now: RunProgress, ended: boolean): string[] {
  const lines: string[] = [];
  // A worker from before the phase log answers without it: its current phase stands for it.
  const phases = now.phases ?? (state.last?.phase === now.phase ? [] : [{ phase: now.phase, at: '', step: now.steps.length }]);
  if (!now.phases) state.phasesShown = 0;
  let blocked = false;
  let p = 0;
  const phaseLine = (upTo: number) => {
    for (; p < phases.length && phases[p]!.step <= upTo; p++) {
      if (p < state.phasesShown || blocked) continue;
      lines.push(dim(`phase: ${phases[p]!.phase}`));
      state.phasesShown = p + 1;
    }
  };
  now.steps.forEach((step, i) => {
    phaseLine(i);
    if (i < state.stepsShown) return;
    if (step.status === 'running' && !ended) {
      const key = stepKey(step);
      if (!state.announced.has(key)) lines.push(`  ${yellow('running'.padEnd(7))} ${step.name.padEnd(9)}         ${step.summary}`);
      state.announced.add(key);
      blocked = true;
      return;
    }
    if (blocked) return;
    lines.push(formatStep(step));
    state.stepsShown = i + 1;
  });
  phaseLine(Number.POSITIVE_INFINITY);
  if (!now.phases) state.phasesShown = 0;
  return lines;
}

function stepKey(step: StepRecord): string {
  return `${step.startedAt}|${step.name}|${step.component ?? ''}`;
}
