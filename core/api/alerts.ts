/** /v1/alerts/alertmanager: Alertmanager's webhook, and what a payload started. */
import { z } from 'zod';
import { StartedRunSchema } from './runs';

/** Alertmanager's webhook payload (version 4). Extra fields are tolerated: Alertmanager adds some over time. */
export const AlertmanagerAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string().max(1024)),
  annotations: z.record(z.string(), z.string().max(16_384)).default({}),
  startsAt: z.string().max(64).optional(),
  endsAt: z.string().max(64).optional(),
  generatorURL: z.string().max(4096).optional(),
  fingerprint: z.string().max(128).optional(),
});

export const AlertmanagerPayloadSchema = z
  .object({
    version: z.literal('4', { error: 'expected Alertmanager webhook version "4"' }),
    groupKey: z.string().max(4096),
    truncatedAlerts: z.number().int().min(0).optional(),
    status: z.enum(['firing', 'resolved']),
    receiver: z.string().max(1024),
    groupLabels: z.record(z.string(), z.string().max(1024)).default({}),
    commonLabels: z.record(z.string(), z.string().max(1024)).default({}),
    commonAnnotations: z.record(z.string(), z.string().max(16_384)).default({}),
    externalURL: z.string().max(4096).optional(),
    alerts: z.array(AlertmanagerAlertSchema).max(1000),
  })
  .meta({ id: 'AlertmanagerWebhook' });
export type AlertmanagerPayload = z.output<typeof AlertmanagerPayloadSchema>;

/** One firing of an alert: Alertmanager's fingerprint (a hash of its labels) and when it started firing. */
export const AlertKeySchema = z.object({ fingerprint: z.string(), startsAt: z.string().optional() });
export type AlertKey = z.output<typeof AlertKeySchema>;
/** What a recovery started by alerts keeps in its memo (`alerts`): the firings that asked for it. */
export const AlertMemoSchema = z.array(AlertKeySchema);

export const AlertOutcomeSchema = z
  .object({
    started: z.array(StartedRunSchema),
    /** A recovery of that component was already running (or this payload named it twice): not started again. */
    alreadyRunning: z.array(z.object({ component: z.string(), workflowId: z.string() })),
    /** Checked on a worker before anything started, and healthy now: nothing started. */
    healthy: z.array(z.object({ component: z.string(), detail: z.string(), checkedAt: z.string() })),
    /** These firings already had a recovery (`workflowId`) that ended within the dedupe window: not started again. */
    deduplicated: z.array(z.object({ component: z.string(), workflowId: z.string(), endedAt: z.string(), fingerprints: z.array(z.string()) })),
    /** Firing alerts whose component label names no configured component (or none at all). */
    unknown: z.array(z.object({ value: z.string().optional(), fingerprint: z.string().optional(), alertname: z.string().optional() })),
    /** Components this token may not act on. */
    forbidden: z.array(z.string()),
    /** Resolved alerts: nothing to do. */
    resolved: z.number().int(),
  })
  .describe('what the payload started, skipped and could not map');
export type AlertOutcome = z.output<typeof AlertOutcomeSchema>;
