/** One row of `mend components`: the component as configured and what its supervisor says. */
import type { ComponentView, SupervisorView } from '../core/api';

/** The API's component view, flattened, with the supervisor's health, breaker and recovery. */
export type ComponentRow = Pick<ComponentView, 'id' | 'description' | 'host' | 'adapter' | 'probe' | 'dependsOn' | 'critical'> &
  Pick<ComponentView['policy'], 'strategy' | 'escalation'> & {
    /** The supervisor's health; `none` (no supervisor yet), `off` (supervision disabled), `?` (not readable). */
    health: SupervisorView['health'] | 'none' | 'off' | '?';
    breaker: SupervisorView['breaker']['state'] | '-';
    consecutiveFailures?: SupervisorView['consecutiveFailures'];
    /** Workflow id of the recovery running now. */
    current?: string;
    held?: SupervisorView['held'];
  };

export function componentRow(c: ComponentView, supervisor: Omit<SupervisorView, 'stats'> | undefined, otherwise: 'none' | 'off' | '?' = 'none'): ComponentRow {
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
