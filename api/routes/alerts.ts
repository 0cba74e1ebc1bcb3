/**
 * POST /v1/alerts/alertmanager: Alertmanager's webhook (payload version 4). Each firing alert names
 * a component by a label (component, then service, then job by default); each named component gets
 * at most one recovery (its `mend/recover/<id>` workflow id guarantees it, so a repeated or
 * re-grouped notification reports "already running"). Resolved alerts are counted and ignored.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AlreadyRunningError } from '../../client';
import { AlertmanagerPayloadSchema, AlertOutcomeSchema, type AlertOutcome } from '../../core/api';
import type { Component } from '../../core/schemas';
import { inScope, roleAtLeast } from '../auth';
import { errorResponses } from '../errors';
import { principalOf, runningRecovery, takeStarts } from './common';
import type { V1Options } from './index';

export const alertRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  const { mend, config, startLimiter, alertLabels } = deps;
  const byId = new Map(config.components.map((c) => [c.id, c]));

  app.post(
    '/alerts/alertmanager',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['alerts'],
        summary: 'start recoveries for firing Alertmanager alerts',
        description: `Configure as an Alertmanager webhook receiver with \`http_config.authorization.credentials\` set to an operator token. The component is read from the first of the labels ${alertLabels.map((l) => `\`${l}\``).join(', ')}; its policy's strategy runs with trigger \`alert\`.`,
        security: [{ bearer: [] }],
        body: AlertmanagerPayloadSchema,
        response: { 200: AlertOutcomeSchema, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const payload = request.body;
      const outcome: AlertOutcome = { started: [], alreadyRunning: [], unknown: [], forbidden: [], resolved: 0 };
      const wanted = new Map<string, { component: Component; alertname?: string }>();
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
        if (!wanted.has(component.id)) wanted.set(component.id, { component, alertname: alert.labels.alertname });
      }

      const toStart: Array<{ component: Component; alertname?: string }> = [];
      for (const entry of wanted.values()) {
        const allowed = inScope(principal, [entry.component.id]) && (entry.component.policy.strategy !== 'emergency-reset' || roleAtLeast(principal.role, 'admin'));
        if (!allowed) {
          outcome.forbidden.push(entry.component.id);
          continue;
        }
        // Alertmanager repeats notifications while an alert fires: those for a running recovery cost no start.
        const running = await runningRecovery(mend, entry.component.id);
        if (running) outcome.alreadyRunning.push({ component: entry.component.id, workflowId: running.workflowId });
        else toStart.push(entry);
      }
      if (toStart.length > 0) {
        takeStarts(startLimiter, principal, toStart.length);
      }

      for (const { component, alertname } of toStart) {
        const reason = `alertmanager ${payload.receiver}: ${alertname ?? 'alert'} firing`.slice(0, 500);
        try {
          const run = await mend.startRecovery({ strategy: component.policy.strategy, component, trigger: 'alert', requestedBy: principal.name, reason, allComponents: config.components });
          outcome.started.push({ component: component.id, ...run });
          deps.metrics.runStarted(component.policy.strategy, 'alert');
          request.log.info({ reqId: request.id, workflowId: run.workflowId, by: principal.name, alertname }, 'run started by alert');
        } catch (err) {
          if (!(err instanceof AlreadyRunningError)) throw err;
          outcome.alreadyRunning.push({ component: component.id, workflowId: err.workflowId });
        }
      }
      return outcome;
    },
  );
};
