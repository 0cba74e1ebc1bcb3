/**
 * One generated request at a time, from the OpenAPI operations: a route (or a wrong method, or an
 * odd path), a token, path and query parameters, headers and a body. A request is *clean* when the
 * document says every part of it is acceptable and its token's role suffices; clean requests name
 * the `v` targets. Every other request carries at least one certain defect (a body the schema
 * refuses, malformed JSON, a forbidden key, a body over the limit or of another content type, a
 * bad parameter, no or an unknown token, too small a role, an undeclared method) and names the
 * `j` targets or nothing configured: so whatever happens to `j` was done by bad input.
 */
import type { Role } from '../../core/api';
import type { Api, JsonSchema, Operation } from './openapi';
import { generate } from './openapi';
import type { Rng } from './rng';
import type { TokenName } from './stack';
import { namesFor, T, UNKNOWN_NAMES, type TargetSet } from './targets';

export const BODY_LIMIT = 64 * 1024;
const ROLE_ORDER: Role[] = ['viewer', 'operator', 'admin'];

export type TokenClass = 'none' | 'viewer' | 'operator' | 'admin' | 'scoped';

export interface FuzzRequest {
  /** The route it is counted under: `POST /v1/runs/{id}/pause`, `wrong method`, `odd path`. */
  route: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  token: TokenClass;
  clean: boolean;
  /** A clean request that may act (a POST on `v`). */
  acts: boolean;
  /** What makes it bad (empty for a clean one). */
  defects: string[];
  localAddress: string;
}

export interface GeneratorOptions {
  api: Api;
  rng: Rng;
  tokens: Record<Exclude<TokenName, 'none'>, string>;
  /** The least role of each `METHOD path` ('public' for none), learned from the running API. */
  roles: Map<string, Role | 'public'>;
  /** At most one clean request that may act in this many (keeps the Temporal load bounded). */
  actEvery: number;
}

const JUNK_CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'text/html; charset=utf-8',
];
const NOISE_HEADERS: Array<[string, () => string]> = [
  ['x-request-id', () => 'x'.repeat(100)],
  ['x-request-id', () => '../../etc'],
  ['accept', () => 'application/xml'],
  ['accept', () => '*/*;q=0.1, text/html'],
  ['x-forwarded-for', () => '10.0.0.1, 127.0.0.1'],
  ['origin', () => 'http://evil.example'],
  ['cookie', () => '__proto__=1; a=b'],
  ['x-http-method-override', () => 'DELETE'],
  ['accept-language', () => 'zz'],
  ['if-none-match', () => '*'],
];
const MALFORMED_JSON = [
  '{',
  '{"a":',
  '[1,2',
  '{"a":1}}',
  "{'a':1}",
  '{"a":NaN}',
  '{"a":1,}',
  '// c\n{}',
  '\u0000',
  'nul',
  '{"a":"\\x"}',
  '{"a":01}',
  '"\\ud800',
];

export class RequestGenerator {
  private actsIssued = 0;

  constructor(private readonly o: GeneratorOptions) {}

  next(i: number): FuzzRequest {
    const { rng, api } = this.o;
    const token = rng.weighted<TokenClass>([
      [20, 'none'],
      [20, 'viewer'],
      [25, 'operator'],
      [25, 'admin'],
      [10, 'scoped'],
    ]);
    const headers: Record<string, string> = {};
    const defects: string[] = [];
    let localAddress = '127.0.0.1';
    if (token === 'none') {
      // A client that keeps failing authentication is held off per address: each of these comes from one of 254 loopback addresses.
      localAddress = `127.0.1.${(i % 254) + 1}`;
      const garbage = rng.weighted<string | undefined>([
        [3, undefined],
        [3, `Bearer ${rng.word(43)}`],
        [1, 'Bearer'],
        [1, 'Bearer    '],
        [1, `Basic ${Buffer.from('admin:admin').toString('base64')}`],
        [1, `bearer ${rng.word(rng.int(1, 600))}`],
        [1, `Bearer ${this.o.tokens.admin}x`],
        [1, `Bearer ${this.o.tokens.admin.slice(1)}`],
        [1, `Token ${rng.word(20)}`],
      ]);
      if (garbage !== undefined) headers.authorization = garbage;
    } else {
      headers.authorization = `Bearer ${this.o.tokens[token]}`;
    }

    const kind = rng.weighted([
      [90, 'route'],
      [5, 'wrong method'],
      [5, 'odd path'],
    ] as const);
    if (kind === 'odd path') return this.oddPath(token, headers, localAddress);
    const op = rng.pick(api.operations);
    let method = op.method;
    let route = `${op.method} ${op.path}`;
    if (kind === 'wrong method') {
      const declared = new Set(api.operations.filter((o) => o.path === op.path).map((o) => o.method));
      const others = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND'].filter((m) => !declared.has(m) && !(m === 'HEAD' && declared.has('GET')));
      method = rng.pick(others);
      route = 'wrong method';
      defects.push(`method ${method}`);
    }

    const needed = this.o.roles.get(`${op.method} ${op.path}`) ?? 'admin';
    const role: Role | undefined = token === 'none' ? undefined : token === 'scoped' ? 'operator' : token;
    const roleOk = needed === 'public' || (role !== undefined && ROLE_ORDER.indexOf(role) >= ROLE_ORDER.indexOf(needed));
    if (!roleOk) defects.push(token === 'none' ? `token ${headers.authorization === undefined ? 'missing' : 'unknown'}` : `role ${role} < ${needed}`);

    const acts = op.method !== 'GET';
    let wantClean = defects.length === 0 && rng.chance(0.45);
    // A clean request that could act names `v` only within the budget; past it, it names nothing configured.
    let set: TargetSet | 'unknown' = 'unknown';
    if (wantClean) {
      if (!acts || this.actsIssued < (i + 1) / this.o.actEvery) {
        set = T.v;
        if (acts) this.actsIssued++;
      } else if (!op.params.some((p) => p.in === 'path') && !mentionsTargets(op, api)) {
        wantClean = false; // nothing to point elsewhere (e.g. reconcile): send it broken instead
      }
    }
    if (!wantClean) set = rng.chance(0.8) ? T.j : 'unknown';
    const hints = (key: string) => (set === 'unknown' ? UNKNOWN_NAMES.filter((n) => /^[a-z0-9]/.test(n)) : namesFor(set, key));

    // Path parameters: from the target set, or (for a broken request, sometimes) a value the schema refuses.
    let path = op.path;
    for (const p of op.params.filter((x) => x.in === 'path')) {
      let value = String(generate(api, rng, p.schema, hints, p.name));
      if (!wantClean && rng.chance(0.25)) {
        value = rng.pick([...UNKNOWN_NAMES, rng.text(rng.int(1, 20)), 'x'.repeat(rng.int(64, 420))]);
        if (!api.valid(p.schema, value)) defects.push(`path ${p.name}`);
      }
      const encoded = rng.weighted<string>([
        [8, enc(value)],
        [1, value.replace(/[\s?#]/g, '')],
        [1, rng.pick(['%', '%zz', '%2e%2e', '%00', '%F0%9F%92%A9', '%C0%AF'])],
      ]);
      if (encoded !== enc(value) && !defects.includes(`path ${p.name}`)) defects.push(`path ${p.name} encoding`);
      path = path.replace(`{${p.name}}`, encoded);
    }

    // Query: declared parameters (valid or not), plus keys nobody declared.
    const query: string[] = [];
    for (const p of op.params.filter((x) => x.in === 'query')) {
      if (!rng.chance(wantClean ? 0.3 : 0.4)) continue;
      let value = String(generate(api, rng, p.schema, hints, p.name));
      if (!wantClean && rng.chance(0.5)) {
        value = rng.pick(['', '-1', '1e9', 'abc', '__proto__', 'A B', rng.text(10), 'x'.repeat(200)]);
        if (!api.valid(p.schema, value)) defects.push(`query ${p.name}`);
      }
      query.push(`${enc(p.name)}=${enc(value)}`);
    }
    if (!wantClean && rng.chance(0.15))
      query.push(rng.pick(['__proto__[x]=1', 'constructor[prototype][x]=1', '%', 'a=%zz', 'a=1&a=2', 'limit=1&limit=2', `q=${'x'.repeat(3000)}`]));
    if (query.length > 0) path += `?${query.join('&')}`;

    // Body.
    let body: string | undefined;
    const schema = op.body;
    if (schema) {
      const value = generate(api, rng, schema, hints);
      if (wantClean) {
        if (!op.bodyOptional || rng.chance(0.7)) body = JSON.stringify(value);
      } else {
        const broken = this.brokenBody(schema, value);
        body = broken.body;
        if (broken.defect) defects.push(broken.defect);
      }
    } else if (rng.chance(0.1)) {
      body = rng.pick(['{}', '{"x":1}', rng.text(20), 'null']);
    }
    if (body !== undefined) {
      // Only a route that takes a body reads its content type (a GET's body is never parsed).
      const junkType = !wantClean && schema !== undefined && rng.chance(0.1);
      if (junkType && body.trim() !== '') {
        const ct = rng.pick([...JUNK_CONTENT_TYPES, undefined]);
        if (ct) headers['content-type'] = ct;
        defects.push(`content-type ${ct ?? 'missing'}`);
      } else {
        headers['content-type'] = rng.weighted([
          [8, 'application/json'],
          [1, 'application/json; charset=utf-8'],
          [1, 'APPLICATION/JSON'],
        ]);
      }
    }
    if (rng.chance(0.05)) {
      const [name, value] = rng.pick(NOISE_HEADERS);
      headers[name] = value();
    }
    if (wantClean && defects.length > 0) wantClean = false;
    if (!wantClean && defects.length === 0) {
      // A read with nothing to break (GET /v1/stats) is clean whatever it names: reads act on nothing.
      if (acts) throw new Error(`internal: a request to ${route} meant to be broken has no defect`);
      wantClean = true;
    }
    return { route, method, path, headers, body, token, clean: wantClean, acts: wantClean && acts && set === T.v, defects, localAddress };
  }

  /** A body `schema` refuses (checked), or bytes that are not JSON at all. */
  private brokenBody(schema: JsonSchema, value: unknown): { body: string; defect: string } {
    const { rng, api } = this.o;
    for (let tries = 0; tries < 6; tries++) {
      const how = rng.int(0, 12);
      if (how === 0) return { body: rng.pick(MALFORMED_JSON), defect: 'malformed JSON' };
      if (how === 1) return { body: withKey(value, '"__proto__":{"dryRun":false,"strategy":"immediate"}'), defect: 'forbidden key __proto__' };
      if (how === 2) return { body: withKey(value, '"constructor":{"prototype":{"x":1}}'), defect: 'forbidden key constructor.prototype' };
      if (how === 3) {
        const depth = rng.int(100, 20_000);
        return {
          body: rng.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
          defect: `nested ${depth} deep`,
        };
      }
      if (how === 4)
        return { body: JSON.stringify({ ...(asObject(value) ?? {}), reason: 'r'.repeat(rng.int(BODY_LIMIT, 3 * BODY_LIMIT)) }), defect: 'body over 64 KiB' };
      const candidate = this.mutate(value, how);
      if (candidate !== undefined && !api.valid(schema, candidate.value)) return { body: JSON.stringify(candidate.value), defect: candidate.what };
    }
    return { body: rng.pick(MALFORMED_JSON), defect: 'malformed JSON' };
  }

  private mutate(value: unknown, how: number): { value: unknown; what: string } | undefined {
    const { rng } = this.o;
    const wrong = () =>
      rng.pick<unknown>([null, 42, -1, 1e308, 0.5, true, 'x', '', rng.text(8), [], [1, 'a'], {}, { x: 1 }, 'a'.repeat(600), '\ud800', '💥'.repeat(300)]);
    const obj = asObject(value);
    switch (how) {
      case 5:
        return { value: rng.pick<unknown>([null, [], [value], 1, 'text', true]), what: 'body not an object' };
      case 6:
        return obj && { value: { ...obj, [rng.pick(['x', 'extra', 'dryrun', 'Strategy', '💥', ''])]: wrong() }, what: 'unknown field' };
      default: {
        // A field (maybe nested) replaced by a value of the wrong type or size, or removed.
        const paths = leafPaths(value);
        if (paths.length === 0) return obj && { value: { ...obj, x: wrong() }, what: 'unknown field' };
        const target = rng.pick(paths);
        const copy = structuredClone(value) as Record<string, unknown>;
        let parent: Record<string, unknown> = copy;
        for (const k of target.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
        const last = target[target.length - 1]!;
        if (how === 7) delete parent[last];
        else parent[last] = wrong();
        return { value: copy, what: `${how === 7 ? 'missing' : 'bad'} ${target.join('.')}` };
      }
    }
  }

  private oddPath(token: TokenClass, headers: Record<string, string>, localAddress: string): FuzzRequest {
    const { rng } = this.o;
    const path = rng.pick([
      '/',
      '/ui',
      '/ui/',
      '/docs',
      '/docs/json',
      '/docs/yaml',
      '/v1',
      '/v1/',
      '/v2/runs',
      '/v1/runs/',
      '//v1/runs',
      '/v1/runs/%',
      '/v1/components/%zz',
      '/v1/../healthz',
      '/v1/runs/..%2f..%2fhealthz',
      '/v1/components/fzj-svc/check/..',
      '/V1/RUNS',
      '/healthz?%',
      `/v1/${'x'.repeat(2000)}`,
      '/v1/runs/a%00b',
      '/metrics/..',
      '/.env',
    ]);
    const method = rng.pick(['GET', 'POST', 'HEAD', 'OPTIONS', 'DELETE']);
    // An odd path is not a route that acts: counted as bad input whatever happens.
    return { route: 'odd path', method, path, headers, token, clean: false, acts: false, defects: ['odd path'], localAddress };
  }
}

/** Does a body of `op` name components (so its targets can be pointed elsewhere)? */
function mentionsTargets(op: Operation, api: Api): boolean {
  if (!op.body) return false;
  const text = JSON.stringify(api.resolve(op.body));
  return text.includes('"components"') || text.includes('"labels"');
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) goes as the bytes of its code unit. */
function enc(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text
      .split('')
      .map((c) => {
        try {
          return encodeURIComponent(c);
        } catch {
          return [...Buffer.from(c, 'utf16le')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
        }
      })
      .join('');
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** `{...}` with `raw` (a JSON member) added first. */
function withKey(value: unknown, raw: string): string {
  const text = JSON.stringify(asObject(value) ?? {});
  return text === '{}' ? `{${raw}}` : `{${raw},${text.slice(1)}`;
}

/** Paths of the fields of an object body, nested ones included. */
function leafPaths(value: unknown, at: string[] = [], out: string[][] = []): string[][] {
  if (at.length > 4) return out;
  if (Array.isArray(value)) value.forEach((v, i) => (out.push([...at, String(i)]), leafPaths(v, [...at, String(i)], out)));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      out.push([...at, k]);
      leafPaths(v, [...at, k], out);
    }
  return out;
}
