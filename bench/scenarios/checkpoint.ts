/**
 * Checkpoint create and restore of 1, 10 and 100 MB of state: mend's checkpoint (copy with a
 * sha256 manifest, verify on restore) against `tar` + `sha256sum` doing the same work.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createCheckpoint, restoreCheckpoint } from '../../domain/state/checkpoint';
import { ComponentSchema } from '../../core/schemas';
import { summarize, type Summary } from '../lib/stats';
import { log, now, run } from '../lib/util';

export interface CheckpointRow {
  sizeMb: number;
  mendCreate: Summary;
  tarCreate: Summary;
  mendRestore: Summary;
  tarRestore: Summary;
}

/** State of `sizeMb` MB in 8 files (random, so nothing compresses or dedups). */
function writeState(dir: string, sizeMb: number): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const per = Math.ceil((sizeMb * 1024 * 1024) / 8);
  for (let i = 0; i < 8; i++) writeFileSync(path.join(dir, `part-${i}.bin`), randomBytes(per));
}

async function sh(script: string): Promise<void> {
  const { code, out } = await run('/bin/sh', ['-c', script]);
  if (code !== 0) throw new Error(`bench: ${script} failed: ${out}`);
}

export async function checkpointBench(work: string, sizesMb: number[], trials: number): Promise<CheckpointRow[]> {
  const rows: CheckpointRow[] = [];
  for (const sizeMb of sizesMb) {
    const state = path.join(work, `state-${sizeMb}`);
    const component = ComponentSchema.parse({
      id: `bench-${sizeMb}`,
      adapter: { type: 'process', command: ['true'] },
      probe: { type: 'process' },
      state: { paths: [state], checkpointDir: path.join(work, `cp-${sizeMb}`) },
    });
    writeState(state, sizeMb);
    const samples = { mendCreate: [] as number[], tarCreate: [] as number[], mendRestore: [] as number[], tarRestore: [] as number[] };
    for (let i = 0; i < trials; i++) {
      let t = now();
      const info = await createCheckpoint(component, { id: `t${i}` });
      samples.mendCreate.push((now() - t) / 1000);

      const tar = path.join(work, `cp-${sizeMb}-t${i}.tar`);
      t = now();
      await sh(`tar -cf '${tar}' -C '${state}' . && sha256sum '${tar}' > '${tar}.sha256'`);
      samples.tarCreate.push((now() - t) / 1000);

      // Restore: verify the checkpoint (restoreCheckpoint does), then put its files back into a clean place.
      rmSync(state, { recursive: true, force: true });
      t = now();
      await restoreCheckpoint(component, info.id);
      samples.mendRestore.push((now() - t) / 1000);

      rmSync(state, { recursive: true, force: true });
      mkdirSync(state);
      t = now();
      await sh(`sha256sum -c --quiet '${tar}.sha256' && tar -xf '${tar}' -C '${state}'`);
      samples.tarRestore.push((now() - t) / 1000);
      rmSync(tar, { force: true });
      rmSync(path.join(work, `cp-${sizeMb}`, info.id), { recursive: true, force: true });
    }
    const row = {
      sizeMb,
      mendCreate: summarize(samples.mendCreate),
      tarCreate: summarize(samples.tarCreate),
      mendRestore: summarize(samples.mendRestore),
      tarRestore: summarize(samples.tarRestore),
    };
    log(
      `checkpoint ${sizeMb} MB: create mend ${row.mendCreate.median}s vs tar ${row.tarCreate.median}s; restore mend ${row.mendRestore.median}s vs tar ${row.tarRestore.median}s`,
    );
    rows.push(row);
    rmSync(state, { recursive: true, force: true });
  }
  return rows;
}
