/**
 * Where things run. Pure (workflow code imports it): which host a component's work belongs to, and
 * which of its activities belong to no host.
 *
 * Host-bound (run by the host's agent on `mend/host/<id>`): whatever touches the machine or sees it
 * from inside: probes (so `127.0.0.1` in a probe means the component's own host), the pid watch (and
 * the look-up of what a watch whose answer was lost restarted),
 * process and command adapter actions, state work (checkpoints, restore, cleanup), saga command
 * steps, spool delivery (the spool folder is on that host's disk) and drills' faults.
 * Host-free (run by the central worker on `mend`): notifications, the fleet limiter, and http-adapter
 * calls to an absolute URL, which any machine can make.
 */
import { DEFAULT_HOST } from './constants';
import type { Component, Config } from './schemas';

/** The host of a component, spool, saga command or drill: its own `host`, else the default host. */
export function hostOf(item: { host?: string }): string {
  return item.host ?? DEFAULT_HOST;
}

/** " on <host>" for summaries, when the config names hosts (a one-host config keeps its summaries). */
export function onHost(item: { host?: string }): string {
  return item.host === undefined ? '' : ` on ${item.host}`;
}

const LOOPBACK_URL = /^https?:\/\/(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?(\/|$)/i;

/** A URL that only means something on the machine calling it (localhost, 127.x, [::1]). */
export function isLoopbackUrl(url: string): boolean {
  return LOOPBACK_URL.test(url);
}

/**
 * The host an adapter action of `component` must run on, or undefined when any worker can make it:
 * an http adapter whose every endpoint is an absolute (non-loopback) URL.
 */
export function adapterHost(component: Component): string | undefined {
  const { adapter } = component;
  if (adapter.type !== 'http') return hostOf(component);
  const urls = [adapter.restart, adapter.start, adapter.stop].flatMap((call) => (call ? [call.url] : []));
  return urls.some(isLoopbackUrl) ? hostOf(component) : undefined;
}

/** " on <host>" for a summary of an adapter action (" on the central worker" for one that belongs to no host); "" in a one-host config. */
export function onAdapterHost(component: Component): string {
  if (component.host === undefined) return '';
  return ` on ${adapterHost(component) ?? 'the central worker'}`;
}

/** Every host id a config knows: its `hosts:` and the default host. */
export function knownHosts(config: Pick<Config, 'hosts'>): string[] {
  const ids = config.hosts.map((h) => h.id);
  return ids.includes(DEFAULT_HOST) ? ids : [...ids, DEFAULT_HOST];
}
