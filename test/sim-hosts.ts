/**
 * Simulated hosts for tests (DESIGN §2a): scripts/sim-hosts.ts (which the host benchmarks share),
 * on the test harness's dev server.
 */
import { startSimHost as start, type SimHost } from '../scripts/sim-hosts';
import { AGENT_NODE_ARGS } from '../workers/agent-node-args';
import { sharedServer, TEST_TS_LOADER } from './helpers';

export { canSimulateHosts, type SimAgent, type SimHost } from '../scripts/sim-hosts';

/** Starts the namespace of host `id`; its agent polls `<queue>/host/<id>` of the shared dev server with MEND_HOME `home`. */
export function startSimHost(id: string, queue: string, home: string): Promise<SimHost> {
  // The tests' TypeScript hook instead of tsx/cjs (AGENT_NODE_ARGS' other flags kept): some 0.4 CPU-s less per agent start, of
  // which the host tests make dozens; `mend agent` itself (tsx) is what the CLI and the benchmarks start.
  const tsx = AGENT_NODE_ARGS.indexOf('tsx/cjs');
  const nodeArgs = [...TEST_TS_LOADER, ...AGENT_NODE_ARGS.filter((_, i) => i !== tsx && i !== tsx - 1)];
  return start(id, queue, home, sharedServer().address, {}, nodeArgs);
}
