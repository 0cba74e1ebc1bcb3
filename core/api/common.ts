/**
 * What every route shares: the error body, the tokens file and its roles, the empty request body.
 */
import { z } from 'zod';
import { ComponentIdSchema } from '../schemas';

export const ErrorIssueSchema = z.object({
  /** Where: `body.components[0]`, `query.since`, `params.id`. */
  path: z.string(),
  message: z.string(),
});

export const ErrorResponseSchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    message: z.string(),
    requestId: z.string().optional(),
    issues: z.array(ErrorIssueSchema).optional(),
    /** 409: the run already running. */
    workflowId: z.string().optional(),
    runId: z.string().optional(),
  })
  .meta({ id: 'Error', description: 'an error: status, one-line message, request id; for 400 the fields' });

export type ErrorResponse = z.output<typeof ErrorResponseSchema>;

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.output<typeof RoleSchema>;

/** One entry of MEND_TOKENS_FILE: the token itself, or its sha256 (hex) so the file holds no secret. */
export const TokenEntrySchema = z
  .object({
    /** Recorded as `requestedBy` / `approved by` in runs; never the token itself. */
    name: z.string().regex(/^[\w.@-]{1,64}$/, { message: 'expected a name: letters, digits, ".", "_", "@" or "-" (max 64)' }),
    token: z.string().min(16, { message: 'a token needs at least 16 characters' }).max(512).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, { message: 'expected 64 lowercase hex digits' })
      .optional(),
    role: RoleSchema,
    /** Components this token may start and control runs on; absent = all. Reads are never scoped. */
    components: z.array(ComponentIdSchema).min(1).optional(),
  })
  .strict()
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), { message: 'give exactly one of token or sha256' });

export const TokensFileSchema = z.object({ tokens: z.array(TokenEntrySchema).min(1, { message: 'list at least one token' }) }).strict();
export type TokenEntry = z.output<typeof TokenEntrySchema>;

/**
 * The body of a POST that takes nothing: absent, empty or `{}` (the API reads a missing body as
 * `{}`, see api/json-body.ts); anything else is a 400, so junk never acts.
 */
export const NoBodySchema = z.object({}).strict().meta({ id: 'NoBody', description: 'nothing: leave the body out, or send {}' });

/**
 * The query of a route that takes no parameters (api/app.ts gives it to every /v1 route without a
 * query schema of its own): any parameter is a 400 naming it, so a misspelt one is said, not ignored.
 */
export const NoQuerySchema = z.object({}).strict();
