/**
 * How node is started for mend's own processes. `TS_HOOK_ARGS`: TypeScript through bin/ts-hook.js
 * (esbuild with a compile cache on disk), as the installed `mend` command loads it: lighter than tsx,
 * whose CommonJS hook reads every JavaScript file of node_modules and whose `--import` form starts an
 * ESM loader thread (mend is CommonJS). A relative path: these processes run from mend's own folder.
 * Keep in step with package.json's scripts, the Dockerfile and docker-compose.yml (tested).
 */
export const TS_HOOK_ARGS = ['--require', './bin/ts-hook.js'];

/** The old generation collected at 1.2 × its live size: the agent's and the central worker's (workers/main.ts) one setting. */
export const HEAP_GROWING_FLAG = '--heap-growing-percent=20';

/**
 * An agent's `node` (`mend agent`, `npm run agent`, compose, the simulated hosts): the hook, and its memory settings.
 * Idle (RSS of the process): `--import tsx` 152 MiB; tsx's CommonJS hook alone (`--require tsx/cjs`,
 * no ESM loader thread: mend is CommonJS) 136 MiB; plus a 1 MiB young generation
 * (`--max-semi-space-size=1`) 119 MiB. Under load (500 components probed every 1 s) a sweep keeps its
 * probes' objects alive past the young generation, so they die in the old one, which V8 lets grow to
 * a few times its live size (~45 MiB here) before collecting it: 185-226 MiB mean, 232-268 MiB max.
 * `--heap-growing-percent=20` collects it at 1.2 × the live size instead: 138-141 MiB mean, 139-145
 * max (same runs, alternated), for a major GC every few seconds (a few % of one core). A bigger young
 * generation did not help (4, 8, 16 MiB: no lower, up to 238 MiB mean).
 * bin/ts-hook.js instead of tsx/cjs (same flags, idle, two rounds alternated, 2 cores, quiet): 94-103 MiB
 * against 110-122 MiB after 12 s, polling after 1.35-1.63 CPU-s against 1.76-2.2. The central worker
 * (`--import tsx` before): polling after 1.85-1.95 CPU-s against 2.67-2.89, 1.6 s against 2.1-2.2 s.
 * Keep in step with package.json's `agent` script and docker-compose.yml's agent command (tested).
 */
export const AGENT_NODE_ARGS = [...TS_HOOK_ARGS, '--max-semi-space-size=1', HEAP_GROWING_FLAG];
