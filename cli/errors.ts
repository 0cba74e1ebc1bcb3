/** Exit codes scripts can rely on; the README lists them. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** `mend backlog` without a spool name when the config has no spools: the same words either way mend is reached. */
export const noSpoolsError = () => new CliError('no spools in the config (add a `spools:` section; see the README)', EXIT.usage);
