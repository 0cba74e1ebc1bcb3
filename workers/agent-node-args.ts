/**
 * How an agent's `node` is started (`mend agent`, `npm run agent`, compose, the simulated hosts).
 * Idle (RSS of the process): `--import tsx` 152 MiB; tsx's CommonJS hook alone (`--require tsx/cjs`,
 * no ESM loader thread: mend is CommonJS) 136 MiB; plus a 1 MiB young generation
 * (`--max-semi-space-size=1`) 119 MiB. Under load (500 components probed every 1 s) a sweep keeps its
 * probes' objects alive past the young generation, so they die in the old one, which V8 lets grow to
 * a few times its live size (~45 MiB here) before collecting it: 185-226 MiB mean, 232-268 MiB max.
 * `--heap-growing-percent=20` collects it at 1.2 × the live size instead: 138-141 MiB mean, 139-145
 * max (same runs, alternated), for a major GC every few seconds (a few % of one core). A bigger young
 * generation did not help (4, 8, 16 MiB: no lower, up to 238 MiB mean).
 * Keep in step with package.json's `agent` script and docker-compose.yml's agent command (tested).
 */
/** The old generation collected at 1.2 × its live size: the agent's and the central worker's (workers/main.ts) one setting. */
export const HEAP_GROWING_FLAG = '--heap-growing-percent=20';

export const AGENT_NODE_ARGS = ['--require', 'tsx/cjs', '--max-semi-space-size=1', HEAP_GROWING_FLAG];
