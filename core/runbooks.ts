/**
 * Which strategies exist: the built-ins and the custom runbooks found in the config's runbooks
 * folder. Pure: the folder is listed by the caller (client/runbooks.ts).
 */
import { STRATEGIES, type Strategy } from './schemas';

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
