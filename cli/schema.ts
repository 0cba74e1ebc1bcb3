import { z } from 'zod';
import { ConfigSchema } from '../core/schemas';

/** JSON Schema of mend.config.yaml (what an operator writes, before defaults), for editors. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://mend.dev/schema/mend.config.json',
    title: 'mend components config',
  };
}
