/** A drill run's input and result; shared by the drill workflow, its activities, the client and the CLI. */
import type { Component, Drill } from './schemas';

export interface DrillInput {
  drill: Drill;
  component: Component;
  requestedBy: string;
  trigger: 'manual' | 'schedule';
}

/** The drill workflow's result: one shape, the API's schema (a type-only import keeps zod out of the workflow). */
export type { DrillResult } from './api/drills';
