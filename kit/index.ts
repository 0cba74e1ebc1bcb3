/**
 * mend/kit: the public API for writing a runbook. A runbook is a Temporal workflow; the kit gives
 * it everything mend's built-in strategies have, with no extra code:
 *
 * - phases (the MendPhase search attribute) and a `progress` query listing every step with its summary;
 * - `pause` / `resume` honoured between steps, `cancel` ending the run `cancelled`;
 * - dry runs: `mend run <name> <component> --dry-run` records every acting step as planned and runs
 *   only the read-only ones (probes), so the plan is the runbook's own code;
 * - host routing: component steps run on the component's host (its agent);
 * - escalation: a run that ends `failed` starts the next strategy of the component's
 *   `policy.escalation` chain, built-in or custom;
 * - a typed result (RecoveryResult) the CLI, API and statistics read like any other run's.
 *
 * A runbook acts on components (`targets: 'components'`, the default: `ctx.component`), on a host
 * (`targets: 'host'`: `mend run <name> --host <id>`, `ctx.host`, `ctx.command` runs there), or on
 * nothing in particular (`targets: 'none'`: `mend run <name>`, `ctx.hosts`, `ctx.command(argv, { host })`).
 * Only component runbooks can be a policy's strategy or escalation.
 *
 * ```ts
 * import { defineRunbook } from 'mend/kit';
 *
 * export default defineRunbook({
 *   name: 'restart-twice',            // = the file name: runbooks/restart-twice.ts
 *   description: 'restart, and once more if the first did not take',
 *   targets: 'components',
 *   async run(ctx) {
 *     ctx.phase('analysis');
 *     await ctx.probe();
 *     for (const attempt of [1, 2]) {
 *       const validated = await ctx.restartAndValidate({ label: ` (attempt ${attempt})` });
 *       if (ctx.dryRun || validated?.healthy) return;   // returning ends the run recovered (planned in a dry run)
 *     }
 *     ctx.fail(`${ctx.component.id} still unhealthy after two restarts`);
 *   },
 * });
 * ```
 *
 * Runbook code runs in Temporal's workflow sandbox: it must be deterministic. Do I/O in steps
 * (`ctx.command`, `ctx.http`, ...), never with `fs`, `fetch` or `child_process` (the worker refuses
 * to start with a runbook that imports them); wait with `ctx.sleep`. Changing a runbook that has
 * runs in flight: put the change behind `patched('<name>')` (re-exported here) and check it with
 * `mend runbook replay`.
 */
import { CancellationScope, condition, patched, sleep as durableSleep, workflowInfo } from '@temporalio/workflow';
import type { WaitHealthyResult } from '../activities';
import type { RunCommandResult } from '../activities/saga';
import type { FailureClass, ProbeResult } from '../core/failure';
import { onHost } from '../core/hosts';
import { DEFAULT_HOST } from '../core/constants';
import { parseDuration } from '../core/duration';
import type { ApprovalStatus, Outcome, Phase, RecoveryInput, RecoveryResult, RunTarget, TargetedRunInput } from '../core/run';
import type { Component, HttpCall } from '../core/schemas';
import { awaitApproval, handleApprovals } from '../workflows/lib/approval';
import { centralActivities } from '../workflows/lib/hosts';
import {
  acts,
  asideStep,
  cleanupStep,
  LONG,
  notHealthyReason,
  probeBefore,
  restartAndValidate,
  startStep,
  stopStep,
  thisRunKey,
  validateStep,
  wantsCleanup,
} from '../workflows/lib/restart';
import { Runbook, StepFailed } from '../workflows/lib/runbook';
import { runStrategy } from '../workflows/lib/strategy';
import type { RunbookMeta } from './meta';

export type { RunbookMeta, RunbookTargets } from './meta';
export type {
  ApprovalStatus,
  Component,
  FailureClass,
  Outcome,
  Phase,
  ProbeResult,
  RecoveryInput,
  RecoveryResult,
  RunCommandResult,
  RunTarget,
  TargetedRunInput,
  WaitHealthyResult,
};
export { StepFailed, patched, condition, CancellationScope };

export interface RunbookDefinition extends Omit<RunbookMeta, 'targets'> {
  /** Default `components`: started for each component named (`mend run <name> <component>...`). */
  targets?: 'components';
  /**
   * The components a run acts on, for the MendComponents search attribute (what `mend runs
   * --component` finds); default the one it was started for. Runbooks acting on its relatives list them.
   */
  components?(input: RecoveryInput): string[];
  /**
   * The runbook's body. Return nothing to end `recovered` (`planned` in a dry run), return
   * `ctx.finish(...)` for another outcome, or throw (`ctx.fail(...)`) to end `failed`, which escalates.
   */
  run(ctx: RunbookContext): Promise<RecoveryResult | void>;
}

/**
 * A runbook that acts on a host (`targets: 'host'`: `mend run <name> --host <id>`, one run per host
 * at a time) or on nothing in particular (`targets: 'none'`: `mend run <name>`, one run of it at a
 * time), such as fleet-wide maintenance. Policies cannot name it (they recover a component), and a
 * failed run does not escalate.
 */
export interface TargetedRunbookDefinition extends Omit<RunbookMeta, 'targets'> {
  targets: 'host' | 'none';
  /** As RunbookDefinition.run; `ctx.host` is the host it was started for (`targets: 'host'`). */
  run(ctx: TargetedRunbookContext): Promise<RecoveryResult | void>;
}

/** A runbook's workflow function, carrying what it declared. */
export type RunbookWorkflow = ((input: RecoveryInput) => Promise<RecoveryResult>) & { readonly runbook: RunbookMeta };
/** A host or untargeted runbook's workflow function. */
export type TargetedRunbookWorkflow = ((input: TargetedRunInput) => Promise<RecoveryResult>) & { readonly runbook: RunbookMeta };

/**
 * Defines a runbook. A custom runbook's file default-exports it (`export default defineRunbook(...)`);
 * the worker registers it under the workflow type `runbook_<name>` and every part of mend runs it by name.
 */
export function defineRunbook(def: RunbookDefinition): RunbookWorkflow;
export function defineRunbook(def: TargetedRunbookDefinition): TargetedRunbookWorkflow;
export function defineRunbook(def: RunbookDefinition | TargetedRunbookDefinition): RunbookWorkflow | TargetedRunbookWorkflow {
  const meta: RunbookMeta = { name: def.name, description: def.description, targets: def.targets ?? 'components' };
  if (isTargeted(def)) {
    const body = def.run;
    const targeted = async (input: TargetedRunInput): Promise<RecoveryResult> => {
      // No components: the run's search attributes name none, and there is no policy to escalate by.
      const run = new Runbook({ strategy: meta.name, components: [], trigger: input.trigger, dryRun: input.dryRun });
      handleApprovals(run);
      return body(new TargetedRunbookContext(run, input)).then(
        (result) => result ?? run.finish(run.dryRun ? 'planned' : 'recovered'),
        (err: unknown) => run.fail(err),
      );
    };
    return Object.assign(targeted, { runbook: meta });
  }
  const componentDef: RunbookDefinition = def;
  const workflow = async (input: RecoveryInput): Promise<RecoveryResult> =>
    runStrategy(
      meta.name,
      input,
      async (run) => {
        const ctx = new RunbookContext(run, input);
        // The gate exists for every kit runbook: an approve update is refused unless ctx.approval waits.
        handleApprovals(run);
        const result = await componentDef.run(ctx);
        return result ?? run.finish(run.dryRun ? 'planned' : 'recovered');
      },
      { components: componentDef.components?.(input) },
    );
  return Object.assign(workflow, { runbook: meta });
}

function isTargeted(def: RunbookDefinition | TargetedRunbookDefinition): def is TargetedRunbookDefinition {
  return def.targets === 'host' || def.targets === 'none';
}

/** Options of ctx.command: which host (default the run's), the step's name, cwd, env and timeout. */
export interface CommandOptions {
  /** Run on this host instead of the run's own (the component's, or the host the run was started for). */
  host?: string;
  name?: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** The steps every runbook has, whatever it targets. Each step is recorded (name, summary, status, duration, detail) in the run's progress and result. */
export abstract class BaseRunbookContext {
  constructor(
    /** The underlying step log (for what the kit does not wrap). */
    readonly run: Runbook,
  ) {}

  /** The component steps are recorded under by default (the run's component; none for a host or untargeted run). */
  protected abstract get stepComponent(): string | undefined;
  /** Where ctx.command runs without a `host`: a host id and how summaries say it. */
  protected abstract commandPlace(opts: { host?: string; component?: Component }): { where: { host?: string }; said: string };
  /** Approval defaults: the component's policy, else none pre-approved and 15 minutes. */
  protected abstract get approvalPolicy(): { preApproved: boolean; approvalTimeout: number };

  /** True in a dry run: acting steps are recorded as planned and return undefined. */
  get dryRun(): boolean {
    return this.run.dryRun;
  }

  /** Enters a phase: detection, analysis, preparation, execution, validation (completion and failure are set at the end). */
  phase(phase: Phase): void {
    this.run.enter(phase);
  }

  /** Adds a detail line to the latest step (of `component`, when given). */
  note(detail: string, component?: string): void {
    this.run.note(detail, component);
  }

  /** The attempt number shown in progress and the result. */
  set attempt(n: number) {
    this.run.attempt = n;
  }
  get attempt(): number {
    return this.run.attempt;
  }

  /**
   * A step of your own: `fn` runs (unless dry run and not `readOnly`), recorded as `name` with `summary`.
   * Do I/O only through the kit's steps or your own activities; `fn` runs in the workflow.
   */
  step<T>(name: string, summary: string, fn: () => Promise<T>, opts: { component?: string; readOnly?: boolean; failed?: (v: T) => boolean } = {}) {
    return this.run.step(name, summary, opts.component ?? this.stepComponent, fn, opts);
  }

  /** Records a step that was not run, and why. */
  skip(name: string, summary: string, why: string, component = this.stepComponent): void {
    this.run.skip(name, summary, component, why);
  }

  /**
   * Runs an argv (no shell) on a host: the run's (its component's, or the host it was started for)
   * or `opts.host`. Runs once per step of a run: after it exits 0, a retry does nothing (a marker
   * keyed by the run and step), so it need only be safe to rerun after an interruption.
   */
  async command(argv: string[], opts: CommandOptions & On = {}) {
    const place = this.commandPlace(opts);
    const name = opts.name ?? 'command';
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const info = workflowInfo();
    // The key names this step of this run: unique per call, the same on a retry.
    const key = `${info.workflowId}/${info.runId}/${name}/${++this.commands}`;
    const component = opts.component?.id ?? this.stepComponent;
    const out = await this.run.step(name, `run ${argv.join(' ')} ${place.said}`, component, () =>
      acts(place.where, `${name}: ${argv[0]}`, { startToCloseTimeout: timeoutMs + 10_000, heartbeatTimeout: '10s' }).runCommand({
        command: argv,
        cwd: opts.cwd,
        env: opts.env,
        timeoutMs,
        key,
      }),
    );
    if (out) this.run.note(out.detail, component);
    return out;
  }
  private commands = 0;

  /** One HTTP call (any 2xx, or `expectStatus`, is success). Endpoints should be safe to call twice: a retry calls again. */
  async http(call: Partial<HttpCall> & { url: string }, opts: { name?: string; headers?: Record<string, string>; timeoutMs?: number } = {}) {
    const full: HttpCall = { method: 'POST', ...call };
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const out = await this.run.step(opts.name ?? 'http', `${full.method} ${full.url}`, this.stepComponent, () =>
      centralActivities({
        startToCloseTimeout: timeoutMs + 5_000,
        retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
        summary: `${full.method} ${full.url}`,
      }).callHttp({ call: full, headers: opts.headers, timeoutMs }),
    );
    if (out) this.run.note(out.detail, this.stepComponent);
    return out?.detail;
  }

  /**
   * Waits for an `approve` update (`mend approve <run>`), up to `timeoutMs` (default the policy's
   * approvalTimeout), unless `policy.preApproved`. Returns true when approved; planned in a dry run.
   */
  async approval(what: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
    const status = await this.approvalStatus(what, opts);
    return status.state === 'approved' || status.state === 'pre-approved';
  }

  /**
   * ctx.approval, returning the decision itself: `approved` or `pre-approved`, `rejected` (with
   * who and why), `timed-out`, or `waiting` in a dry run (the wait is planned, not done).
   */
  approvalStatus(what: string, opts: { timeoutMs?: number } = {}): Promise<ApprovalStatus> {
    const policy = this.approvalPolicy;
    return awaitApproval(this.run, what, this.stepComponent, {
      preApproved: policy.preApproved,
      timeoutMs: opts.timeoutMs ?? policy.approvalTimeout,
    });
  }

  /**
   * A durable wait (a Temporal timer: it survives worker and server restarts), recorded as a step
   * (`name`, default `sleep`); `timerSummary` is what the Web UI shows on the timer (default `summary`).
   */
  async sleep(ms: number, summary = `wait ${ms}ms`, opts: { name?: string; timerSummary?: string } = {}): Promise<void> {
    await this.run.step(opts.name ?? 'sleep', summary, this.stepComponent, () => durableSleep(ms, { summary: opts.timerSummary ?? summary }));
  }

  /** Ends the run `failed` with `reason` (escalating when the policy has a next strategy). */
  fail(reason: string, failureClass?: FailureClass): never {
    throw new StepFailed(reason, failureClass);
  }

  /** Ends the run with `outcome` (return it from `run`). */
  finish(outcome: Outcome, extra: { reason?: string; failureClass?: FailureClass } = {}): RecoveryResult {
    return this.run.finish(outcome, extra);
  }

  /** This run's key (folder name for state moved aside). */
  runKey(): string {
    return thisRunKey();
  }
}

/** A host or untargeted runbook's steps: commands on hosts, HTTP calls, approvals, sleeps, steps of your own. */
export class TargetedRunbookContext extends BaseRunbookContext {
  /** What the run was started for. */
  readonly target: RunTarget;
  /** The host the run was started for (`targets: 'host'`); undefined for an untargeted runbook. */
  readonly host: string | undefined;
  /** Every host the config knows (its `hosts:` and the default host `local`), e.g. to go round them. */
  readonly hosts: readonly string[];

  constructor(
    run: Runbook,
    readonly input: TargetedRunInput,
  ) {
    super(run);
    this.target = input.target;
    this.host = input.target.kind === 'host' ? input.target.host : undefined;
    this.hosts = input.hosts;
  }

  protected get stepComponent(): undefined {
    return undefined;
  }

  protected get approvalPolicy() {
    return { preApproved: false, approvalTimeout: DEFAULT_APPROVAL_TIMEOUT_MS };
  }

  protected commandPlace(opts: { host?: string }) {
    const host = opts.host ?? this.host;
    if (host === undefined) throw new StepFailed('ctx.command in a runbook with targets: none needs a host: ctx.command(argv, { host })', 'data');
    return { where: { host }, said: `on ${host}` };
  }
}

/** A policy's approvalTimeout when it sets none: the wait of an approval in a runbook without a policy. */
const DEFAULT_APPROVAL_TIMEOUT_MS = parseDuration('15m');

/** Per-step options of the component steps: which component (default the run's), a label appended to summaries. */
export interface On {
  component?: Component;
  label?: string;
}

/** The steps of a runbook that acts on components: the shared ones, and stop, start, probe, checkpoint, restore... of a component. */
export class RunbookContext extends BaseRunbookContext {
  /** The component the run was started for (policy, adapter, probe, state as configured). */
  readonly component: Component;
  /** The host of the run's component. */
  readonly host: string;

  constructor(
    run: Runbook,
    readonly input: RecoveryInput,
  ) {
    super(run);
    this.component = input.component;
    this.host = input.component.host ?? DEFAULT_HOST;
  }

  protected get stepComponent(): string {
    return this.component.id;
  }

  protected get approvalPolicy() {
    return this.component.policy;
  }

  protected commandPlace(opts: { host?: string; component?: Component }) {
    if (opts.host !== undefined) return { where: { host: opts.host }, said: `on ${opts.host}` };
    const component = opts.component ?? this.component;
    return { where: component, said: `on the host of ${component.id}${onHost(component)}` };
  }

  /** The component's dependencies and dependents as configured (for runbooks that act on several), by id. */
  related(id: string): Component {
    const found = (this.input.related ?? []).find((c) => c.id === id) ?? (id === this.component.id ? this.component : undefined);
    if (!found) throw new StepFailed(`${id} is not related to ${this.component.id} (dependsOn) in the config`, 'data');
    return found;
  }

  /**
   * The component's direct dependents (components whose `dependsOn` names it) or direct
   * dependencies, as configured when the run was requested.
   */
  relatives(kind: 'dependents' | 'dependencies'): Component[] {
    const { id, dependsOn } = this.component;
    return (this.input.related ?? []).filter((c) => (kind === 'dependents' ? c.dependsOn.includes(id) : dependsOn.includes(c.id)));
  }

  /** Probes once and notes what it saw; runs in a dry run too. A failure the supervisor has just confirmed stands in for it. */
  probe(on: On = {}): Promise<ProbeResult | undefined> {
    const component = on.component ?? this.component;
    return probeBefore(this.run, component, component.id === this.component.id ? this.input.observed : undefined);
  }

  /** Stops the component through its adapter (on its host). */
  stop(on: On = {}): Promise<void> {
    return stopStep(this.run, on.component ?? this.component, on.label);
  }

  /** Starts the component through its adapter (on its host). */
  start(on: On = {}): Promise<void> {
    return startStep(this.run, on.component ?? this.component, on.label);
  }

  /** Moves temp files, stale locks and corrupt markers aside (never deleted). */
  clean(on: On = {}): Promise<void> {
    return cleanupStep(this.run, on.component ?? this.component, on.label);
  }

  /** Moves the component's state aside under this run's key (never deleted). */
  moveAside(on: On = {}): Promise<void> {
    return asideStep(this.run, on.component ?? this.component);
  }

  /** Probes until healthy or `policy.timeout` (the validation phase). Undefined in a dry run. */
  waitHealthy(on: On = {}): Promise<WaitHealthyResult | undefined> {
    return validateStep(this.run, on.component ?? this.component, on.label);
  }

  /**
   * stop → clean (with `cleanup`, or when `policy.cleanupOnFailure` and `before` was unhealthy) →
   * start → wait healthy. Undefined in a dry run.
   */
  restartAndValidate(on: On & { cleanup?: boolean; before?: ProbeResult } = {}): Promise<WaitHealthyResult | undefined> {
    const component = on.component ?? this.component;
    const cleanup = on.cleanup ?? (on.before !== undefined && wantsCleanup(component, on.before));
    return restartAndValidate(this.run, component, on.label, { cleanup });
  }

  /** Takes a checkpoint of the component's state paths (sha256 manifest); returns its id. */
  async checkpoint(on: On & { name?: string } = {}): Promise<string | undefined> {
    const component = on.component ?? this.component;
    const made = await this.run.step('checkpoint', `checkpoint ${component.id}${on.name ? ` as ${on.name}` : ''}${onHost(component)}`, component.id, () =>
      acts(component, `checkpoint ${component.id}`, LONG).createCheckpoint({ component, label: on.name }),
    );
    if (made) this.run.note(`checkpoint ${made.id}`, component.id);
    return made?.id;
  }

  /**
   * Restores a checkpoint: the one named, the newest before a time, or the newest that verifies.
   * Choosing runs in a dry run too; with none that verifies the run fails and nothing is touched.
   */
  async restore(on: On & { id?: string; before?: string } = {}): Promise<string | undefined> {
    const component = on.component ?? this.component;
    const id = component.id;
    const selection = await this.run.step(
      'select',
      `choose ${on.id ? `checkpoint ${on.id}` : 'newest checkpoint'} of ${id} that verifies`,
      id,
      () => acts(component, `verify checkpoints of ${id}`, LONG).selectCheckpoint({ component, id: on.id, before: on.before }),
      { readOnly: true },
    );
    const chosen = selection?.chosen;
    if (!chosen) throw new StepFailed(`no checkpoint of ${id} verifies; state left untouched`, 'data');
    await this.run.step('restore', `restore checkpoint ${chosen.id} of ${id}`, id, () =>
      acts(component, `restore ${chosen.id} to ${id}`, LONG).restoreCheckpoint({ component, id: chosen.id }),
    );
    return chosen.id;
  }

  /** The reason for a validation that did not end healthy, as the built-ins word it. */
  notHealthyReason(validated: WaitHealthyResult | undefined, after?: string): string {
    return notHealthyReason(this.component, validated, after);
  }
}
