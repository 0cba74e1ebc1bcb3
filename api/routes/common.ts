/** Helpers the route modules share: who is asking, what they may touch, how a component is shown. */
import type { FastifyRequest } from 'fastify';
import { RunNotFoundError, type MendClient } from '../../client';
import { describeSummary } from '../../client/runs';
import { recoveryWorkflowId } from '../../core/constants';
import type { Role } from '../../core/api';
import type { Component, Config } from '../../core/schemas';
import { componentOfWorkflowId, isTargetedRunId } from '../../core/visibility';
import { inScope, roleAtLeast, type Principal } from '../auth';
import { HttpError } from '../errors';
import { take, type Limiter } from '../rate-limit';

/** The authenticated caller (the onRequest hook set it on every non-public route). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new HttpError(401, 'missing bearer token');
  return request.principal;
}

export function requireRole(principal: Principal, role: Role, what: string): void {
  if (!roleAtLeast(principal.role, role)) throw new HttpError(403, `${principal.name} is ${principal.role}; ${what} needs ${role}`);
}

/** 403 unless the caller's scope covers every component. */
export function requireScope(principal: Principal, components: readonly string[]): void {
  if (!inScope(principal, components)) {
    const outside = components.filter((c) => !principal.components?.has(c));
    throw new HttpError(403, `${principal.name} may not act on ${outside.join(', ')}`);
  }
}

/** Configured components by id; 404 naming every unknown one. */
export function componentsById(config: Config, ids: readonly string[]): Component[] {
  const byId = new Map(config.components.map((c) => [c.id, c]));
  const unknown = ids.filter((id) => !byId.has(id));
  if (unknown.length > 0)
    throw new HttpError(
      404,
      `unknown component${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${config.components.map((c) => c.id).join(', ') || 'none'})`,
    );
  return ids.map((id) => byId.get(id)!);
}

/**
 * A token scoped to components may act on a run only when the run acts on components in its scope:
 * a host or untargeted runbook's run (its id says so) acts beyond any component.
 */
export async function requireRunScope(principal: Principal, mend: MendClient, workflowId: string): Promise<void> {
  if (!principal.components) return;
  if (isTargetedRunId(workflowId)) throw new HttpError(403, `${principal.name} is scoped to components; ${workflowId} acts on a host or on no target`);
  requireScope(principal, await componentsOfRun(mend, workflowId));
}

/** The components a run acts on: from its id when it names one, else from its search attributes. */
export async function componentsOfRun(mend: MendClient, workflowId: string): Promise<string[]> {
  const named = componentOfWorkflowId(workflowId);
  return named ? [named] : (await describeSummary(mend, workflowId)).components;
}

/** The component's recovery run, when one is running. */
export async function runningRecovery(mend: MendClient, componentId: string): Promise<{ workflowId: string; runId: string } | undefined> {
  const summary = await describeSummary(mend, recoveryWorkflowId(componentId)).catch((err: unknown) => {
    if (err instanceof RunNotFoundError) return undefined;
    throw err;
  });
  return summary?.status === 'RUNNING' ? { workflowId: summary.workflowId, runId: summary.runId } : undefined;
}

/** Takes `count` run starts from the caller's budget; 429 with Retry-After when it is spent. */
export async function takeStarts(limiter: Limiter, request: FastifyRequest, count = 1): Promise<void> {
  const principal = principalOf(request);
  const limited = await take(limiter, request, count);
  if (!limited.ok)
    throw new HttpError(429, `too many run starts for ${principal.name}; retry in ${limited.retryAfterSeconds}s`, {
      retryAfterSeconds: limited.retryAfterSeconds,
    });
}
