/** `--watch`: live progress of a run (phase, steps as they start and end, next retry, approval) until it ends. */
import type { RecoveryResult, RunProgress } from '../core/run';
import { dim, formatStep, yellow } from './format';
import type { MendOps } from './ops';

const POLL_MS = 400;

/** What has been printed so far, so a watch can continue from a status already shown. */
export interface WatchState {
  last?: RunProgress;
  announced: Set<number>;
  finished: Set<number>;
}

/** Prints what changed since the last poll; returns the run's result once it ends. */
export async function watchRun(
  client: Pick<MendOps, 'result' | 'progress' | 'waitingRung'>,
  workflowId: string,
  runId: string | undefined,
  print: (line: string) => void,
  state: WatchState = { announced: new Set(), finished: new Set() },
): Promise<RecoveryResult> {
  let ended = false;
  const result = client.result(workflowId, runId).finally(() => (ended = true));
  result.catch(() => undefined); // handled below; never an unhandled rejection while polling
  const { announced, finished } = state;
  let last = state.last;
  let polls = 0;
  let rungAnnounced = false;
  while (!ended) {
    const now = await client.progress(workflowId, runId).catch(() => undefined);
    if (now) {
      for (const line of progressLines(last, now, announced, finished, workflowId)) print(line);
      last = now;
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
  // Steps that ended after the last poll.
  const final = await result;
  final.steps.forEach((step, i) => finished.has(i) || print(formatStep(step)));
  return final;
}

/** Lines describing the change from `before` to `now`; `announced`/`finished` remember printed steps. */
export function progressLines(before: RunProgress | undefined, now: RunProgress, announced: Set<number>, finished: Set<number>, run = '<run>'): string[] {
  const lines: string[] = [];
  now.steps.forEach((step, i) => {
    if (step.status === 'running') {
      if (!announced.has(i)) lines.push(`  ${yellow('running'.padEnd(7))} ${step.name.padEnd(9)}         ${step.summary}`);
      announced.add(i);
    } else if (!finished.has(i)) {
      finished.add(i);
      lines.push(formatStep(step));
    }
  });
  if (now.phase !== before?.phase) lines.push(dim(`phase: ${now.phase}`));
  if (now.nextAttemptAt && now.nextAttemptAt !== before?.nextAttemptAt) lines.push(dim(`next attempt (${now.attempt + 1}) at ${now.nextAttemptAt}`));
  if (now.paused !== (before?.paused ?? false)) lines.push(yellow(now.paused ? `paused: resume with \`mend resume ${run}\`` : 'resumed'));
  if (now.approval?.state === 'waiting' && before?.approval?.state !== 'waiting') {
    lines.push(yellow(`waiting for approval until ${now.approval.deadline}: \`mend approve ${run} --reason "..."\` or \`--reject\``));
  }
  return lines;
}
