/** Shared by the one-CLI-path tests: a session of `mend` commands recorded with what differs between sessions by nature masked. */
import { runCli } from './helpers';

export interface Step {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Masks what differs between two sessions by nature: ids, URLs, times, durations, who acted. */
export function masked(text: string, who: string): string {
  return (
    text
      .replaceAll(who, '<who>')
      .replace(/https?:\/\/\S+?(?=["\s)]|$)/g, '<url>')
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
      // A drill run's random suffix: mend/drill/<name>/<8 hex digits>.
      .replace(/(mend\/drill\/[\w-]+\/)[0-9a-f]{8}\b/g, '$1<run>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
      // With the padding before it: a table column is as wide as its longest duration.
      .replace(/ *\b\d+(\.\d+)?(ms|s|m|h)\b/g, ' <dur>')
  );
}

/** A recorder of `mend` calls in `env`, masked for `who`: call `mend(...args)`, read `steps`. */
export function recorder(env: NodeJS.ProcessEnv, who: string): { steps: Step[]; mend: (...args: string[]) => Promise<Step> } {
  const steps: Step[] = [];
  return {
    steps,
    async mend(...args: string[]) {
      const res = await runCli(args, env);
      const step = { command: args.join(' '), code: res.code, stdout: masked(res.stdout, who), stderr: masked(res.stderr, who) };
      steps.push(step);
      return step;
    },
  };
}
