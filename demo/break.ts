/**
 * Breaks a demo component for real: `npm run demo:break -- <component> [crash|hang]`.
 * crash: SIGKILL its process; hang: SIGSTOP it (alive, but its health endpoint never answers).
 */
import path from 'node:path';
import { loadConfigFile } from '../client/config';
import { selectComponents } from '../core/config';
import { readSettings } from '../core/settings';
import { runningProcess, processAdapter } from '../domain/adapters/process';

async function main(): Promise<number> {
  const [id, mode = 'crash'] = process.argv.slice(2);
  if (!id || !['crash', 'hang'].includes(mode)) {
    console.error('usage: npm run demo:break -- <component> [crash|hang]');
    return 2;
  }
  const settings = readSettings(process.env);
  const config = loadConfigFile(settings.MEND_CONFIG, { stateDir: path.resolve(settings.MEND_HOME) });
  const [component] = selectComponents(config, [id]);
  const running = await runningProcess(processAdapter(component!));
  if (!running) {
    console.error(`${id} is not running`);
    return 1;
  }
  process.kill(running.pid, mode === 'crash' ? 'SIGKILL' : 'SIGSTOP');
  console.log(`${mode === 'crash' ? 'killed' : 'froze'} ${id} (pid ${running.pid})`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`demo:break: ${err.message}`);
    process.exit(2);
  },
);
