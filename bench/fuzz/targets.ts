/**
 * The two sets of targets of a fuzz run. Clean requests (a body the route's schema accepts, a
 * token whose role and scope allow the route) act on `v` (the "valid" set: demo services that are
 * fine to restart, dry runs). Every other request (junk bodies, bad params, no or an unknown
 * token, too small a role, a scope that does not cover the target) names `j` (the "junk" set) or
 * something that is not configured. So nothing may ever happen to `j`, and no workflow may start
 * outside `v`: whatever does was done by bad input.
 */
export const T = {
  v: { svc: 'fzv-svc', gate: 'fzv-gate', group: 'fzv', spool: 'fzv-spool', saga: 'fzv-saga', drill: 'fzv-drill', host: 'fzv-host' },
  j: { svc: 'fzj-svc', gate: 'fzj-gate', group: 'fzj', spool: 'fzj-spool', saga: 'fzj-saga', drill: 'fzj-drill', host: 'local' },
} as const;

export type TargetSet = (typeof T)['v'] | (typeof T)['j'];

/** Names that are configured nowhere, with the characters and shapes that trip parsers. */
export const UNKNOWN_NAMES = [
  'nope',
  'fzx-svc',
  'Bad Name',
  '..',
  '.',
  '%2e%2e',
  '__proto__',
  'constructor',
  'mend/recover/nope',
  'mend//x',
  '../etc/passwd',
  'a'.repeat(300),
  'é',
  '💥',
  '\u0000',
  'null',
  '',
];

/** Path parameter and string-field values per set, by the name of the parameter or field. */
export function namesFor(set: TargetSet, key: string): string[] {
  const k = key.toLowerCase();
  if (k === 'group') return [set.group];
  if (k === 'spool') return [set.spool];
  if (k === 'name') return [set.saga, set.drill];
  if (k === 'host') return [set.host];
  if (k === 'run') return ['r1', 'manual-1', set.drill];
  if (k === 'id') return [set.svc, set.gate, `mend/recover/${set.gate}`, `mend/recover/${set.svc}`, set.host];
  return [set.svc, set.gate];
}
