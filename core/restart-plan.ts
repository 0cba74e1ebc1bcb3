/**
 * Decisions a restart makes from what it saw, shared by the workflow (a step per activity) and the
 * one-activity restart (activities/restart.ts), so both decide alike. Pure; no zod at run time.
 */
import type { ProbeResult } from './failure';
import type { Component } from './schemas';

/** True when policy asks for cleanup and the component was seen unhealthy before acting. */
export function wantsCleanup(component: Component, before: ProbeResult | undefined): boolean {
  return component.policy.cleanupOnFailure && before?.healthy !== true;
}

/** What a run notes of the probe it made before acting (the analysis step's detail). */
export function beforeNote(before: ProbeResult): string {
  return before.healthy ? 'healthy before acting' : `${before.failureClass}: ${before.detail}`;
}
