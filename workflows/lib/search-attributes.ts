import { upsertSearchAttributes } from '@temporalio/workflow';
import type { Outcome, Phase } from '../../core/run';
import { MendComponents, MendOutcome, MendPhase, MendStrategy, MendTrigger } from '../../core/search-attributes';

export function upsertRunAttributes(attrs: { components: string[]; strategy: string; trigger: string; phase: Phase }): void {
  upsertSearchAttributes([
    { key: MendComponents, value: attrs.components },
    { key: MendStrategy, value: attrs.strategy },
    { key: MendTrigger, value: attrs.trigger },
    { key: MendPhase, value: attrs.phase },
  ]);
}

export function upsertPhase(phase: Phase): void {
  upsertSearchAttributes([{ key: MendPhase, value: phase }]);
}

export function upsertOutcome(outcome: Outcome): void {
  upsertSearchAttributes([{ key: MendOutcome, value: outcome }]);
}

/** The final phase and outcome in one upsert (a drill's end: its histories have one command there). */
export function upsertEnd(phase: Phase, outcome: string): void {
  upsertSearchAttributes([
    { key: MendPhase, value: phase },
    { key: MendOutcome, value: outcome },
  ]);
}
