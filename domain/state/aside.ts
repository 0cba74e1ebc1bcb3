/**
 * Moving a component's state out of the way, never deleting it: everything goes under
 * `<asideDir>/<runKey>/` (`state/` for the state paths, `cleanup/` for temp files, stale locks and
 * corrupt markers), and each move is appended to `<asideDir>/<runKey>/moves.jsonl` so an operator
 * can put things back by hand.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Component } from '../../core/schemas';
import { errnoCode, freeDestination, globMatcher, lstatIfExists, movePath } from './files';

export interface MovedFile {
  from: string;
  to: string;
  why?: 'state' | 'temp' | 'stale-lock' | 'corrupt-marker';
}

const MOVES_LOG = 'moves.jsonl';

/** A folder name for one run: "mend/recover/api" + "0b5c1f3e-..." -> "mend_recover_api-0b5c1f3e". */
export function runKeyFor(workflowId: string, runId: string): string {
  const safe = (text: string) => text.replace(/[^\w.-]+/g, '_');
  const workflow = safe(workflowId).replace(/^\.+/, '_').slice(0, 120) || 'run';
  const run = safe(runId).slice(0, 8);
  return run ? `${workflow}-${run}` : workflow;
}

function runDir(component: Component, runKey: string): string {
  const asideDir = component.state.asideDir;
  if (!asideDir) throw new Error(`${component.id}: state.asideDir was not resolved (load the config with parseConfig)`);
  if (!/^[\w-][\w.-]*$/.test(runKey)) throw new Error(`${JSON.stringify(runKey)} is not a run key (use runKeyFor)`);
  return path.join(asideDir, runKey);
}

async function moveAndRecord(dir: string, move: MovedFile): Promise<boolean> {
  try {
    await movePath(move.from, move.to);
  } catch (err) {
    // Gone since it was listed (the component or another cleaner removed it): nothing to keep.
    if (errnoCode(err) === 'ENOENT' && !(await lstatIfExists(move.from))) return false;
    throw err;
  }
  await fs.appendFile(path.join(dir, MOVES_LOG), JSON.stringify({ ...move, at: new Date().toISOString() }) + '\n');
  return true;
}

/**
 * Moves every existing state path to `<asideDir>/<runKey>/state/<index>-<basename>` (a rename, or
 * copy then remove across file systems). A destination is never overwritten: state recreated
 * after an earlier move goes to `<index>-<basename>~2` and so on.
 * Safe to run twice: a path already moved is no longer at its source, so a second call moves nothing.
 */
export async function moveStateAside(component: Component, runKey: string): Promise<{ dir: string; moved: MovedFile[] }> {
  const dir = runDir(component, runKey);
  const moved: MovedFile[] = [];
  for (const [index, from] of component.state.paths.entries()) {
    if (!(await lstatIfExists(from))) continue;
    if (dir === from || dir.startsWith(from + path.sep))
      throw new Error(`${component.id}: asideDir ${component.state.asideDir} is inside state path ${from}; it cannot be moved into itself`);
    const to = await freeDestination(path.join(dir, 'state', `${index}-${path.basename(from)}`));
    const move: MovedFile = { from, to, why: 'state' };
    if (await moveAndRecord(dir, move)) moved.push(move);
  }
  return { dir, moved };
}

/**
 * In each folder of `state.cleanup.dirs` (not recursive: only the folder's own entries; list a
 * subfolder to clean inside it), moves to `<asideDir>/<runKey>/cleanup/` the files matching a
 * `temp` glob (any age), files matching a `locks` glob last modified more than `staleAfter` ago,
 * and entries named in `corruptMarkers`. Fresh locks and everything else stay.
 * Safe to run twice: moved files are no longer in the folders, so a second call moves nothing.
 */
export async function cleanState(component: Component, runKey: string, now: Date = new Date()): Promise<{ moved: MovedFile[] }> {
  const dir = runDir(component, runKey);
  const { cleanup } = component.state;
  const isTemp = cleanup.temp.map(globMatcher);
  const isLock = cleanup.locks.map(globMatcher);
  const markers = new Set(cleanup.corruptMarkers);
  const folders = cleanup.dirs ?? [...new Set(component.state.paths.map((p) => path.dirname(p)))];
  const moved: MovedFile[] = [];
  for (const folder of folders) {
    let entries;
    try {
      entries = await fs.readdir(folder, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw err;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const from = path.join(folder, entry.name);
      let why: MovedFile['why'];
      if (markers.has(entry.name)) why = 'corrupt-marker';
      else if (entry.isDirectory()) continue;
      else if (isTemp.some((match) => match(entry.name))) why = 'temp';
      else if (isLock.some((match) => match(entry.name))) {
        const stat = await lstatIfExists(from);
        if (stat && now.getTime() - stat.mtimeMs > cleanup.staleAfter) why = 'stale-lock';
      }
      if (!why) continue;
      const move: MovedFile = { from, to: await freeDestination(path.join(dir, 'cleanup', entry.name)), why };
      if (await moveAndRecord(dir, move)) moved.push(move);
    }
  }
  return { moved };
}
