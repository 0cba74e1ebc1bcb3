/** Alerts to an operator's webhook: a JSON body whose `text` Slack (and most chat tools) show as is. */

export interface NotifyEvent {
  /** e.g. breaker-open, auth-failure, recovery-failed, breaker-closed, host-unreachable, host-reachable. */
  kind: string;
  /** The component it is about; a host event names its host instead. */
  component?: string;
  host?: string;
  text: string;
  /** Extra fields for machines (workflow id, failure class, ...). */
  details?: Record<string, unknown>;
}

export interface WebhookResult {
  delivered: boolean;
  status?: number;
  detail: string;
}

/**
 * POSTs `{ text, kind, component, details, at }` to `url`. Never throws: a failed alert is
 * reported in the result (and the activity log), it must not hold up a recovery.
 */
export async function postWebhook(url: string, event: NotifyEvent, timeoutMs: number): Promise<WebhookResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        text: `mend: ${event.text}`,
        kind: event.kind,
        component: event.component,
        host: event.host,
        details: event.details ?? {},
        at: new Date().toISOString(),
      }),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await res.body?.cancel();
    return res.ok
      ? { delivered: true, status: res.status, detail: `HTTP ${res.status}` }
      : { delivered: false, status: res.status, detail: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { delivered: false, detail: `${e.cause?.code ?? e.name}: ${e.message}` };
  }
}
