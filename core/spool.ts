/** A backlog spool's item as it lies in `<dir>/pending/`: the schema that writes and reads it. */
import { z } from 'zod';

/** Item ids name files: no dots or separators (a dot would read as a `.reason.json` file). */
export const ITEM_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export const SpoolItemSchema = z
  .object({
    id: z.string().regex(ITEM_ID_RE, { message: 'expected an item id: letters, digits, "-" or "_" (max 128)' }),
    createdAt: z.iso.datetime({ offset: true }),
    payload: z.unknown(),
  })
  .strict();

export type SpoolItem = z.output<typeof SpoolItemSchema>;
