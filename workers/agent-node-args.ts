/**
 * How an agent's `node` is started (`mend agent`, `npm run agent`, compose, the simulated hosts),
 * measured on an idle agent here (RSS of the process): `--import tsx` 152 MiB; tsx's CommonJS hook
 * alone (`--require tsx/cjs`, no ESM loader thread: mend is CommonJS) 136 MiB; plus a 1 MiB young
 * generation (`--max-semi-space-size=1`, its garbage is small: probe results and reports) 119 MiB.
 * Keep in step with package.json's `agent` script and docker-compose.yml's agent command.
 */
export const AGENT_NODE_ARGS = ['--require', 'tsx/cjs', '--max-semi-space-size=1'];
