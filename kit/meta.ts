/** What a runbook declares about itself; plain data, read by the CLI (`mend runbooks`) and the worker. */

/** What a runbook acts on: components (`mend run <name> <component>...`), a host, or nothing in particular. */
export type RunbookTargets = 'components' | 'host' | 'none';

export interface RunbookMeta {
  /** Its strategy name: what policies, `mend run`, the API and escalation chains call it. For a custom runbook, its file name. */
  name: string;
  /** One line saying what it does and when to use it. */
  description: string;
  targets: RunbookTargets;
}
