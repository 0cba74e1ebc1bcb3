/**
 * POST /v1/alerts/alertmanager: Alertmanager's webhook (payload version 4). Each firing alert names
 * a component by a label (component, then service, then job by default). For each named component:
 * - a recovery running now (`mend/recover/<id>`) is not started again (`alreadyRunning`);
 * - the component is checked now on a worker: healthy means nothing starts (`healthy`), since
 *   Alertmanager re-sends a firing alert (repeat_interval, group changes) after mend fixed it;
 * - firings (fingerprint + startsAt) whose recovery ended within the dedupe window start no
 *   other (`deduplicated`): an alert that keeps firing does not become a restart loop. The firings
 *   are kept in the recovery's memo in Temporal, so the API can restart and still know them.
 * Resolved alerts are counted and ignored.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AlreadyRunningError, mapConnectionError, type MendClient } from '../../client';
import { checkComponent } from '../../client/checks';
import { AlertmanagerPayloadSchema, AlertMemoSchema, AlertOutcomeSchema, type AlertKey, type AlertOutcome } from '../../core/api';
import { recoveryWorkflowId } from '../../core/constants';
import type { Component } from '../../core/schemas';
import type { CheckResult } from '../../core/supervision';
import { inScope, roleAtLeast } from '../auth';
import { errorResponses } from '../errors';
import { principalOf, takeStarts } from './common';
import type { V1Options } from './index';

/** Time the health checks of one payload may take together; a check cut short counts as "not known healthy". */
const CHECK_BUDGET_MS = 5_000;
/** Firings kept per recovery (a memo stays small); a repeat of a bigger group is not recognised, but still checked. */
const MAX_KEPT_ALERTS = 100;

interface Wanted {
  component: Component;
  alertname?: string;
  /** Every firing of this payload that names the component. */
  alerts: AlertKey[];
  /** Whether each of them has a fingerprint (only then can a repeat be recognised). */
  allFingerprinted: boolean;
}

/** The component's latest recovery run (any status) and the firings it recorded. */
interface LatestRecovery {
  workflowId: string;
  runId: string;
  running: boolean;
  closeTime?: Date;
  alerts: AlertKey[];
}

async function latestRecovery(mend: MendClient, componentId: string): Promise<LatestRecovery | undefined> {
  const workflowId = recoveryWorkflowId(componentId);
  try {
    const d = await mend.temporal.workflow.getHandle(workflowId).describe();
    const alerts = AlertMemoSchema.safeParse(d.memo?.alerts);
    return { workflowId, runId: d.runId, running: d.status.name === 'RUNNING', closeTime: d.closeTime, alerts: alerts.success ? alerts.data : [] };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw mapConnectionError(err);
  }
}

/** True when every firing in `wanted` was recorded by `latest`, which ended within `windowMs` of `now`. */
export function isRepeat(wanted: Pick<Wanted, 'alerts' | 'allFingerprinted'>, latest: LatestRecovery | undefined, windowMs: number, now: number): boolean {
  if (!latest?.closeTime || !wanted.allFingerprinted || wanted.alerts.length === 0) return false;
  if (now - latest.closeTime.getTime() > windowMs) return false;
  return wanted.alerts.every((a) => latest.alerts.some((r) => r.fingerprint === a.fingerprint && r.startsAt === a.startsAt));
}

export const alertRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  const { mend, config, startLimiter, alertLabels, alertDedupeWindowMs } = deps;
  const byId = new Map(config.components.map((c) => [c.id, c]));

  app.post(
    '/alerts/alertmanager',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['alerts'],
        summary: 'start recoveries for firing Alertmanager alerts',
        description: `Configure as an Alertmanager webhook receiver with \`http_config.authorization.credentials\` set to an operator token. The component is read from the first of the labels ${alertLabels.map((l) => `\`${l}\``).join(', ')}; its policy's strategy runs with trigger \`alert\`, unless a recovery runs already, the component is healthy when checked now, or the same firings had a recovery that ended less than ${Math.round(alertDedupeWindowMs / 60_000)} min ago.`,
        security: [{ bearer: [] }],
        body: AlertmanagerPayloadSchema,
        response: { 200: AlertOutcomeSchema, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const payload = request.body;
      const outcome: AlertOutcome = { started: [], alreadyRunning: [], healthy: [], deduplicated: [], unknown: [], forbidden: [], resolved: 0 };
      const wanted = new Map<string, Wanted>();
      for (const alert of payload.alerts) {
        if (alert.status === 'resolved') {
          outcome.resolved += 1;
          continue;
        }
        const label = alertLabels.find((l) => alert.labels[l] !== undefined);
        const value = label === undefined ? undefined : alert.labels[label];
        const component = value === undefined ? undefined : byId.get(value);
        if (!component) {
          outcome.unknown.push({ value, fingerprint: alert.fingerprint, alertname: alert.labels.alertname });
          continue;
        }
        const entry = wanted.get(component.id) ?? { component, alertname: alert.labels.alertname, alerts: [], allFingerprinted: true };
        if (alert.fingerprint === undefined) entry.allFingerprinted = false;
        else entry.alerts.push({ fingerprint: alert.fingerprint, ...(alert.startsAt ? { startsAt: alert.startsAt } : {}) });
        wanted.set(component.id, entry);
      }

      const candidates: Array<Wanted & { latest?: LatestRecovery }> = [];
      for (const entry of wanted.values()) {
        const allowed =
          inScope(principal, [entry.component.id]) && (entry.component.policy.strategy !== 'emergency-reset' || roleAtLeast(principal.role, 'admin'));
        if (!allowed) {
          outcome.forbidden.push(entry.component.id);
          continue;
        }
        // Alertmanager repeats notifications while an alert fires: those for a running recovery cost no start.
        const latest = await latestRecovery(mend, entry.component.id);
        if (latest?.running) outcome.alreadyRunning.push({ component: entry.component.id, workflowId: latest.workflowId });
        else candidates.push({ ...entry, latest });
      }

      // Healthy now (the alert is late or repeated): restarting it would only break it. The checks
      // run on a worker, within a budget of their own so that starts still fit the request's deadline.
      const checks = await mend.connection.withDeadline(Date.now() + CHECK_BUDGET_MS, () =>
        Promise.all(
          candidates.map((c) =>
            checkComponent(mend, c.component, { trigger: 'alert', requestedBy: principal.name }).catch((err: unknown): CheckResult | undefined => {
              request.log.warn({ component: c.component.id, err: (err as Error).message }, 'alert: health check failed; recovering as asked');
              return undefined;
            }),
          ),
        ),
      );
      const toStart: Wanted[] = [];
      const now = Date.now();
      candidates.forEach((c, i) => {
        const check = checks[i];
        if (check?.healthy) outcome.healthy.push({ component: c.component.id, detail: check.detail, checkedAt: check.checkedAt });
        else if (isRepeat(c, c.latest, alertDedupeWindowMs, now)) {
          outcome.deduplicated.push({
            component: c.component.id,
            workflowId: c.latest!.workflowId,
            endedAt: c.latest!.closeTime!.toISOString(),
            fingerprints: c.alerts.map((a) => a.fingerprint),
          });
        } else toStart.push(c);
      });
      if (toStart.length > 0) {
        await takeStarts(startLimiter, request, toStart.length);
      }

      for (const { component, alertname, alerts } of toStart) {
        const reason = `alertmanager ${payload.receiver}: ${alertname ?? 'alert'} firing`.slice(0, 500);
        try {
          const run = await mend.startRecovery({
            strategy: component.policy.strategy,
            component,
            trigger: 'alert',
            requestedBy: principal.name,
            reason,
            allComponents: config.components,
            alerts: alerts.slice(0, MAX_KEPT_ALERTS),
          });
          outcome.started.push({ component: component.id, ...run });
          deps.metrics.runStarted(component.policy.strategy, 'alert');
          request.log.info({ workflowId: run.workflowId, by: principal.name, alertname }, 'run started by alert');
        } catch (err) {
          if (!(err instanceof AlreadyRunningError)) throw err;
          outcome.alreadyRunning.push({ component: component.id, workflowId: err.workflowId });
        }
      }
      return outcome;
    },
  );
};
