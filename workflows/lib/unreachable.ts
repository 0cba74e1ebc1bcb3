/**
 * A host-bound activity that no agent picked up within its schedule-to-start timeout
 * (HOST_PICKUP_TIMEOUT_MS on a host queue) says the host is unreachable, not that the component
 * failed: its supervisor holds instead of counting a failure or failing itself.
 */
import { ActivityFailure, TimeoutFailure, TimeoutType } from '@temporalio/common';

/** Patch: a supervisor whose host-bound confirmation probe was not picked up holds (`host X unreachable`) instead of failing. */
export const HOLD_UNREACHABLE_PATCH = 'supervisor-holds-unreachable-hosts';

export function isPickupTimeout(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

/** Patch: a dependency check whose host picked nothing up holds the dependent (`waiting for host X (unreachable)`) instead of failing the supervisor. */
export const DEPENDENCY_HOST_PATCH = 'supervisor-dependency-host-unreachable-holds';
