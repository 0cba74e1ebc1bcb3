/**
 * What a demo service records about itself in its state file, read the same way for every peer:
 * how often it started, and how many of those starts found a dependency not healthy
 * (CONNECT_DEPENDENCIES, see demo/service.js).
 */
import { readFileSync } from 'node:fs';

export interface ServiceCounts {
  starts: number;
  startsWithoutDependency: number;
}

/** The counts in `stateFile`; zeros while the file does not exist yet (or is being replaced). */
export function serviceCounts(stateFile: string): ServiceCounts {
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as Partial<ServiceCounts>;
    return { starts: state.starts ?? 0, startsWithoutDependency: state.startsWithoutDependency ?? 0 };
  } catch {
    return { starts: 0, startsWithoutDependency: 0 };
  }
}
