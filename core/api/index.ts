/**
 * The HTTP API's contract: request and response bodies, query strings and path parameters, and the
 * tokens file, one file per resource as in api/routes/. Shared by the API (validation, OpenAPI) and
 * API clients (the CLI's api-client). Request schemas are strict (unknown fields are refused);
 * response schemas have no transforms (the API's serializer encodes with them).
 *
 * These schemas are the one definition of each shape: the types of a run's result and progress, a
 * backlog status, a supervisor's view and statistics are inferred from them (`z.output`), also where
 * workflows use them (as types only: zod never enters the workflow bundle).
 */
export * from './common';
export * from './components';
export * from './runs';
export * from './sagas';
export * from './alerts';
export * from './meta';
export * from './backlog';
export * from './supervision';
export * from './hosts';
export * from './drills';
export * from './fleet';
