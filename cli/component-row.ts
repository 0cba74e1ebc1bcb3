/** One row of `mend components`: the component as configured and what its supervisor says. */
import type { SupervisorView } from '../client/supervisors';

export interface ComponentRow {
  id: string;
  description?: string;
  host: string;
  adapter: string;
  probe: string;
  dependsOn: string[];
  critical: boolean;
  strategy: string;
  escalation: string[];
  /** The supervisor's health; `none` (no supervisor yet), `off` (supervision disabled), `?` (not readable). */
  health: string;
  breaker: string;
  consecutiveFailures?: number;
  /** Workflow id of the recovery running now. */
  current?: string;
  held?: string;
}

interface Configured {
  id: string;
  description?: string;
  host: string;
  adapter: string;
  probe: string;
  dependsOn: string[];
  critical: boolean;
  policy: { strategy: string; escalation: string[] };
}

export function componentRow(c: Configured, supervisor: Omit<SupervisorView, 'stats'> | undefined, otherwise = 'none'): ComponentRow {
  return {
    id: c.id,
    description: c.description,
    host: c.host,
    adapter: c.adapter,
    probe: c.probe,
    dependsOn: c.dependsOn,
    critical: c.critical,
    strategy: c.policy.strategy,
    escalation: c.policy.escalation,
    health: supervisor?.health ?? otherwise,
    breaker: supervisor?.breaker.state ?? '-',
    consecutiveFailures: supervisor?.consecutiveFailures,
    current: supervisor?.current?.workflowId,
    held: supervisor?.held,
  };
}
