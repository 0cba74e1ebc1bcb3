/** The workflow bundle entry: every runbook the worker can run. */
export { immediateRestart } from './immediate';
export { progressiveRestart } from './progressive';
export { dependencyAwareRestart } from './dependency-aware';
export { stateRecovery } from './state-recovery';
export { emergencyReset } from './emergency-reset';
export { saga } from './saga';
export { backlogReplay } from './backlog';
export { supervisor } from './supervisor';
export { healthSweep } from './health-sweep';
export { healthSpecs } from './health-specs';
export { fleetLimiter } from './fleet-limiter';
export { drill } from './drill';
export { checkComponent } from './check';
export { hostWatch } from './host-watch';
