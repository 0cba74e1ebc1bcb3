/**
 * The step library every runbook is built from: phases (upserted to MendPhase), a `progress`
 * query, `pause`/`resume` signals honoured between side effects, dry-run plans and a typed result.
 */
import { ApplicationFailure, condition, isCancellation, setHandler } from '@temporalio/workflow';
import { FAILURE_CLASSES, type FailureClass } from '../../core/failure';
import type { ApprovalStatus, Outcome, Phase, PhaseRecord, RecoveryResult, RunbookKind, StepRecord } from '../../core/run';
import { pauseSignal, progressQuery, resumeSignal } from '../../core/messages';
import type { Trigger } from '../../core/schemas';
import { upsertEnd, upsertOutcome, upsertPhase, upsertRunAttributes } from './search-attributes';

/** A step failed; carries what the result should say. */
export class StepFailed extends Error {
  constructor(
    message: string,
    readonly failureClass?: FailureClass,
  ) {
    super(message);
    this.name = 'StepFailed';
  }
}

export interface RunbookOptions {
  /** A strategy, a saga, or a drill (which rehearses a recovery and returns its own result). */
  strategy: RunbookKind | 'drill';
  components: string[];
  trigger: Trigger;
  dryRun?: boolean;
  /** The phase the run starts in (default detection; a drill starts preparing). */
  phase?: Phase;
}

export class Runbook {
  private phase: Phase;
  private paused = false;
  private readonly steps: StepRecord[] = [];
  /** Every phase entered, for the progress query only (a watcher polling misses short ones): no commands. */
  private readonly phases: PhaseRecord[] = [];
  private readonly startedAt = Date.now();
  attempt = 1;
  nextAttemptAt?: string;
  approval?: ApprovalStatus;

  constructor(private readonly opts: RunbookOptions) {
    this.phase = opts.phase ?? 'detection';
    this.logPhase();
    setHandler(progressQuery, () => ({
      phase: this.phase,
      phases: this.phases.map((p) => ({ ...p })),
      // Derived from the log: the latest step still running (parallel levels may run several).
      step: this.steps.filter((s) => s.status === 'running').at(-1)?.name,
      attempt: this.attempt,
      paused: this.paused,
      nextAttemptAt: this.nextAttemptAt,
      approval: this.approval && { ...this.approval },
      steps: this.steps.map((s) => ({ ...s })),
    }));
    setHandler(pauseSignal, () => void (this.paused = true));
    setHandler(resumeSignal, () => void (this.paused = false));
    upsertRunAttributes({ components: opts.components, strategy: opts.strategy, trigger: opts.trigger, phase: this.phase });
  }

  get dryRun(): boolean {
    return this.opts.dryRun === true;
  }

  enter(phase: Phase): void {
    this.phase = phase;
    this.logPhase();
    upsertPhase(phase);
  }

  /** Records the phase just entered, unless it is the one the run was in already. */
  private logPhase(): void {
    if (this.phases.at(-1)?.phase !== this.phase) this.phases.push({ phase: this.phase, at: new Date().toISOString(), step: this.steps.length });
  }

  /**
   * Runs one side effect as a named step. Waits first while paused (never pauses mid-step).
   * In a dry run the step is recorded as planned and `fn` is not called, unless it is `readOnly`
   * (a probe), which runs so the plan can say what it would do. `failed` marks a step failed by
   * what it returned (a validation that did not end healthy) without throwing.
   */
  async step<T>(
    name: string,
    summary: string,
    component: string | undefined,
    fn: () => Promise<T>,
    opts: { readOnly?: boolean; failed?: (value: T) => boolean } = {},
  ): Promise<T | undefined> {
    if (this.dryRun && !opts.readOnly) {
      this.steps.push({ name, summary, component, status: 'planned', startedAt: new Date().toISOString() });
      return undefined;
    }
    await condition(() => !this.paused);
    const record: StepRecord = { name, summary, component, status: 'running', startedAt: new Date().toISOString() };
    this.steps.push(record);
    const started = Date.now();
    try {
      const value = await fn();
      record.status = opts.failed?.(value) ? 'failed' : 'ok';
      return value;
    } catch (err) {
      record.status = 'failed';
      record.detail = describeError(err);
      throw err;
    } finally {
      record.endedAt = new Date().toISOString();
      record.durationMs = Date.now() - started;
    }
  }

  /**
   * Runs one activity that does several steps at once (the short path of a restart): one running
   * step while it runs, replaced once it ends by the steps it reports (`parts`), each with its own
   * times and status, so the log reads as if each had been its own step. A failure that carries
   * the steps done so far (`partsOfError`) is shown the same way, the failed one last.
   */
  async compound<T>(
    name: string,
    summary: string,
    component: string | undefined,
    fn: () => Promise<T>,
    parts: (value: T) => StepRecord[],
    partsOfError: (err: unknown) => StepRecord[] | undefined,
  ): Promise<T> {
    await condition(() => !this.paused);
    const record: StepRecord = { name, summary, component, status: 'running', startedAt: new Date().toISOString() };
    this.steps.push(record);
    const started = Date.now();
    const replace = (with_: StepRecord[] | undefined) => {
      const at = this.steps.indexOf(record);
      if (with_ && with_.length > 0 && at >= 0) this.steps.splice(at, 1, ...with_);
    };
    try {
      const value = await fn();
      record.status = 'ok';
      replace(parts(value));
      return value;
    } catch (err) {
      record.status = 'failed';
      record.detail = describeError(err);
      replace(partsOfError(err));
      throw err;
    } finally {
      record.endedAt = new Date().toISOString();
      record.durationMs = Date.now() - started;
    }
  }

  /** Adds a detail line to the most recent step (of `component`, when given; parallel steps interleave). */
  note(detail: string, component?: string): void {
    const last = [...this.steps].reverse().find((s) => component === undefined || s.component === component);
    if (last) last.detail = last.detail ? `${last.detail}; ${detail}` : detail;
  }

  /** Records steps done elsewhere (a pid watch's restart in place), each with its own times and status. */
  record(steps: StepRecord[]): void {
    this.steps.push(...steps.map((s) => ({ ...s })));
  }

  /** Records a step that was not run, and why. */
  skip(name: string, summary: string, component: string | undefined, why: string): void {
    const now = new Date().toISOString();
    this.steps.push({ name, summary, component, status: 'skipped', startedAt: now, endedAt: now, durationMs: 0, detail: why });
  }

  /** Ends the run: final phase and outcome upserted, typed result returned. */
  finish(outcome: Outcome, extra: { reason?: string; failureClass?: FailureClass } = {}): RecoveryResult {
    const { strategy } = this.opts;
    if (strategy === 'drill') throw new Error('a drill ends with conclude(), not with a recovery result');
    this.enter(outcome === 'recovered' || outcome === 'planned' ? 'completion' : 'failure');
    upsertOutcome(outcome);
    const endedAt = Date.now();
    return {
      outcome,
      strategy,
      components: this.opts.components,
      dryRun: this.dryRun,
      reason: extra.reason,
      failureClass: extra.failureClass,
      attempts: this.attempt,
      steps: this.steps,
      startedAt: new Date(this.startedAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationMs: endedAt - this.startedAt,
      approval: this.approval,
    };
  }

  /**
   * Ends a run whose result is not a RecoveryResult (a drill): its final phase and outcome go up
   * in one upsert, as drills always did.
   */
  conclude(outcome: string, succeeded: boolean): void {
    this.phase = succeeded ? 'completion' : 'failure';
    this.logPhase();
    upsertEnd(this.phase, outcome);
  }

  /** Maps an error thrown out of the runbook body to its result. */
  fail(err: unknown): RecoveryResult {
    if (isCancellation(err)) return this.finish('cancelled', { reason: 'cancelled by request' });
    if (err instanceof StepFailed) return this.finish('failed', { reason: err.message, failureClass: err.failureClass });
    return this.finish('failed', { reason: describeError(err), failureClass: failureClassOf(err) });
  }
}

/** The failure class an activity reported as its ApplicationFailure type, if it is one of ours. */
export function failureClassOf(err: unknown): FailureClass | undefined {
  for (let e: unknown = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure && (FAILURE_CLASSES as readonly string[]).includes(e.type ?? '')) return e.type as FailureClass;
  }
  return undefined;
}

/** The innermost useful message: an activity failure's cause (what the activity threw), else the error's own. */
export function causeMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? err.cause.message : err.message;
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
