/**
 * What the fuzz knows about the API comes from its OpenAPI document (/docs/json), so a new route is
 * fuzzed without touching this code: the operations, their path and query parameters and body
 * schemas; a validator for the JSON Schema subset the zod schemas become (so a request can be told
 * clean or defective before it is sent), and a generator of values a schema accepts.
 */
import type { Rng } from './rng';

export type JsonSchema = {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean | number;
  exclusiveMaximum?: boolean | number;
  default?: unknown;
  nullable?: boolean;
};

export interface Param {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  method: string;
  /** OpenAPI path, `/v1/runs/{id}`. */
  path: string;
  params: Param[];
  body?: JsonSchema;
  /** The body may be left out (no required field). */
  bodyOptional: boolean;
}

type Doc = {
  paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: { required?: boolean; content?: Record<string, { schema: JsonSchema }> } }>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

export class Api {
  readonly operations: Operation[];
  private readonly schemas: Record<string, JsonSchema>;

  constructor(doc: unknown) {
    const d = doc as Doc;
    this.schemas = d.components?.schemas ?? {};
    this.operations = Object.entries(d.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => {
        const body = op.requestBody?.content?.['application/json']?.schema;
        return { method: method.toUpperCase(), path, params: op.parameters ?? [], body, bodyOptional: op.requestBody?.required === false };
      }),
    );
  }

  resolve(schema: JsonSchema): JsonSchema {
    let s = schema;
    for (let i = 0; s.$ref && i < 10; i++) s = this.schemas[s.$ref.split('/').pop()!] ?? {};
    return s;
  }

  /** True when `value` is what `schema` accepts (the subset zod's JSON Schema output uses). */
  valid(schema: JsonSchema, value: unknown, depth = 0): boolean {
    if (depth > 50) return false;
    const s = this.resolve(schema);
    if (value === null) return s.nullable === true || s.type === 'null';
    if (s.anyOf) return s.anyOf.some((x) => this.valid(x, value, depth + 1));
    if (s.oneOf) return s.oneOf.filter((x) => this.valid(x, value, depth + 1)).length === 1;
    if (s.allOf) return s.allOf.every((x) => this.valid(x, value, depth + 1));
    if (s.enum && !s.enum.some((e) => e === value)) return false;
    switch (s.type) {
      case 'string': {
        if (typeof value !== 'string') return false;
        // Lengths in code points, as JSON Schema and zod 4 count them ('💥' is one).
        const length = [...value].length;
        if (s.minLength !== undefined && length < s.minLength) return false;
        if (s.maxLength !== undefined && length > s.maxLength) return false;
        if (s.pattern && !regex(s.pattern).test(value)) return false;
        if (s.format === 'date-time' && Number.isNaN(Date.parse(value))) return false;
        return true;
      }
      case 'number':
      case 'integer': {
        if (typeof value !== 'number' || !Number.isFinite(value)) return false;
        if (s.type === 'integer' && !Number.isInteger(value)) return false;
        if (s.minimum !== undefined && (s.exclusiveMinimum === true ? value <= s.minimum : value < s.minimum)) return false;
        if (s.maximum !== undefined && (s.exclusiveMaximum === true ? value >= s.maximum : value > s.maximum)) return false;
        return true;
      }
      case 'boolean':
        return typeof value === 'boolean';
      case 'array':
        if (!Array.isArray(value)) return false;
        if (s.minItems !== undefined && value.length < s.minItems) return false;
        if (s.maxItems !== undefined && value.length > s.maxItems) return false;
        return !s.items || value.every((v) => this.valid(s.items!, v, depth + 1));
      case 'object': {
        if (typeof value !== 'object' || Array.isArray(value)) return false;
        const obj = value as Record<string, unknown>;
        for (const r of s.required ?? []) if (!Object.hasOwn(obj, r)) return false;
        for (const [k, v] of Object.entries(obj)) {
          const prop = s.properties?.[k];
          if (prop) {
            if (!this.valid(prop, v, depth + 1)) return false;
          } else if (s.additionalProperties === false) return false;
          else if (typeof s.additionalProperties === 'object' && !this.valid(s.additionalProperties, v, depth + 1)) return false;
        }
        return true;
      }
      default:
        return true;
    }
  }
}

const regexes = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let r = regexes.get(pattern);
  if (!r) regexes.set(pattern, (r = new RegExp(pattern)));
  return r;
}

/** Strings for the patterns the API's schemas use; anything else gets a few tries at random. */
function stringFor(rng: Rng, s: JsonSchema, hint: string[] | undefined): string {
  const fits = (v: string) =>
    (s.pattern === undefined || regex(s.pattern).test(v)) &&
    (s.minLength === undefined || [...v].length >= s.minLength) &&
    (s.maxLength === undefined || [...v].length <= s.maxLength);
  const candidates = [
    ...(hint && rng.chance(0.9) ? [rng.pick(hint)] : []),
    ...(s.format === 'date-time' ? [new Date(Date.now() - rng.int(0, 86_400_000)).toISOString()] : []),
    rng.slug(rng.int(1, 12)),
    rng.hex(8),
    rng.word(rng.int(1, 30)),
    rng.text(rng.int(0, 40)),
  ];
  for (const c of candidates) if (fits(c)) return c;
  return rng.slug(Math.max(1, Math.min(s.maxLength ?? 8, 8)));
}

/**
 * A value `schema` accepts. `hints(key)` gives preferred strings for a field by its name (target
 * names); `enum`-like branches are preferred, and `dryRun` is always true (clean requests run dry).
 */
export function generate(api: Api, rng: Rng, schema: JsonSchema, hints: (key: string) => string[] | undefined, key = '', depth = 0): unknown {
  const s = api.resolve(schema);
  if (s.anyOf || s.oneOf) {
    const branches = (s.anyOf ?? s.oneOf)!;
    return generate(api, rng, rng.chance(0.8) ? branches[0]! : rng.pick(branches), hints, key, depth + 1);
  }
  if (s.allOf) return generate(api, rng, s.allOf[0]!, hints, key, depth + 1);
  if (s.enum) return rng.pick(s.enum);
  if (key === 'dryRun') return true;
  switch (s.type) {
    case 'string':
      return stringFor(rng, s, hints(key));
    case 'integer':
    case 'number': {
      const lo = s.minimum ?? 0;
      const hi = Math.min(s.maximum ?? lo + 1000, lo + 1000);
      const v = s.type === 'integer' ? rng.int(Math.ceil(lo), Math.floor(hi)) : lo + rng.float() * (hi - lo);
      return s.exclusiveMinimum === true && v <= lo ? lo + 1 : v;
    }
    case 'boolean':
      return rng.chance(0.5);
    case 'array': {
      const n = rng.int(s.minItems ?? 0, Math.min(s.maxItems ?? 3, Math.max(s.minItems ?? 0, 3)));
      return Array.from({ length: n }, () => generate(api, rng, s.items ?? {}, hints, key, depth + 1));
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, prop] of Object.entries(s.properties ?? {})) {
        if (s.required?.includes(k) || (depth < 4 && rng.chance(0.5))) out[k] = generate(api, rng, prop, hints, k, depth + 1);
      }
      if (typeof s.additionalProperties === 'object' && depth < 4) {
        // Free-form maps (labels, annotations): a key that names a target, and a couple of others.
        if (hints(key) && rng.chance(0.8)) out.component = generate(api, rng, s.additionalProperties, hints, 'component', depth + 1);
        for (let i = rng.int(0, 2); i > 0; i--) out[rng.word(rng.int(1, 10))] = generate(api, rng, s.additionalProperties, () => undefined, '', depth + 1);
      }
      return out;
    }
    default:
      return rng.chance(0.5) ? rng.word(5) : rng.int(0, 10);
  }
}
