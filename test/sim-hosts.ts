/**
 * Simulated hosts for tests (DESIGN §2a): scripts/sim-hosts.ts (which the host benchmarks share),
 * on the test harness's dev server.
 */
import { startSimHost as start, type SimHost } from '../scripts/sim-hosts';
import { sharedServer } from './helpers';

export { canSimulateHosts, type SimAgent, type SimHost } from '../scripts/sim-hosts';

/** Starts the namespace of host `id`; its agent polls `<queue>/host/<id>` of the shared dev server with MEND_HOME `home`. */
export function startSimHost(id: string, queue: string, home: string): Promise<SimHost> {
  return start(id, queue, home, sharedServer().address);
}
