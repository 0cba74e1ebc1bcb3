/** What the fuzz counts while it runs: statuses per route and per token, and the findings with samples. */
import type { FuzzRequest, TokenClass } from './requests';

export interface Sample {
  method: string;
  path: string;
  token: TokenClass;
  defects: string[];
  status?: number;
  body?: string;
  response: string;
}

export interface RssSample {
  atMs: number;
  done: number;
  rssMiB: number;
}

/** The API's heap right after a full garbage collection (heap-probe.ts), with what V8 and the process had reserved at that moment. */
export interface HeapSample {
  atMs: number;
  done: number;
  heapMiB: number;
  heapTotalMiB: number;
  rssMiB: number;
  gcMs: number;
}

const MAX_SAMPLES = 10;
/** A V8 stack frame (`    at fn (/path/file.ts:12:3)`), or a path into the code. */
const STACK = /\n\s+at .+:\d+:\d+|at [\w$.<>]+ \([^)]*:\d+:\d+\)|\/node_modules\/|\.ts:\d+:\d+/;

export class Tally {
  done = 0;
  readonly statuses = new Map<number, number>();
  readonly perRoute = new Map<string, Map<number, number>>();
  readonly perToken = new Map<TokenClass, Map<number, number>>();
  clean = 0;
  acts = 0;
  fiveXx = 0;
  readonly fiveXxSamples: Sample[] = [];
  stacks = 0;
  readonly stackSamples: Sample[] = [];
  /** 4xx bodies that are not `{statusCode, error, message, requestId}` with the same status. */
  badErrorBodies = 0;
  readonly badErrorBodySamples: Sample[] = [];
  /** Requests with a certain defect that were answered 2xx. */
  acceptedBad = 0;
  readonly acceptedBadSamples: Sample[] = [];
  transportErrors = 0;
  readonly transportErrorSamples: Sample[] = [];
  readonly rss: RssSample[] = [];
  readonly heap: HeapSample[] = [];

  record(req: FuzzRequest, result: { status: number; body: string } | { error: string }): void {
    this.done++;
    if (req.clean) this.clean++;
    if (req.acts) this.acts++;
    const sample = (status: number | undefined, response: string): Sample => ({
      method: req.method,
      path: req.path.length > 200 ? `${req.path.slice(0, 200)}…` : req.path,
      token: req.token,
      defects: req.defects,
      status,
      body: req.body === undefined ? undefined : req.body.length > 200 ? `${req.body.slice(0, 200)}… (${req.body.length} chars)` : req.body,
      response: response.slice(0, 400),
    });
    const keep = (list: Sample[], s: () => Sample) => list.length < MAX_SAMPLES && list.push(s());
    if ('error' in result) {
      this.transportErrors++;
      keep(this.transportErrorSamples, () => sample(undefined, result.error));
      return;
    }
    const { status, body } = result;
    const count = (m: Map<number, number>) => m.set(status, (m.get(status) ?? 0) + 1);
    count(this.statuses);
    count(this.perRoute.get(req.route) ?? this.perRoute.set(req.route, new Map()).get(req.route)!);
    count(this.perToken.get(req.token) ?? this.perToken.set(req.token, new Map()).get(req.token)!);
    if (status >= 500) {
      this.fiveXx++;
      keep(this.fiveXxSamples, () => sample(status, body));
    }
    if (STACK.test(body)) {
      this.stacks++;
      keep(this.stackSamples, () => sample(status, body));
    }
    if (status >= 400 && req.method !== 'HEAD' && !errorBodyOk(body, status)) {
      this.badErrorBodies++;
      keep(this.badErrorBodySamples, () => sample(status, body));
    }
    if (status < 300 && !req.clean && req.route !== 'odd path') {
      this.acceptedBad++;
      keep(this.acceptedBadSamples, () => sample(status, body));
    }
  }
}

function errorBodyOk(body: string, status: number): boolean {
  try {
    const parsed = JSON.parse(body) as { statusCode?: unknown; message?: unknown; requestId?: unknown };
    return parsed.statusCode === status && typeof parsed.message === 'string' && typeof parsed.requestId === 'string';
  } catch {
    return false;
  }
}
