/** What a probe's HTTP exchange answers, and how it fails (both HTTP clients, http-get.ts and http1.ts). */
export interface ProbeAnswer {
  status: number;
  /** The body's start (up to 1 MB) when asked for, else ''. */
  body: string;
}

/** A probe's error: `code` as Node reports it (ECONNREFUSED ...), `name` TimeoutError when the deadline passed. */
export class ProbeRequestError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    override readonly name: string = 'ProbeRequestError',
  ) {
    super(message);
  }
}
