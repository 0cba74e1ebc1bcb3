/**
 * Bearer tokens → roles (`viewer` < `operator` < `admin`), optionally scoped to components.
 * Tokens come from MEND_TOKENS and/or MEND_TOKENS_FILE; only their sha256 is kept in memory and the
 * comparison is constant-time. A token's *name* is what runs record as `requestedBy`; the token
 * itself is never logged, echoed or stored in a run.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { ROLES, TokenEntrySchema, TokensFileSchema, type Role, type TokenEntry } from '../core/api';
import { formatIssues, ValidationError } from '../core/errors';

export interface Principal {
  name: string;
  role: Role;
  /** Components this principal may start and control runs on; undefined = all. */
  components?: ReadonlySet<string>;
}

interface StoredToken extends Principal {
  hash: Buffer;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** May `principal` act on every one of `components`? */
export function inScope(principal: Principal, components: readonly string[]): boolean {
  return !principal.components || components.every((c) => principal.components!.has(c));
}

export class TokenTable {
  private readonly tokens: StoredToken[];

  constructor(entries: readonly TokenEntry[]) {
    const names = new Set<string>();
    this.tokens = entries.map((e) => {
      if (names.has(e.name)) throw new ValidationError('tokens', [`duplicate token name ${JSON.stringify(e.name)}`]);
      names.add(e.name);
      return {
        name: e.name,
        role: e.role,
        components: e.components && new Set(e.components),
        hash: e.sha256 ? Buffer.from(e.sha256, 'hex') : sha256(e.token!),
      };
    });
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The principal whose token this is. Every stored hash is compared, so the time does not say which matched. */
  authenticate(token: string): Principal | undefined {
    const presented = sha256(token);
    let found: StoredToken | undefined;
    for (const t of this.tokens) if (timingSafeEqual(presented, t.hash) && !found) found = t;
    return found && { name: found.name, role: found.role, components: found.components };
  }
}

/** A new random token (256 bits, base64url). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * MEND_TOKENS: entries separated by whitespace or ";", each `[name=]token:role[:comp1,comp2]`.
 * Without a name, one is made from the role and the first hex digits of the token's hash.
 * Problems name the entry by position, never by its token.
 */
export function parseTokensEnv(text: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const problems: string[] = [];
  text
    .split(/[\s;]+/)
    .filter(Boolean)
    .forEach((raw, i) => {
      const eq = raw.indexOf('=');
      const name = eq > 0 ? raw.slice(0, eq) : undefined;
      const [token = '', role, scope, ...rest] = raw.slice(eq > 0 ? eq + 1 : 0).split(':');
      if (rest.length > 0) return problems.push(`entry ${i + 1}: expected [name=]token:role[:comp1,comp2]`);
      const parsed = TokenEntrySchema.safeParse({
        name: name ?? `${role ?? 'token'}-${sha256(token).toString('hex').slice(0, 8)}`,
        token,
        role,
        components: scope === undefined ? undefined : scope.split(',').filter(Boolean),
      });
      if (parsed.success) entries.push(parsed.data);
      else problems.push(...formatIssues(parsed.error.issues).map((p) => `entry ${i + 1}: ${p}`));
    });
  if (problems.length > 0) throw new ValidationError('MEND_TOKENS', problems);
  return entries;
}

/** MEND_TOKENS_FILE: YAML or JSON, `tokens: [{ name, token | sha256, role, components? }]`. */
export function parseTokensFile(text: string, source: string): TokenEntry[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch {
    throw new ValidationError(source, ['not valid YAML or JSON']);
  }
  const parsed = TokensFileSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(source, formatIssues(parsed.error.issues));
  return parsed.data.tokens;
}

/** The `Authorization: Bearer <token>` value, if the header has that shape. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+([\x21-\x7e]{1,512})\s*$/i.exec(header);
  return match?.[1];
}

/** The token table from MEND_TOKENS and MEND_TOKENS_FILE (both may be given; names must differ). */
export function loadTokens(settings: { MEND_TOKENS?: string; MEND_TOKENS_FILE?: string }, readFile: (file: string) => string): TokenTable {
  const entries = settings.MEND_TOKENS ? parseTokensEnv(settings.MEND_TOKENS) : [];
  if (settings.MEND_TOKENS_FILE) {
    let text: string;
    try {
      text = readFile(settings.MEND_TOKENS_FILE);
    } catch (err) {
      throw new ValidationError(settings.MEND_TOKENS_FILE, [`cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
    }
    entries.push(...parseTokensFile(text, settings.MEND_TOKENS_FILE));
  }
  return new TokenTable(entries);
}
