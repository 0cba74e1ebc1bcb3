/**
 * The mass outage's dependent variant (issue 16): 10 chains of 5 services, each needing the one
 * before it (c01a ← c01b ← … ← c01e), all SIGKILLed at once. Each dependent holds a "connection"
 * opened at start (demo/service.js CONNECT_DEPENDENCIES), so one started while its dependency is
 * not healthy stays broken and counts the start as made without it: the early starts, 0 is right.
 * The start-time look at the dependency may take 3 s: on a loaded box a healthy dependency can be
 * slower than the demo's default 500 ms to answer, which would count a start as early that was not.
 */
import path from 'node:path';
import { freePort } from '../../scripts/ports';
import { healthUrl, type BenchService } from '../peers/types';

export const CHAINS = 10;
export const CHAIN_LENGTH = 5;

export async function chainedFleet(dir: string): Promise<BenchService[]> {
  const services: BenchService[] = [];
  for (let c = 1; c <= CHAINS; c++) {
    let previous: BenchService | undefined;
    for (let i = 0; i < CHAIN_LENGTH; i++) {
      const name = `c${String(c).padStart(2, '0')}${String.fromCharCode(97 + i)}`;
      const s: BenchService = {
        name,
        port: await freePort(),
        stateFile: path.join(dir, `${name}.json`),
        ...(previous
          ? { dependsOn: [previous.name], env: { DEPENDS_ON: healthUrl(previous), CONNECT_DEPENDENCIES: '1', DEPENDENCY_START_TIMEOUT_MS: '3000' } }
          : {}),
      };
      services.push(s);
      previous = s;
    }
  }
  return services;
}
