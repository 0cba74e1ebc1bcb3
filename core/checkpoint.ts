/**
 * A checkpoint's manifest (`<checkpointDir>/<id>/manifest.json`): the one schema that writes and
 * reads it; the types are inferred from it, so what is checked on read is what is written.
 */
import { z } from 'zod';

export const CheckpointFileSchema = z.object({
  /** Relative path inside the checkpoint's data folder. */
  path: z.string().min(1),
  /** Absolute path it was copied from and restores to. */
  source: z.string().min(1),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const CheckpointDirSchema = z.object({
  /** Relative path inside the checkpoint's data folder. */
  path: z.string().min(1),
  /** Absolute path of the folder it restores to. */
  source: z.string().min(1),
});

export const ManifestSchema = z.object({
  id: z.string().min(1),
  component: z.string().min(1),
  /** ISO 8601. */
  createdAt: z.iso.datetime({ offset: true }),
  label: z.string().optional(),
  files: z.array(CheckpointFileSchema),
  totalBytes: z.number().int().min(0),
  /** Folders of state paths that were folders (empty ones too), so a restore recreates the tree. */
  dirs: z.array(CheckpointDirSchema).optional(),
  /** Symlinks and special files found in the state and not recorded. */
  skipped: z.array(z.string()).optional(),
});

export type CheckpointFile = z.output<typeof CheckpointFileSchema>;
export type CheckpointDir = z.output<typeof CheckpointDirSchema>;
export type CheckpointManifest = z.output<typeof ManifestSchema>;
