/**
 * Which strategies exist: the built-ins and the custom runbooks found in the config's runbooks
 * folder, and what each is started for. Pure: the folder is listed by the caller (client/runbooks.ts).
 */
import { STRATEGIES, type Strategy } from './schemas';

/** What a runbook acts on: components (`mend run <name> <component>...`), a host (`--host <id>`), or nothing in particular. */
export const RUNBOOK_TARGETS = ['components', 'host', 'none'] as const;
export type RunbookTargets = (typeof RUNBOOK_TARGETS)[number];

/** A custom runbook file: its name is its file name without `.ts`. */
export interface RunbookFile {
  name: string;
  file: string;
}

/** Every strategy name a run may use, built-ins first. */
export function availableStrategies(custom: readonly string[]): string[] {
  return [...STRATEGIES, ...custom];
}

/** The problem with `strategy`, or undefined when it is a built-in or one of the custom runbooks. */
export function strategyProblem(strategy: Strategy, custom: readonly string[]): string | undefined {
  if ((STRATEGIES as readonly string[]).includes(strategy) || custom.includes(strategy)) return undefined;
  return `unknown strategy ${JSON.stringify(strategy)} (available: ${availableStrategies(custom).join(', ')})`;
}

/**
 * The problem with naming `strategy` where a component's recovery is chosen (a policy's strategy or
 * escalation chain): it must act on components. Undefined when it does (or is unknown: strategyProblem says so).
 */
export function componentStrategyProblem(strategy: Strategy, targets: RunbookTargets | undefined): string | undefined {
  if (targets === undefined || targets === 'components') return undefined;
  return `runbook ${JSON.stringify(strategy)} ${targets === 'host' ? 'acts on a host' : 'takes no target'}, not on a component; a policy runs a runbook with targets: components`;
}

/** What a start request names: components, a host, or neither. */
export interface TargetRequest {
  components: readonly string[];
  host?: string;
}

/** A start request that does not fit its runbook's targets: the field at fault, the status to answer and why. */
export interface TargetProblem {
  field: 'components' | 'host';
  /** 400, or 404 for a host the config does not know. */
  status: 400 | 404;
  message: string;
}

/** Whether a start request fits what `runbook` targets, before anything starts; `hosts` are the config's. */
export function targetProblem(runbook: string, targets: RunbookTargets, req: TargetRequest, hosts: readonly string[]): TargetProblem | undefined {
  const name = JSON.stringify(runbook);
  const known = `known: ${hosts.join(', ')}`;
  const hasComponents = req.components.length > 0;
  if (targets === 'components') {
    if (req.host !== undefined) return { field: 'host', status: 400, message: `${name} acts on components, not a host: name its components instead` };
    if (!hasComponents) return { field: 'components', status: 400, message: `name at least one component (${name} acts on components)` };
    return undefined;
  }
  if (targets === 'host') {
    if (hasComponents) return { field: 'components', status: 400, message: `${name} acts on a host, not components: name one host instead (${known})` };
    if (req.host === undefined) return { field: 'host', status: 400, message: `${name} acts on a host: name one (${known})` };
    if (!hosts.includes(req.host)) return { field: 'host', status: 404, message: `unknown host ${JSON.stringify(req.host)} (${known})` };
    return undefined;
  }
  if (hasComponents) return { field: 'components', status: 400, message: `${name} takes no target: start it without components` };
  if (req.host !== undefined) return { field: 'host', status: 400, message: `${name} takes no target: start it without a host` };
  return undefined;
}
